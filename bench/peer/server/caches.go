package main

import (
	"context"
	"fmt"
	"maps"
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

type cacheForServer = cachev3.Cache

// oneFleet gives every node the same snapshot: all load clients are one fleet, as in
// sharedlb, so one SetSnapshot serves them all.
type oneFleet struct{}

func (oneFleet) ID(*core.Node) string { return "edge" }

// snapshotPeer: SnapshotCache (ADS mode), versions per type so that a change of
// endpoints leaves LDS/CDS untouched — the most favourable use of it.
type snapshotPeer struct {
	c        cachev3.SnapshotCache
	current  map[string]map[string]resourceEntry
	versions map[string]int
}

func newSnapshotPeer(base map[string]map[string]resourceEntry) (*snapshotPeer, error) {
	p := &snapshotPeer{c: cachev3.NewSnapshotCache(true, oneFleet{}, nil), current: base, versions: map[string]int{}}
	return p, p.publish()
}

func (p *snapshotPeer) publish() error {
	snap := &cachev3.Snapshot{}
	for typeURL, byName := range p.current {
		idx := cachev3.GetResponseType(typeURL)
		if idx == types.UnknownType {
			return fmt.Errorf("unsupported type %s", typeURL)
		}
		items := slices.Collect(maps.Values(byName))
		snap.Resources[idx] = cachev3.NewResources(fmt.Sprintf("v%d", p.versions[typeURL]), items)
	}
	return p.c.SetSnapshot(context.Background(), "edge", snap)
}

func (p *snapshotPeer) apply(change map[string]map[string]resourceEntry) {
	for typeURL, byName := range change {
		next := maps.Clone(p.current[typeURL])
		maps.Copy(next, byName)
		p.current[typeURL] = next
		p.versions[typeURL]++
	}
	if err := p.publish(); err != nil {
		panic(err)
	}
}

func (p *snapshotPeer) cache() cacheForServer { return p.c }

// linearPeer: one LinearCache per type behind a MuxCache, updated in place.
type linearPeer struct {
	mux    *cachev3.MuxCache
	linear map[string]*cachev3.LinearCache
}

func newLinearPeer(base map[string]map[string]resourceEntry) (*linearPeer, error) {
	p := &linearPeer{
		mux: &cachev3.MuxCache{
			Classify:      func(r *cachev3.Request) string { return r.GetTypeUrl() },
			ClassifyDelta: func(r *cachev3.DeltaRequest) string { return r.GetTypeUrl() },
			Caches:        map[string]cachev3.Cache{},
		},
		linear: map[string]*cachev3.LinearCache{},
	}
	for _, typeURL := range []string{
		"type.googleapis.com/envoy.config.listener.v3.Listener",
		"type.googleapis.com/envoy.config.cluster.v3.Cluster",
		"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
		"type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
	} {
		c := cachev3.NewLinearCache(typeURL, cachev3.WithInitialResources(base[typeURL]))
		p.linear[typeURL] = c
		p.mux.Caches[typeURL] = c
	}
	return p, nil
}

func (p *linearPeer) apply(change map[string]map[string]resourceEntry) {
	for typeURL, byName := range change {
		if err := p.linear[typeURL].UpdateResources(byName, nil); err != nil {
			panic(err)
		}
	}
}

func (p *linearPeer) cache() cacheForServer { return p.mux }
