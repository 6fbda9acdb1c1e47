import { describe, expect, it } from "vitest";
import type { NodeResource } from "@sharedlb/contracts";
import { gatewayPlans } from "../test-support/gateway-plans.js";
import { selectNodes } from "./nodes.js";

const node = (name: string, internal: string, over: Partial<NodeResource> = {}): NodeResource => ({
  cluster: "a",
  name,
  addresses: { internal, external: "" },
  ready: true,
  excluded: false,
  ...over,
});

describe("selectNodes (the gateway's endpoint rules)", () => {
  const nodes = [
    node("w3", "10.0.0.3"),
    node("w1", "10.0.0.1"),
    node("down", "10.0.0.9", { ready: false }),
    node("edge", "10.0.0.8", { excluded: true }),
    node("ext", "", { addresses: { internal: "", external: "192.0.2.7" } }),
    node("none", "not-an-ip"),
    node("dup", "10.0.0.1"),
  ];

  it("Cluster policy: ready, not excluded, usable address, one per address (first name wins)", () => {
    const s = selectNodes({ externalTrafficPolicy: "Cluster" }, nodes, undefined);
    expect(s.serving).toEqual([
      { node: "dup", address: "10.0.0.1" },
      { node: "w3", address: "10.0.0.3" },
      { node: "ext", address: "192.0.2.7" },
    ]);
    expect(Object.fromEntries(s.notServing.map((n) => [n.node, n.why]))).toEqual({
      down: "not ready",
      w1: "same address 10.0.0.1 as dup",
      edge: expect.stringContaining("excluded"),
      none: "no usable IP address",
    });
  });

  it("Local policy: only nodes with a ready endpoint; none before any EndpointSlice", () => {
    const local = { externalTrafficPolicy: "Local" as const };
    expect(selectNodes(local, nodes, { cluster: "a", namespace: "n", name: "s", readyNodes: ["w3", "down"] }).serving).toEqual([
      { node: "w3", address: "10.0.0.3" },
    ]);
    const none = selectNodes(local, nodes, undefined);
    expect(none.serving).toEqual([]);
    expect(none.notServing.find((n) => n.node === "w3")?.why).toContain("no EndpointSlice seen yet");
  });
});

describe("selectNodes agrees with the gateway", () => {
  // explain re-implements the gateway's endpoint choice to say why a node is left out;
  // this pins the two together.
  const cases: [string, NodeResource[], "Cluster" | "Local", string[] | undefined][] = [
    [
      "mixed",
      [
        node("b", "10.0.0.2"),
        node("a", "10.0.0.2"),
        node("c", "10.0.0.3", { ready: false }),
        node("d", "", { addresses: { internal: "", external: "192.0.2.1" } }),
      ],
      "Cluster",
      undefined,
    ],
    ["local", [node("a", "10.0.0.1"), node("b", "10.0.0.2"), node("x", "10.0.0.9", { excluded: true })], "Local", ["b", "x"]],
    ["local-none", [node("a", "10.0.0.1")], "Local", undefined],
    ["local-duplicate-address", [node("a", "10.0.0.2"), node("b", "10.0.0.2")], "Local", ["b"]],
    ["bad-address", [node("a", "fe80::1"), node("b", "nope")], "Cluster", undefined],
  ];
  it.each(cases)("%s", (_, nodes, policy, readyNodes) => {
    const service = {
      cluster: "a",
      namespace: "n",
      name: "s",
      uid: "u",
      ports: [{ name: "", protocol: "TCP" as const, port: 80, nodePort: 30080 }],
      externalTrafficPolicy: policy,
      healthCheckNodePort: 0,
      loadBalancerClass: "sharedlb.io/envoy",
      annotations: {},
    };
    const allocation = {
      cluster: "a",
      namespace: "n",
      name: "s",
      uid: "u",
      state: "Allocated" as const,
      pool: "p",
      ip: "203.0.113.1",
      ports: [{ name: "", protocol: "TCP" as const, port: 80, externalPort: 80, nodePort: 30080 }],
      reason: "",
      message: "",
      resourceSequence: 1,
    };
    const endpoints = readyNodes ? { cluster: "a", namespace: "n", name: "s", readyNodes } : undefined;
    const gateway = gatewayPlans({ services: [service], allocations: [allocation], nodes, endpoints: endpoints ? [endpoints] : [] })[0];
    expect(selectNodes(service, nodes, endpoints).serving).toEqual(gateway?.endpoints);
  });
});
