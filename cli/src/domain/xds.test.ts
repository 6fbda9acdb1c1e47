import { describe, expect, it } from "vitest";
import type { Allocation, NodeResource, ServiceResource } from "@sharedlb/contracts";
import { CliError } from "./errors.js";
import { gatewayPlans } from "../test-support/gateway-plans.js";
import { fleetConfigFromPlans, fleetPools, renderFleetConfig, summarizeNode } from "./xds.js";
import { PLAIN_STYLE } from "./style.js";
import { serviceResource } from "@sharedlb/testing";

const svc = (name: string, over: Partial<ServiceResource> = {}): ServiceResource => serviceResource("a", "n", name, { uid: name, ...over });
const alloc = (name: string, over: Partial<Allocation> = {}): Allocation => ({
  cluster: "a",
  namespace: "n",
  name,
  uid: name,
  state: "Allocated",
  pool: "public",
  ip: "203.0.113.10",
  ports: [{ name: "http", protocol: "TCP", port: 80, externalPort: 80, nodePort: 30080 }],
  reason: "",
  message: "",
  resourceSequence: 1,
  ...over,
});
const node: NodeResource = { cluster: "a", name: "w1", addresses: { internal: "10.0.0.1", external: "" }, ready: true, excluded: false };

function state(services: ServiceResource[], allocations: Allocation[]) {
  return {
    services: new Map(services.map((s) => [`${s.cluster}/${s.namespace}/${s.name}`, s])),
    allocations: new Map(allocations.map((a) => [`${a.cluster}/${a.namespace}/${a.name}`, a])),
  };
}

/** Plans from the gateway's own code, as the CLI gets them. */
function plans(st: ReturnType<typeof state>) {
  return gatewayPlans({ services: [...st.services.values()], allocations: [...st.allocations.values()], nodes: [node] });
}

describe("fleetConfigFromPlans", () => {
  it("one listener per allocated slot of the fleet's pools, with the gateway's names", () => {
    const st = state(
      [
        svc("web"),
        svc("dns", {
          ports: [{ name: "", protocol: "UDP", port: 53, nodePort: 30053 }],
          annotations: { "sharedlb.io/proxy-protocol": "v2" },
        }),
        svc("rpc", { ports: [{ name: "", protocol: "TCP", port: 9000, nodePort: 30900, appProtocol: "grpc" }] }),
        svc("other"),
        svc("pp", {
          annotations: { "sharedlb.io/proxy-protocol": "v1" },
          ports: [{ name: "g", protocol: "TCP", port: 81, nodePort: 30081, appProtocol: "grpc" }],
        }),
        svc("nonp", { ports: [{ name: "", protocol: "TCP", port: 82, nodePort: 0 }] }),
      ],
      [
        alloc("web"),
        alloc("dns", { ip: "203.0.113.9", ports: [{ name: "", protocol: "UDP", port: 53, externalPort: 53, nodePort: 30053 }] }),
        alloc("rpc", { ports: [{ name: "", protocol: "TCP", port: 9000, externalPort: 9000, nodePort: 30900 }] }),
        alloc("other", { pool: "private" }),
        alloc("pp", { ports: [{ name: "g", protocol: "TCP", port: 81, externalPort: 81, nodePort: 30081 }] }),
        alloc("nonp", { ports: [{ name: "", protocol: "TCP", port: 82, externalPort: 82, nodePort: 0 }] }),
        alloc("wait", { state: "Pending", ip: "", ports: [] }),
      ],
    );
    const c = fleetConfigFromPlans("edge", ["public"], plans(st), st);
    expect(c.listeners.map((l) => [l.name, l.cluster, l.endpoints.join(","), l.proxyProtocol ?? ""])).toEqual([
      ["udp-203.0.113.9-53", "a/n/dns/udp-53", "10.0.0.1:30053", ""],
      ["tcp-203.0.113.10-80", "a/n/web/tcp-80", "10.0.0.1:30080", ""],
      ["tcp-203.0.113.10-81", "a/n/pp/tcp-81", "10.0.0.1:30081", "v1"],
      ["tcp-203.0.113.10-82", "a/n/nonp/tcp-82", "", ""],
      ["tcp-203.0.113.10-9000", "a/n/rpc/tcp-9000", "10.0.0.1:30900", ""],
      ["9000.rpc.n.a", "a/n/rpc/tcp-9000", "10.0.0.1:30900", ""],
    ]);
    // The gateway's warnings (PROXY on UDP, gRPC behind PROXY) are shown, not lost.
    expect(c.skipped.map((s) => s.service)).toEqual(["a/n/dns", "a/n/pp"]);
    const text = renderFleetConfig(c, PLAIN_STYLE);
    expect(text).toContain("xds:///9000.rpc.n.a");
    expect(text).toMatch(/tcp-203\.0\.113\.10-82\s+a\/n\/nonp:82\s+a\/n\/nonp\/tcp-82\s+\(none\)/);
  });

  it("lists allocations of a deleted or re-created Service as not served, saying why", () => {
    const st = state([svc("new", { uid: "u2" })], [alloc("gone"), alloc("new")]);
    const c = fleetConfigFromPlans("edge", ["public"], plans(st), st);
    expect(c.listeners).toEqual([]);
    expect(c.skipped.map((s) => [s.service, s.why.split(",")[0]])).toEqual([
      ["a/n/gone", "allocated"],
      ["a/n/new", "allocation is for uid new"],
    ]);
    expect(renderFleetConfig(c, PLAIN_STYLE)).toContain("No listeners");
  });
});

describe("fleetPools", () => {
  const file = { fleets: [{ name: "edge", pools: ["b", "a", "a"] }] };
  it("takes --pool over the file, and the file's pools otherwise", () => {
    expect(fleetPools("edge", file, ["x"])).toEqual(["x"]);
    expect(fleetPools("edge", file, [])).toEqual(["a", "b"]);
  });
  it("names what is missing", () => {
    expect(() => fleetPools("edge", undefined, [])).toThrow(/--fleet-config/);
    expect(() => fleetPools("core", file, [])).toThrow(CliError);
  });
});

describe("summarizeNode", () => {
  it("keeps the last event per type and the stream state", () => {
    const L = "type.googleapis.com/envoy.config.listener.v3.Listener";
    const base = { fleet: "edge", node: "n1", stream: "sotw" as const, replica: "g" };
    const n = summarizeNode("n1", [
      { time: "t1", data: { ...base, event: "connect" } },
      { time: "t2", data: { ...base, event: "nack", typeUrl: L, version: "2", errorDetail: { code: 3, message: "bad" } } },
      { time: "t3", data: { ...base, event: "ack", typeUrl: L, version: "3" } },
      { time: "t4", data: { ...base, event: "disconnect" } },
    ]);
    expect(n).toEqual({
      node: "n1",
      lastEvent: "disconnect",
      lastTime: "t4",
      lastByType: [
        { typeUrl: "stream", event: "disconnect", version: "", time: "t4" },
        { typeUrl: L, event: "ack", version: "3", time: "t3" },
      ],
    });
  });
});
