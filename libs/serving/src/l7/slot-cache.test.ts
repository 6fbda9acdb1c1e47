// L7SlotCache: a slot planned and built with its cache, kept across edits, additions and
// deletions, gives the plan and the resource bytes of the uncached path, every step.
import { readdirSync } from "node:fs";
import { type NodeResource, ROUTE_KIND_TOKENS, type RouteFilter, type RouteMatch, type RouteResource, subjects } from "@sharedlb/contracts";
import { rng } from "@sharedlb/testing";
import { describe, expect, it } from "vitest";
import { l7AllocationData, readInput, testOpener, viewOf } from "../test-support/l7-golden.js";
import { gatewayMsg, l7TombstoneMsg, resourceMsg, routeMsg } from "../test-support/l7-messages.js";
import { backend, gateway, httpListener, httpRoute, l7Allocation, listenerAllocation } from "../test-support/l7-resources.js";
import { TenantView } from "../view.js";
import { buildL7SlotResources } from "./envoy-l7-resources.js";
import { L7SlotCache } from "./slot-cache.js";
import type { SecretOpener } from "./types.js";

/** Plans and builds every slot both ways; `caches` (one per slot) persist across calls. */
function expectCachedEqualsUncached(view: TenantView, caches: Map<string, L7SlotCache>, opener: SecretOpener): number {
  let resources = 0;
  for (const key of [...view.allL7SlotKeys()].sort()) {
    const cache = caches.get(key) ?? new L7SlotCache();
    caches.set(key, cache);
    const fresh = view.planL7Slot(key);
    const cached = view.planL7Slot(key, cache);
    expect(cached).toEqual(fresh);
    if (!fresh || !cached) {
      caches.delete(key);
      continue;
    }
    const want = buildL7SlotResources(fresh, opener);
    const got = buildL7SlotResources(cached, opener, cache);
    expect(got.warnings).toEqual(want.warnings);
    expect(got.objects).toEqual(want.objects);
    const view_ = (r: (typeof want.resources)[number]) => ({
      typeUrl: r.typeUrl,
      name: r.name,
      wildcard: r.wildcard,
      objects: r.objects,
      any: Buffer.from(r.any).toString("hex"),
    });
    expect(got.resources.map(view_)).toEqual(want.resources.map(view_));
    resources += got.resources.length;
  }
  return resources;
}

const GOLDEN = new URL("../../testdata/l7/", import.meta.url);
const goldenCases = readdirSync(GOLDEN)
  .filter((f) => f.endsWith(".input.json"))
  .map((f) => f.slice(0, -".input.json".length))
  .sort();

/** Edits of a route that keep it valid: rules reordered, one dropped, hostnames changed. */
function edits(r: RouteResource): RouteResource[] {
  const next = (over: Partial<RouteResource>): RouteResource => ({ ...r, generation: r.generation + 1, ...over });
  return [
    next({ rules: [...r.rules].reverse() }),
    next({ rules: r.rules.slice(1) }),
    next({ rules: [...r.rules, ...r.rules.slice(0, 1)] }),
    next({ hostnames: r.hostnames.slice(1) }),
    r,
  ];
}

describe("L7SlotCache on the golden inputs", () => {
  it.each(goldenCases)("%s: cached equals uncached through edits, deletions and re-additions of every route", (name) => {
    const input = readInput(new URL(`${name}.input.json`, GOLDEN).pathname);
    const view = viewOf(input);
    const opener = testOpener(input.unopenable);
    const caches = new Map<string, L7SlotCache>();
    let sequence = 1000;
    expect(expectCachedEqualsUncached(view, caches, opener)).toBeGreaterThan(0);
    // Nothing changed: the same again, from the cache.
    expectCachedEqualsUncached(view, caches, opener);
    for (const route of input.routes ?? []) {
      for (const edited of edits(route)) {
        view.applyResource(routeMsg(edited), ++sequence);
        expectCachedEqualsUncached(view, caches, opener);
      }
      const kind = ROUTE_KIND_TOKENS[route.sourceKind];
      view.applyResource(l7TombstoneMsg(kind, route.cluster, route.namespace, route.name, route.uid), ++sequence);
      expectCachedEqualsUncached(view, caches, opener);
      view.applyResource(routeMsg(route), ++sequence);
      expectCachedEqualsUncached(view, caches, opener);
    }
    for (const n of input.nodes ?? []) {
      const moved: NodeResource = { ...n, addresses: { ...n.addresses, internal: "10.99.0.1" } };
      view.applyResource(resourceMsg(subjects.node(n.cluster, n.name), "io.sharedlb.node.v1", moved), ++sequence);
      expectCachedEqualsUncached(view, caches, opener);
    }
    for (const a of input.allocations) {
      view.applyL7Allocation(l7AllocationData({ ...a, state: "Released", listeners: [] }));
      expectCachedEqualsUncached(view, caches, opener);
      view.applyL7Allocation(l7AllocationData(a));
      expectCachedEqualsUncached(view, caches, opener);
    }
  });
});

const TENANTS = ["a", "b", "c"];
const NS = "web";

/** Random valid routes, several on each hostname, so virtual hosts hold many routes in precedence order. */
function randomRoutes(seed: number) {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const upTo = (n: number) => Math.floor(rand() * (n + 1));
  const hostPool = (t: string) => [`x.${t}.example.com`, `y.${t}.example.com`, `z.${t}.example.com`];
  const svc = (t: string) => backend(NS, pick(["s1", "s2", "s3"]), 30000 + TENANTS.indexOf(t) * 10 + upTo(3), upTo(3));
  const match = (): RouteMatch => {
    const m: { -readonly [K in keyof RouteMatch]: RouteMatch[K] } = {};
    const kind = pick(["none", "PathPrefix", "Exact", "RegularExpression"] as const);
    if (kind !== "none") m.path = { type: kind, value: kind === "RegularExpression" ? "/r/[a-z]+" : pick(["/", "/a", "/a/b", "/b/"]) };
    if (rand() < 0.3) m.method = pick(["GET", "POST"]);
    if (rand() < 0.3) m.headers = [{ name: "X-Env", value: pick(["dev", "prod"]), type: "Exact" }];
    if (rand() < 0.2) m.queryParams = [{ name: "q", value: "1", type: "Exact" }];
    return m;
  };
  const filter = (t: string): RouteFilter =>
    pick<() => RouteFilter>([
      () => ({ type: "RequestHeaderModifier", headers: { set: [{ name: "x-a", value: "1" }], add: [], remove: ["x-b"] } }),
      () => ({ type: "ResponseHeaderModifier", headers: { set: [], add: [{ name: "x-c", value: "2" }], remove: [] } }),
      () => ({ type: "RequestMirror", backend: svc(t), percent: upTo(100) }),
      () => ({ type: "URLRewrite", path: { type: "ReplacePrefixMatch", value: "/new" } }),
      () => ({ type: "RequestRedirect", statusCode: 301, scheme: "https" }),
    ])();
  const route = (t: string, name: string, generation: number): RouteResource =>
    httpRoute(
      t,
      NS,
      name,
      "gw",
      Array.from({ length: 1 + upTo(2) }, () => ({
        matches: Array.from({ length: upTo(2) }, match),
        filters: Array.from({ length: upTo(1) }, () => filter(t)),
        backends: Array.from({ length: upTo(2) }, () => svc(t)),
        ...(rand() < 0.2 ? { timeouts: { requestMs: 1000 + upTo(2) * 500 } } : {}),
      })),
      { uid: `uid-${t}-${name}`, generation, hostnames: Array.from(new Set(Array.from({ length: 1 + upTo(1) }, () => pick(hostPool(t))))) },
    );
  return { rand, pick, upTo, route };
}

describe("L7SlotCache on random edits of a shared slot", () => {
  it.each([1, 2, 3, 4, 5])("seed %i: cached equals uncached after every step", (seed) => {
    const { rand, pick, upTo, route } = randomRoutes(seed);
    const view = new TenantView();
    let sequence = 0;
    for (const t of TENANTS) {
      for (const n of ["n1", "n2"]) {
        const node: NodeResource = {
          cluster: t,
          name: n,
          addresses: { internal: `10.${TENANTS.indexOf(t)}.0.${n === "n1" ? 1 : 2}`, external: "" },
          ready: true,
          excluded: false,
        };
        view.applyResource(resourceMsg(subjects.node(t, n), "io.sharedlb.node.v1", node), ++sequence);
      }
      view.applyResource(gatewayMsg(gateway(t, NS, "gw", [httpListener("http", 80, `*.${t}.example.com`)])), ++sequence);
      view.applyL7Allocation(l7AllocationData(l7Allocation(t, NS, "gw", [listenerAllocation("http", 80, [`*.${t}.example.com`])])));
    }
    const live = new Map<string, RouteResource>();
    const caches = new Map<string, L7SlotCache>();
    const opener = testOpener();
    let names = 0;
    for (let step = 0; step < 80; step++) {
      const op = live.size < 4 ? "add" : pick(["add", "edit", "edit", "edit", "delete", "same", "node", "claims"] as const);
      if (op === "add") {
        const t = pick(TENANTS);
        const r = route(t, `r${names++}`, 1);
        live.set(`${t}/${r.name}`, r);
        view.applyResource(routeMsg(r), ++sequence);
      } else if (op === "claims") {
        // The allocator re-allocated the tenant's listener with other claimed hostnames.
        const t = pick(TENANTS);
        const claims = pick([[`*.${t}.example.com`], [`x.${t}.example.com`, `y.${t}.example.com`], [`z.${t}.example.com`]]);
        view.applyL7Allocation(l7AllocationData(l7Allocation(t, NS, "gw", [listenerAllocation("http", 80, claims)])));
      } else if (op === "node") {
        const t = pick(TENANTS);
        const node: NodeResource = {
          cluster: t,
          name: "n2",
          addresses: { internal: `10.${TENANTS.indexOf(t)}.1.${upTo(9) + 1}`, external: "" },
          ready: rand() < 0.8,
          excluded: false,
        };
        view.applyResource(resourceMsg(subjects.node(t, "n2"), "io.sharedlb.node.v1", node), ++sequence);
      } else {
        const [key, held] = pick([...live.entries()]);
        if (op === "delete") {
          live.delete(key);
          view.applyResource(l7TombstoneMsg("httproute", held.cluster, held.namespace, held.name, held.uid), ++sequence);
        } else {
          // "same": the route published again unchanged (a resync): a new object, the same content.
          const next = op === "same" ? held : route(held.cluster, held.name, held.generation + 1);
          live.set(key, next);
          view.applyResource(routeMsg(next), ++sequence);
        }
      }
      expectCachedEqualsUncached(view, caches, opener);
    }
    expect(live.size).toBeGreaterThan(0);
  });

  it("hands back the resources an edit did not touch as the same objects", () => {
    const view = new TenantView();
    view.applyResource(gatewayMsg(gateway("a", NS, "gw", [httpListener("http", 80, "*.a.example.com")])));
    view.applyL7Allocation(l7Allocation("a", NS, "gw", [listenerAllocation("http", 80, ["*.a.example.com"])]));
    const routeTo = (name: string, service: string, path: string, generation = 1) =>
      httpRoute(
        "a",
        NS,
        name,
        "gw",
        [{ matches: [{ path: { type: "PathPrefix", value: path } }], filters: [], backends: [backend(NS, service, 30080)] }],
        {
          generation,
          hostnames: [`${name}.a.example.com`],
        },
      );
    view.applyResource(routeMsg(routeTo("one", "s1", "/")));
    view.applyResource(routeMsg(routeTo("two", "s2", "/")));
    const key = [...view.allL7SlotKeys()][0] ?? "";
    const cache = new L7SlotCache();
    const build = () => {
      const plan = view.planL7Slot(key, cache);
      if (!plan) throw new Error("no plan");
      return { plan, built: buildL7SlotResources(plan, testOpener(), cache) };
    };
    const first = build();
    view.applyResource(routeMsg(routeTo("two", "s2", "/v2", 2)));
    const second = build();
    const cluster = (b: typeof first, name: string) => b.built.resources.find((r) => r.typeUrl.endsWith("Cluster") && r.name === name);
    // s1's cluster and its route plan are untouched by the edit of route two.
    expect(cluster(second, "a/web/s1/http-80")).toBe(cluster(first, "a/web/s1/http-80"));
    const vhost = (b: typeof first, host: string) => b.plan.virtualHosts.find((v) => v.hostname === host)?.routes[0];
    expect(vhost(second, "one.a.example.com")).toBe(vhost(first, "one.a.example.com"));
    expect(vhost(second, "two.a.example.com")).not.toBe(vhost(first, "two.a.example.com"));
  });
});
