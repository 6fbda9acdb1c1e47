import type { NodeResource } from "@sharedlb/contracts";
import { endpoints, node } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { NodeAddressPolicy } from "./address-policy.js";
import { classifyNodes, selectNodes } from "./node-selection.js";

const nodes: NodeResource[] = [
  node("a", "w3", "10.0.0.3"),
  node("a", "w1", "10.0.0.1"),
  node("a", "down", "10.0.0.9", { ready: false }),
  node("a", "edge", "10.0.0.8", { excluded: true }),
  node("a", "ext", "", { addresses: { internal: "", external: "192.0.2.7" } }),
  node("a", "none", "not-an-ip"),
  node("a", "dup", "10.0.0.1"),
  node("a", "self", "127.0.0.1"),
  node("a", "meta", "169.254.169.254", { ready: false }),
];
const why = (list: readonly { node: string; reason: string }[]) => Object.fromEntries(list.map((n) => [n.node, n.reason]));

describe("classifyNodes", () => {
  it("serves ready, not excluded nodes with a usable, allowed address, one per address (first name wins), and says why not for the others", () => {
    const c = classifyNodes(nodes);
    expect(c.ready).toEqual([
      { node: "dup", address: "10.0.0.1" },
      { node: "w3", address: "10.0.0.3" },
      { node: "ext", address: "192.0.2.7" },
    ]);
    expect(why(c.unserved)).toEqual({
      down: "NotReady",
      edge: "Excluded",
      none: "NoAddress",
      w1: "DuplicateAddress",
      self: "AddressRefused",
      meta: "AddressRefused",
    });
    expect(c.unserved.find((n) => n.node === "self")).toMatchObject({ refusal: "Loopback", message: expect.stringContaining("127.0.0.1") });
    expect(c.unserved.find((n) => n.node === "w1")?.message).toBe("same address 10.0.0.1 as dup");
  });

  it("applies the operator's policy per tenant cluster", () => {
    const policy = NodeAddressPolicy.fromConfig({ allowedCidrs: { a: ["10.0.0.0/30"] } });
    const c = classifyNodes(nodes, policy);
    expect(c.ready.map((e) => e.node)).toEqual(["dup", "w3"]);
    expect(c.unserved.find((n) => n.node === "ext")).toMatchObject({ reason: "AddressRefused", refusal: "NotAllowed" });
  });
});

describe("selectNodes", () => {
  const local = { externalTrafficPolicy: "Local" as const };

  it("Cluster policy: every classified node", () => {
    const c = classifyNodes(nodes);
    expect(selectNodes({ externalTrafficPolicy: "Cluster" }, c, undefined)).toEqual({ serving: c.ready, notServing: c.unserved });
  });

  it("Local policy: only nodes with a ready endpoint, the others NoLocalEndpoints", () => {
    const s = selectNodes(local, classifyNodes(nodes), endpoints("a", "n", "s", ["w3", "down"]));
    expect(s.serving).toEqual([{ node: "w3", address: "10.0.0.3" }]);
    expect(why(s.notServing)).toMatchObject({ dup: "NoLocalEndpoints", ext: "NoLocalEndpoints", down: "NotReady" });
    expect(s.notServing.map((n) => n.node)).toEqual([...s.notServing.map((n) => n.node)].sort());
  });

  it("Local policy before any EndpointSlice: no node, and says so", () => {
    const s = selectNodes(local, classifyNodes(nodes), undefined);
    expect(s.serving).toEqual([]);
    expect(s.notServing.find((n) => n.node === "w3")?.message).toContain("no EndpointSlice seen yet");
  });
});
