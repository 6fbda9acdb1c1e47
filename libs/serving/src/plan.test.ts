import { describe, expect, it } from "vitest";
import { allocation, endpoints, node, service } from "@sharedlb/testing/resources";
import { readyEndpoints, selectEndpoints } from "./node-selection.js";
import { planService } from "./plan.js";

const nodes = (...list: ReturnType<typeof node>[]) => readyEndpoints(list);
const key = "a/shop/web";

describe("planService", () => {
  const svc = service("a", "shop", "web", {
    ports: [
      { name: "https", protocol: "TCP", port: 443, nodePort: 31443 },
      { name: "dns", protocol: "UDP", port: 53, nodePort: 31053 },
    ],
  });

  it("serves nothing unless the allocation is Allocated for this very Service", () => {
    const n = nodes(node("a", "w1", "10.0.0.1"));
    const base = { key, service: svc, ready: n, endpoints: undefined };
    expect(planService({ ...base, allocation: undefined })).toBeUndefined();
    expect(planService({ ...base, service: undefined, allocation: allocation(svc, "203.0.113.10") })).toBeUndefined();
    for (const state of ["Pending", "Failed", "Released"] as const) {
      expect(planService({ ...base, allocation: allocation(svc, "", { state, ports: [] }) })).toBeUndefined();
    }
    // An allocation made for an earlier incarnation (delete and re-create) is not used.
    expect(planService({ ...base, allocation: allocation(svc, "203.0.113.10", { uid: "old" }) })).toBeUndefined();
    expect(planService({ ...base, allocation: allocation(svc, "203.0.113.10") })).toBeDefined();
  });

  it("names listeners by IP/protocol/external port and clusters by Service/protocol/port", () => {
    const plan = planService({
      key,
      service: svc,
      allocation: allocation(svc, "203.0.113.10", {}, { 443: 10443 }),
      ready: [],
      endpoints: undefined,
    });
    expect(plan?.ports.map((p) => [p.listenerName, p.clusterName, p.externalPort, p.nodePort])).toEqual([
      ["tcp-203.0.113.10-10443", "a/shop/web/tcp-443", 10443, 31443],
      ["udp-203.0.113.10-53", "a/shop/web/udp-53", 53, 31053],
    ]);
    expect(plan?.pool).toBe("public");
  });

  it("applies sharedlb.io/proxy-protocol to TCP ports only, and ignores bad values with a warning", () => {
    const pp = { ...svc, annotations: { "sharedlb.io/proxy-protocol": "v2" } };
    const plan = planService({ key, service: pp, allocation: allocation(pp, "203.0.113.10"), ready: [], endpoints: undefined });
    expect(plan?.ports.map((p) => p.proxyProtocol)).toEqual(["v2", undefined]);
    expect(plan?.warnings.join()).toMatch(/UDP/);
    const bad = { ...svc, annotations: { "sharedlb.io/proxy-protocol": "v3" } };
    const badPlan = planService({ key, service: bad, allocation: allocation(bad, "203.0.113.10"), ready: [], endpoints: undefined });
    expect(badPlan?.ports.every((p) => p.proxyProtocol === undefined)).toBe(true);
    expect(badPlan?.warnings.join()).toMatch(/"v3" is not v1 or v2/);
  });

  it("gives gRPC ports an xds target named <port name or number>.<name>.<namespace>.<cluster>", () => {
    const g = service("a", "shop", "greeter", {
      ports: [
        { name: "grpc", protocol: "TCP", port: 50051, nodePort: 30051, appProtocol: "grpc" },
        { name: "", protocol: "TCP", port: 9000, nodePort: 30900, appProtocol: "kubernetes.io/h2c" },
        { name: "web", protocol: "TCP", port: 80, nodePort: 30080 },
      ],
    });
    const plan = planService({
      key: "a/shop/greeter",
      service: g,
      allocation: allocation(g, "203.0.113.10"),
      ready: [],
      endpoints: undefined,
    });
    expect(plan?.ports.map((p) => p.grpcTarget)).toEqual(["grpc.greeter.shop.a", "9000.greeter.shop.a", undefined]);
    // A backend that expects a PROXY header cannot be reached by a proxyless client.
    const pp = { ...g, annotations: { "sharedlb.io/proxy-protocol": "v1" } };
    const ppPlan = planService({
      key: "a/shop/greeter",
      service: pp,
      allocation: allocation(pp, "203.0.113.10"),
      ready: [],
      endpoints: undefined,
    });
    expect(ppPlan?.ports.every((p) => p.grpcTarget === undefined)).toBe(true);
  });

  it("skips SCTP ports (Envoy cannot proxy them) with a warning", () => {
    const s = service("a", "shop", "sig", { ports: [{ name: "s", protocol: "SCTP", port: 3868, nodePort: 31868 }] });
    const plan = planService({ key, service: s, allocation: allocation(s, "203.0.113.10"), ready: [], endpoints: undefined });
    expect(plan?.ports).toEqual([]);
    expect(plan?.warnings.join()).toMatch(/SCTP/);
  });
});

describe("readyEndpoints and selectEndpoints", () => {
  const all = nodes(
    node("a", "w3", "10.0.0.3"),
    node("a", "w1", "10.0.0.1"),
    node("a", "down", "10.0.0.9", { ready: false }),
    node("a", "excl", "10.0.0.8", { excluded: true }),
    node("a", "noip", ""),
    node("a", "ext-only", "", { addresses: { internal: "", external: "198.51.100.7" } }),
    node("a", "w2", "10.0.0.2"),
  );

  it("takes ready, non-excluded nodes with an IP, sorted", () => {
    expect(selectEndpoints(service("a", "shop", "web"), all, undefined).map((e) => e.node)).toEqual(["w1", "w2", "w3", "ext-only"]);
  });

  it("for Local Services takes only nodes with ready endpoints (none without an EndpointSlice)", () => {
    const local = service("a", "shop", "web", { externalTrafficPolicy: "Local", healthCheckNodePort: 32000 });
    expect(selectEndpoints(local, all, endpoints("a", "shop", "web", ["w2", "down", "gone"])).map((e) => e.address)).toEqual(["10.0.0.2"]);
    expect(selectEndpoints(local, all, undefined)).toEqual([]);
  });

  it("keeps one endpoint per address", () => {
    expect(nodes(node("a", "b", "10.0.0.1"), node("a", "a", "10.0.0.1"))).toEqual([{ node: "a", address: "10.0.0.1" }]);
  });
});
