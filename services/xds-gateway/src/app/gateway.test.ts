import { CLUSTER_TYPE, ENDPOINT_TYPE, envoy, LISTENER_TYPE, RESOURCE_TYPES, ROUTE_TYPE } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import type { NameConflict } from "../domain/resource-store.js";
import { Gateway } from "./gateway.js";
import {
  allocation,
  allocationData,
  endpoints,
  endpointsMsg,
  node,
  nodeMsg,
  service,
  serviceMsg,
  tombstoneMsg,
} from "@sharedlb/testing/resources";

const FLEETS = [
  { name: "edge", pools: new Set(["public"]) },
  { name: "internal", pools: new Set(["private"]) },
];

function names(g: Gateway, fleet: string, typeUrl: (typeof RESOURCE_TYPES)[number]): string[] {
  const f = g.fleet(fleet);
  if (!f) throw new Error("no fleet");
  return RESOURCE_TYPES.includes(typeUrl) ? [...f.table(typeUrl).wildcardEntries()].map((e) => e.name).sort() : [];
}

const generations = (g: Gateway) => Object.fromEntries(RESOURCE_TYPES.map((t) => [t, g.fleet("edge")?.table(t).generation]));

function populated(): Gateway {
  const g = new Gateway(FLEETS);
  const web = service("a", "shop", "web");
  g.applyResource(serviceMsg(web));
  g.applyResource(nodeMsg(node("a", "w1", "10.0.0.1")));
  g.applyResource(nodeMsg(node("a", "w2", "10.0.0.2")));
  g.applyAllocation(allocationData(allocation(web, "203.0.113.10")));
  g.goLive();
  return g;
}

describe("Gateway", () => {
  it("builds nothing until live, then the fleet's resources", () => {
    const g = new Gateway(FLEETS);
    const web = service("a", "shop", "web");
    g.applyResource(serviceMsg(web));
    g.applyAllocation(allocationData(allocation(web, "203.0.113.10")));
    expect(g.resourceCount).toBe(0);
    g.goLive();
    expect(names(g, "edge", LISTENER_TYPE)).toEqual(["tcp-203.0.113.10-80"]);
    expect(names(g, "edge", CLUSTER_TYPE)).toEqual(["a/shop/web/tcp-80"]);
    expect(names(g, "edge", ENDPOINT_TYPE)).toEqual(["a/shop/web/tcp-80"]);
    expect(names(g, "internal", LISTENER_TYPE)).toEqual([]);
  });

  it("a node going NotReady changes only endpoints", () => {
    const g = populated();
    const before = generations(g);
    g.applyResource(nodeMsg(node("a", "w2", "10.0.0.2", { ready: false })));
    g.rebuild();
    const after = generations(g);
    expect(after[ENDPOINT_TYPE]).toBe((before[ENDPOINT_TYPE] ?? 0) + 1);
    for (const t of [LISTENER_TYPE, CLUSTER_TYPE, ROUTE_TYPE]) expect(after[t]).toBe(before[t]);
    const cla = g.fleet("edge")?.table(ENDPOINT_TYPE).get("a/shop/web/tcp-80");
    const decoded = envoy.config.endpoint.v3.ClusterLoadAssignment.decode(
      envoy.service.discovery.v3.Resource.decode(cla?.deltaResource() ?? new Uint8Array()).resource?.value ?? new Uint8Array(),
    );
    expect(decoded.endpoints[0]?.lbEndpoints?.map((e) => e.endpoint?.address?.socketAddress?.address)).toEqual(["10.0.0.1"]);
  });

  it("republishing an unchanged node does not rebuild anything", () => {
    const g = populated();
    const before = generations(g);
    g.applyResource(nodeMsg(node("a", "w1", "10.0.0.1")));
    expect(g.rebuild().endpointsOnly).toBe(0);
    expect(generations(g)).toEqual(before);
  });

  it("Released allocation or tombstone removes the Service's resources", () => {
    const g = populated();
    g.applyAllocation(allocationData(allocation(service("a", "shop", "web"), "", { state: "Released", ports: [] })));
    g.rebuild();
    for (const t of RESOURCE_TYPES) expect(names(g, "edge", t)).toEqual([]);
    const g2 = populated();
    g2.applyResource(tombstoneMsg("service", "a", "shop", "web", "uid-a-shop-web"));
    g2.rebuild();
    for (const t of RESOURCE_TYPES) expect(names(g2, "edge", t)).toEqual([]);
  });

  it("a Service moving to another pool moves to that pool's fleet", () => {
    const g = populated();
    g.applyAllocation(allocationData(allocation(service("a", "shop", "web"), "10.9.0.1", { pool: "private" })));
    g.rebuild();
    expect(names(g, "edge", LISTENER_TYPE)).toEqual([]);
    expect(names(g, "internal", LISTENER_TYPE)).toEqual(["tcp-10.9.0.1-80"]);
  });

  it("Local Services follow their EndpointSlices", () => {
    const g = populated();
    const local = service("a", "shop", "web", { externalTrafficPolicy: "Local", healthCheckNodePort: 32000 });
    g.applyResource(serviceMsg(local));
    g.applyResource(endpointsMsg(endpoints("a", "shop", "web", ["w2"])));
    g.rebuild();
    const eps = () => {
      const e = g.fleet("edge")?.table(ENDPOINT_TYPE).get("a/shop/web/tcp-80");
      const res = envoy.service.discovery.v3.Resource.decode(e?.deltaResource() ?? new Uint8Array());
      return envoy.config.endpoint.v3.ClusterLoadAssignment.decode(res.resource?.value ?? new Uint8Array()).endpoints[0]?.lbEndpoints?.map(
        (l) => l.endpoint?.address?.socketAddress?.address,
      );
    };
    expect(eps()).toEqual(["10.0.0.2"]);
    g.applyResource(endpointsMsg(endpoints("a", "shop", "web", ["w1", "w2"])));
    g.rebuild();
    expect(eps()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("replicas that saw different histories of the same final state serve the same versions", () => {
    const svcs = Array.from({ length: 20 }, (_, i) =>
      service("a", "ns", `s${i}`, { ports: [{ name: "p", protocol: "TCP", port: 1000 + i, nodePort: 30000 + i }] }),
    );
    const nodes = Array.from({ length: 5 }, (_, i) => node("a", `n${i}`, `10.0.0.${i + 1}`));
    const live = new Gateway(FLEETS);
    live.goLive();
    // Live: things arrive one by one, with intermediate states.
    for (const n of nodes) live.applyResource(nodeMsg({ ...n, ready: false }));
    live.rebuild();
    for (const s of svcs) {
      live.applyResource(serviceMsg(s));
      live.applyAllocation(allocationData(allocation(s, "203.0.113.10", { state: "Pending", ip: "", ports: [], reason: "PoolExhausted" })));
      live.rebuild();
      live.applyAllocation(allocationData(allocation(s, "203.0.113.10")));
      live.rebuild();
    }
    for (const n of nodes) {
      live.applyResource(nodeMsg(n));
      live.rebuild();
    }
    // Replay: only the last values, in another order.
    const replayed = new Gateway(FLEETS);
    for (const s of [...svcs].reverse()) replayed.applyAllocation(allocationData(allocation(s, "203.0.113.10")));
    for (const n of nodes) replayed.applyResource(nodeMsg(n));
    for (const s of svcs) replayed.applyResource(serviceMsg(s));
    replayed.goLive();
    for (const t of RESOURCE_TYPES) {
      expect(replayed.fleet("edge")?.table(t).wildcardVersion(), t).toBe(live.fleet("edge")?.table(t).wildcardVersion());
    }
  });

  it("two Services building one listener name: the lower key wins, deterministically", () => {
    const conflicts: NameConflict[] = [];
    const g = new Gateway(FLEETS, { onConflict: (c) => conflicts.push(c) });
    const x = service("a", "ns", "x");
    const y = service("a", "ns", "y");
    g.goLive();
    g.applyResource(serviceMsg(y));
    g.applyAllocation(allocationData(allocation(y, "203.0.113.10")));
    g.rebuild();
    g.applyResource(serviceMsg(x));
    g.applyAllocation(allocationData(allocation(x, "203.0.113.10")));
    g.rebuild();
    expect(g.fleet("edge")?.table(LISTENER_TYPE).get("tcp-203.0.113.10-80")?.owner).toBe("a/ns/x");
    expect(conflicts.map((c) => c.winner)).toEqual(["a/ns/x"]);
    // Clusters are per Service: both stay.
    expect(names(g, "edge", CLUSTER_TYPE)).toEqual(["a/ns/x/tcp-80", "a/ns/y/tcp-80"]);
  });
});
