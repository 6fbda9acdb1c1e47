import { describe, expect, it } from "vitest";
import type { Allocation, ServiceResource } from "@sharedlb/contracts";
import { classifyNodes, selectNodes } from "@sharedlb/serving";
import { CliError } from "./errors.js";
import { type ExplainInput, explainService as explainWith, type NodeSelector, renderExplanation } from "./explain.js";
import { PLAIN_STYLE } from "./style.js";

const ref = { cluster: "a", namespace: "shop", name: "web" };
const svc: ServiceResource = {
  cluster: "a",
  namespace: "shop",
  name: "web",
  uid: "u1",
  ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }],
  externalTrafficPolicy: "Cluster",
  healthCheckNodePort: 0,
  loadBalancerClass: "sharedlb.io/envoy",
  annotations: {},
};
const allocated: Allocation = {
  cluster: "a",
  namespace: "shop",
  name: "web",
  uid: "u1",
  state: "Allocated",
  pool: "public",
  ip: "203.0.113.10",
  ports: [{ name: "https", protocol: "TCP", port: 443, externalPort: 443, nodePort: 31443 }],
  reason: "",
  message: "",
  resourceSequence: 5,
};
const t = "2026-11-22T01:00:00.000Z";
// The gateway's own node selection with the built-in address rules, as `sharedlb explain` runs it.
const gatewaySelection: NodeSelector = (service, nodes, endpoints) => selectNodes(service, classifyNodes(nodes), endpoints);
const explainService = (input: ExplainInput) => explainWith(input, gatewaySelection);
const nodes = [{ cluster: "a", name: "w1", addresses: { internal: "10.0.0.1", external: "" }, ready: true, excluded: false }];

describe("explainService", () => {
  it("throws UnknownService when NATS has neither a resource nor an allocation", () => {
    expect(() => explainService({ ref, nodes: [] })).toThrow(CliError);
    try {
      explainService({ ref, nodes: [] });
    } catch (err) {
      expect((err as CliError).reason).toBe("UnknownService");
      expect((err as CliError).exitCode).toBe(1);
    }
  });

  it("Allocated: slots with listener names and serving nodes", () => {
    const e = explainService({ ref, service: { seq: 5, time: t, data: svc }, allocation: { seq: 9, time: t, data: allocated }, nodes });
    expect(e).toMatchObject({ state: "Allocated", ip: "203.0.113.10", notes: [] });
    expect(e.ports[0]?.listener).toBe("tcp-203.0.113.10-443");
    expect(e.nodes.serving).toEqual([{ node: "w1", address: "10.0.0.1" }]);
    const text = renderExplanation(e, PLAIN_STYLE);
    expect(text).toContain("https 443/TCP → 203.0.113.10:443  nodePort 31443  listener tcp-203.0.113.10-443");
    expect(text).toContain("Reported:  no status-reporter event yet");
  });

  it("Allocated dual-stack: both addresses, a listener on each, and a PreferDualStack note", () => {
    const dual = { ...allocated, ips: ["203.0.113.10", "2001:db8::10"] };
    const e = explainService({ ref, service: { seq: 5, time: t, data: svc }, allocation: { seq: 9, time: t, data: dual }, nodes });
    expect(e).toMatchObject({ ip: "203.0.113.10", ips: ["203.0.113.10", "2001:db8::10"], summary: "Allocated on 203.0.113.10 and 2001:db8::10 in pool public." });
    expect(e.ports[0]?.listeners).toEqual(["tcp-203.0.113.10-443", "tcp-2001:db8::10-443"]);
    const text = renderExplanation(e, PLAIN_STYLE);
    expect(text).toContain("IPs:       203.0.113.10, 2001:db8::10");
    expect(text).toContain("https 443/TCP → [2001:db8::10]:443  nodePort 31443  listener tcp-2001:db8::10-443");
    const note = "PreferDualStack: no IPv6 pool serves this Service; served on IPv4 only";
    const prefer = explainService({ ref, service: { seq: 5, time: t, data: svc }, allocation: { seq: 9, time: t, data: { ...allocated, message: note } }, nodes });
    expect(prefer.notes).toEqual([note]);
    expect(prefer.ips).toBeUndefined();
  });

  it("notes an allocator that lags behind the resource, and an allocation with no node to serve it", () => {
    const e = explainService({ ref, service: { seq: 8, time: t, data: svc }, allocation: { seq: 9, time: t, data: allocated }, nodes: [] });
    expect(e.notes.join("\n")).toContain("has not applied the latest resource event yet (resource event #8, allocation made from #5)");
    expect(e.notes.join("\n")).toContain('no node of cluster "a" has been published');
  });

  it("notes a uid mismatch after delete and re-create", () => {
    const e = explainService({
      ref,
      service: { seq: 5, time: t, data: { ...svc, uid: "u2" } },
      allocation: { seq: 9, time: t, data: allocated },
      nodes,
    });
    expect(e.notes.join("\n")).toContain("uid u1 but the Service now has uid u2");
  });

  it("Unallocated when only the resource exists; Released after a tombstone", () => {
    expect(explainService({ ref, service: { seq: 5, time: t, data: svc }, nodes }).state).toBe("Unallocated");
    const tomb = { cluster: "a", kind: "service" as const, namespace: "shop", name: "web", uid: "u1" };
    const released = explainService({
      ref,
      service: { seq: 10, time: t, data: tomb },
      allocation: { seq: 11, time: t, data: { ...allocated, state: "Released", ip: "", ports: [], resourceSequence: 10 } },
      nodes,
    });
    expect(released).toMatchObject({ state: "Released", resource: { deleted: true }, notes: [] });
    expect(explainService({ ref, service: { seq: 10, time: t, data: tomb }, nodes }).state).toBe("Deleted");
  });

  it("Failed: reason and message", () => {
    const failed = {
      ...allocated,
      state: "Failed" as const,
      ip: "",
      ports: [],
      pool: "",
      reason: "UnknownPool",
      message: 'no pool is named "x"',
    };
    const e = explainService({ ref, service: { seq: 5, time: t, data: svc }, allocation: { seq: 9, time: t, data: failed }, nodes });
    expect(e.summary).toBe('Failed: UnknownPool — no pool is named "x". Fix the Service; it is not retried until it changes.');
    expect(renderExplanation(e, PLAIN_STYLE)).toMatch(/Reason:\s+UnknownPool/);
  });

  it("says why each other node does not serve, with the stable reason, address refusals included", () => {
    const cluster = [
      ...nodes,
      { cluster: "a", name: "self", addresses: { internal: "127.0.0.1", external: "" }, ready: true, excluded: false },
      { cluster: "a", name: "meta", addresses: { internal: "169.254.169.254", external: "" }, ready: true, excluded: false },
      { cluster: "a", name: "down", addresses: { internal: "10.0.0.9", external: "" }, ready: false, excluded: false },
    ];
    const e = explainService({
      ref,
      service: { seq: 5, time: t, data: svc },
      allocation: { seq: 9, time: t, data: allocated },
      nodes: cluster,
    });
    expect(e.nodes.serving).toEqual([{ node: "w1", address: "10.0.0.1" }]);
    expect(e.nodes.notServing.map((n) => [n.node, n.reason])).toEqual([
      ["down", "NotReady"],
      ["meta", "AddressRefused"],
      ["self", "AddressRefused"],
    ]);
    const text = renderExplanation(e, PLAIN_STYLE);
    expect(text).toContain("✗ self: address 127.0.0.1 is loopback (127.0.0.0/8) (AddressRefused)");
    expect(text).toContain("✗ meta: address 169.254.169.254 is link-local");
    expect(text).toContain("Nodes:     1 of 4 serve it");
  });
});
