// Command peer-server serves captured sharedlb resources from go-control-plane's caches,
// so bench/peer can drive it with the same load client as sharedlb's gateway.
//
//	peer-server -cache snapshot|linear -capture DIR [-addr 127.0.0.1:0]
//
// DIR holds base.bin (every resource sharedlb served) and change-<k>.bin (the resources
// the k-th change replaced), each a stream of 4-byte big-endian lengths followed by a
// serialized google.protobuf.Any (see capture.mjs). stdout carries one JSON line per
// event: {"ready":true,"port":N,...} once serving, then {"applied":k,"t0":ms} for each
// "apply k" line read on stdin, t0 being the wall clock (Unix ms) just before the cache
// was updated. Exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// peer is one way of holding the resources in go-control-plane.
type peer interface {
	apply(change map[string]map[string]resourceEntry)
	cache() cacheForServer
}

func main() {
	mode := flag.String("cache", "linear", "snapshot (SnapshotCache, one snapshot for all nodes) or linear (a LinearCache per type, muxed)")
	dir := flag.String("capture", "", "directory with base.bin and change-<k>.bin")
	addr := flag.String("addr", "127.0.0.1:0", "ADS listen address")
	flag.Parse()

	base, err := readCapture(*dir + "/base.bin")
	if err != nil {
		log.Fatalf("peer-server: %v", err)
	}
	var p peer
	switch *mode {
	case "snapshot":
		p, err = newSnapshotPeer(base)
	case "linear":
		p, err = newLinearPeer(base)
	default:
		err = fmt.Errorf("unknown -cache %q (snapshot or linear)", *mode)
	}
	if err != nil {
		log.Fatalf("peer-server: %v", err)
	}

	ctx := context.Background()
	srv := serverv3.NewServer(ctx, p.cache(), nil)
	g := grpc.NewServer(
		grpc.MaxConcurrentStreams(100000),
		grpc.MaxSendMsgSize(1<<30),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second}),
	)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, srv)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("peer-server: %v", err)
	}
	go func() {
		if err := g.Serve(lis); err != nil {
			log.Fatalf("peer-server: %v", err)
		}
	}()
	out := json.NewEncoder(os.Stdout)
	counts := map[string]int{}
	for t, m := range base {
		counts[t] = len(m)
	}
	_ = out.Encode(map[string]any{"ready": true, "port": lis.Addr().(*net.TCPAddr).Port, "resources": counts})

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		k, ok := strings.CutPrefix(strings.TrimSpace(in.Text()), "apply ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(k)
		if err != nil {
			log.Fatalf("peer-server: bad command %q", in.Text())
		}
		change, err := readCapture(fmt.Sprintf("%s/change-%d.bin", *dir, n))
		if err != nil {
			log.Fatalf("peer-server: %v", err)
		}
		t0 := float64(time.Now().UnixNano()) / 1e6
		p.apply(change)
		_ = out.Encode(map[string]any{"applied": n, "t0": t0})
	}
	g.Stop()
}
