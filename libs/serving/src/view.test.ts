import { allocation, node, nodeMsg, service, serviceMsg, tombstoneMsg } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { NodeAddressPolicy } from "./address-policy.js";
import { type NodeRefusalChange, type StaleIncarnation, TenantView } from "./view.js";

const KEY = "a/shop/web";

function servedView(observer = {}) {
  const view = new TenantView({ observer });
  const svc = service("a", "shop", "web", { uid: "second" });
  view.applyResource(nodeMsg(node("a", "w1", "10.0.0.1")));
  view.applyResource(serviceMsg(svc));
  view.applyAllocation(allocation(svc, "203.0.113.10"));
  view.takeDirty();
  return view;
}

describe("TenantView incarnation fence", () => {
  it("ignores a tombstone naming an earlier uid: the live Service keeps being planned, and the owner is told", () => {
    const stale: StaleIncarnation[] = [];
    const view = servedView({ staleIncarnation: (e: StaleIncarnation) => stale.push(e) });
    view.applyResource(tombstoneMsg("service", "a", "shop", "web", "first"));
    expect(view.plan(KEY)?.ip).toBe("203.0.113.10");
    expect(view.takeDirty().full.size).toBe(0);
    expect(stale).toEqual([{ service: KEY, deletedUid: "first", heldUid: "second" }]);
  });

  it("applies a tombstone naming the held uid", () => {
    const view = servedView();
    view.applyResource(tombstoneMsg("service", "a", "shop", "web", "second"));
    expect(view.plan(KEY)).toBeUndefined();
    expect([...view.takeDirty().full]).toEqual([KEY]);
  });

  it("applies a tombstone without a uid (an older watcher) as before", () => {
    const view = servedView();
    view.applyResource(tombstoneMsg("service", "a", "shop", "web", ""));
    expect(view.plan(KEY)).toBeUndefined();
  });
});

describe("TenantView node address policy", () => {
  it("never plans a refused node, tells the owner once per change, and counts refused nodes by reason", () => {
    const changes: NodeRefusalChange[] = [];
    const view = new TenantView({
      addressPolicy: NodeAddressPolicy.fromConfig({ allowedCidrs: { a: ["10.0.0.0/8"] } }),
      observer: { nodeRefusalChanged: (c: NodeRefusalChange) => changes.push(c) },
    });
    const svc = service("a", "shop", "web");
    view.applyResource(serviceMsg(svc));
    view.applyAllocation(allocation(svc, "203.0.113.10"));
    view.applyResource(nodeMsg(node("a", "good", "10.0.0.1")));
    view.applyResource(nodeMsg(node("a", "self", "127.0.0.1")));
    view.applyResource(nodeMsg(node("a", "meta", "169.254.169.254")));
    view.applyResource(nodeMsg(node("a", "any", "0.0.0.0")));
    view.applyResource(nodeMsg(node("a", "far", "192.0.2.1")));
    // Watchers republish nodes periodically: no second report.
    view.applyResource(nodeMsg(node("a", "self", "127.0.0.1")));

    expect(view.plan(KEY)?.endpoints).toEqual([{ node: "good", address: "10.0.0.1" }]);
    expect(changes.map((c) => [c.node, c.refusal?.reason])).toEqual([
      ["self", "Loopback"],
      ["meta", "LinkLocal"],
      ["any", "Unspecified"],
      ["far", "NotAllowed"],
    ]);
    expect(Object.fromEntries(view.refusedNodeCounts())).toEqual({ Loopback: 1, LinkLocal: 1, Unspecified: 1, NotAllowed: 1 });
    expect(view.nodeSelection(KEY)?.notServing.map((n) => [n.node, n.reason])).toEqual([
      ["any", "AddressRefused"],
      ["far", "AddressRefused"],
      ["meta", "AddressRefused"],
      ["self", "AddressRefused"],
    ]);

    view.applyResource(nodeMsg(node("a", "far", "10.9.9.9")));
    view.applyResource(tombstoneMsg("node", "a", "", "self"));
    expect(changes.slice(4)).toEqual([
      { cluster: "a", node: "far", address: "10.9.9.9", refusal: undefined, deleted: false },
      { cluster: "a", node: "self", address: "", refusal: undefined, deleted: true },
    ]);
    expect(view.plan(KEY)?.endpoints.map((e) => e.node)).toEqual(["good", "far"]);
    expect(Object.fromEntries(view.refusedNodeCounts())).toEqual({ LinkLocal: 1, Unspecified: 1 });
  });
});
