// TenantView's L7 half: which slots each change makes dirty, and what a slot serves.
import { node, nodeMsg } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { gatewayMsg, l7TombstoneMsg, routeMsg, secretMsg } from "../test-support/l7-messages.js";
import {
  backend,
  gateway,
  httpListener,
  httpRoute,
  IP,
  l7Allocation,
  listenerAllocation,
  rule,
  tlsSecret,
} from "../test-support/l7-resources.js";
import { TenantView } from "../view.js";

const SLOT80 = `public/${IP}/80`;

/** Tenant a: Gateway shop/web on :80 for shop.example.com with one route; tenant b: a Gateway on the same slot. */
function twoTenants(): TenantView {
  const view = new TenantView();
  view.applyResource(nodeMsg(node("a", "w1", "10.0.0.1")));
  view.applyResource(nodeMsg(node("b", "n1", "10.1.0.1")));
  view.applyResource(gatewayMsg(gateway("a", "shop", "web", [httpListener("http", 80, "shop.example.com")])));
  view.applyResource(routeMsg(httpRoute("a", "shop", "store", "web", [rule("/", [backend("shop", "web", 30081)])])));
  view.applyResource(gatewayMsg(gateway("b", "blog", "gw", [httpListener("http", 80, "blog.example.org")])));
  view.applyResource(routeMsg(httpRoute("b", "blog", "blog", "gw", [rule("/", [backend("blog", "blog", 31080)])])));
  view.applyL7Allocation(l7Allocation("a", "shop", "web", [listenerAllocation("http", 80, ["shop.example.com"])]));
  view.applyL7Allocation(l7Allocation("b", "blog", "gw", [listenerAllocation("http", 80, ["blog.example.org"])]));
  view.takeDirty();
  return view;
}

const hostnames = (view: TenantView, slot = SLOT80) => view.planL7Slot(slot)?.virtualHosts.map((v) => v.hostname);

describe("TenantView L7", () => {
  it("serves both tenants' hostnames on one slot, each at its own nodes", () => {
    const view = twoTenants();
    expect(view.allL7SlotKeys()).toEqual(new Set([SLOT80]));
    expect(hostnames(view)).toEqual(["blog.example.org", "shop.example.com"]);
    const plan = view.planL7Slot(SLOT80);
    expect(plan?.clusters.map((c) => [c.name, c.nodePort, c.endpoints.map((e) => e.address)])).toEqual([
      ["a/shop/web/http-80", 30081, ["10.0.0.1"]],
      ["b/blog/blog/http-80", 31080, ["10.1.0.1"]],
    ]);
  });

  it("a route change, a node change and a secret change make the slots they reach dirty, nothing else", () => {
    const view = twoTenants();
    view.applyResource(routeMsg(httpRoute("a", "shop", "store", "web", [rule("/v2", [backend("shop", "web", 30081)])])));
    expect(view.takeDirty().l7Slots).toEqual(new Set([SLOT80]));
    view.applyResource(nodeMsg(node("c", "x1", "10.9.0.1")));
    expect(view.takeDirty().l7Slots).toEqual(new Set());
    view.applyResource(nodeMsg(node("b", "n2", "10.1.0.2")));
    expect(view.takeDirty().l7Slots).toEqual(new Set([SLOT80]));
    expect(
      view
        .planL7Slot(SLOT80)
        ?.clusters.find((c) => c.name === "b/blog/blog/http-80")
        ?.endpoints.map((e) => e.address),
    ).toEqual(["10.1.0.1", "10.1.0.2"]);
    view.applyResource(secretMsg(tlsSecret("a", "shop", "unused")));
    expect(view.takeDirty().l7Slots).toEqual(new Set());
  });

  it("an allocation that moves dirties the old and the new slot; the old one then serves only the other tenant", () => {
    const view = twoTenants();
    view.applyL7Allocation(
      l7Allocation("a", "shop", "web", [listenerAllocation("http", 80, ["shop.example.com"], { ip: "203.0.113.11" })]),
    );
    expect(view.takeDirty().l7Slots).toEqual(new Set([SLOT80, "public/203.0.113.11/80"]));
    expect(hostnames(view)).toEqual(["blog.example.org"]);
    expect(hostnames(view, "public/203.0.113.11/80")).toEqual(["shop.example.com"]);
  });

  it("a Released allocation leaves nothing served on a slot it held alone", () => {
    const view = twoTenants();
    view.applyL7Allocation(l7Allocation("b", "blog", "gw", [], { state: "Released" }));
    view.applyL7Allocation(l7Allocation("a", "shop", "web", [], { state: "Released" }));
    expect(view.takeDirty().l7Slots).toEqual(new Set([SLOT80]));
    expect(view.planL7Slot(SLOT80)).toBeUndefined();
    expect(view.allL7SlotKeys()).toEqual(new Set());
  });

  it("a hostname the allocator refused is not served, even though the route asks for it", () => {
    const view = twoTenants();
    view.applyL7Allocation(
      l7Allocation("b", "blog", "gw", [
        listenerAllocation("http", 80, [], {
          state: "Pending",
          refusedHostnames: [{ hostname: "blog.example.org", reason: "HostnameConflict", message: "taken" }],
        }),
      ]),
    );
    expect(hostnames(view)).toEqual(["shop.example.com"]);
  });

  it("a route's tombstone removes its routes; a tombstone of another incarnation is ignored", () => {
    const view = twoTenants();
    view.applyResource(l7TombstoneMsg("httproute", "b", "blog", "blog", "uid-of-an-earlier-object"));
    expect(hostnames(view)).toEqual(["blog.example.org", "shop.example.com"]);
    view.applyResource(l7TombstoneMsg("httproute", "b", "blog", "blog", "uid-b-blog-blog"));
    expect(view.takeDirty().l7Slots).toEqual(new Set([SLOT80]));
    expect(hostnames(view)).toEqual(["shop.example.com"]);
    expect(view.planL7Slot(SLOT80)?.objects.map((o) => `${o.kind}/${o.cluster}/${o.name}`)).toEqual([
      "gateway/a/web",
      "gateway/b/gw",
      "httproute/a/store",
    ]);
  });

  it("an allocation made for another incarnation of the Gateway serves nothing of it", () => {
    const view = twoTenants();
    view.applyL7Allocation(l7Allocation("a", "shop", "web", [listenerAllocation("http", 80, ["shop.example.com"])], { uid: "old" }));
    expect(hostnames(view)).toEqual(["blog.example.org"]);
  });

  it("keeps a route's age across updates, so precedence ties do not flip when it changes", () => {
    const view = twoTenants();
    view.applyResource(routeMsg(httpRoute("a", "shop", "later", "web", [rule("/", [backend("shop", "other", 30082)])])));
    view.applyResource(routeMsg(httpRoute("a", "shop", "store", "web", [rule("/", [backend("shop", "web", 30083)])], { generation: 2 })));
    const routes = view.planL7Slot(SLOT80)?.virtualHosts.find((v) => v.hostname === "shop.example.com")?.routes ?? [];
    expect(routes.map((r) => r.object.name)).toEqual(["store", "later"]);
    expect(routes[0]?.object.generation).toBe(2);
  });
});
