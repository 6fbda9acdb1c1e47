package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// The types the captured Anys hold, and the extensions nested in them.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/proxy_protocol/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
)

type resourceEntry = types.Resource

// readCapture returns type URL → name → resource.
func readCapture(path string) (map[string]map[string]resourceEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	out := map[string]map[string]resourceEntry{}
	var head [4]byte
	for i := 0; ; i++ {
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i, err)
		}
		buf := make([]byte, binary.BigEndian.Uint32(head[:]))
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i, err)
		}
		var a anypb.Any
		if err := proto.Unmarshal(buf, &a); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i, err)
		}
		msg, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("%s: record %d (%s): %w", path, i, a.GetTypeUrl(), err)
		}
		if out[a.GetTypeUrl()] == nil {
			out[a.GetTypeUrl()] = map[string]resourceEntry{}
		}
		out[a.GetTypeUrl()][cachev3.GetResourceName(msg)] = msg
	}
}
