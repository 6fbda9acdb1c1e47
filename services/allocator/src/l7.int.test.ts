import { describe, expect, it } from "vitest";
import { serviceResource } from "@sharedlb/testing";
import { useAllocatorEnv } from "./test-support/allocator-env.js";
import { waitForAllocation } from "./test-support/allocator-process.js";
import { claimsOf, gateway, ingress, l7Allocations, listener, publishGateway, publishL7Tombstone, publishRoute, waitForL7, webGateway } from "./test-support/l7-fixtures.js";

// L7 allocations of Gateways and Ingresses (docs/l7-model.md §2) by one allocator process
// against real NATS and Redis. Each test has its own pool and tenant clusters, so the
// tests do not depend on each other.

const POOLS = `
pools:
  - name: share
    addresses: ["203.0.113.20-203.0.113.21"]
  - name: conflict
    addresses: ["203.0.113.30"]
  - name: excl
    addresses: ["203.0.113.40-203.0.113.41"]
  - name: mixed
    addresses: ["203.0.113.50"]
  - name: partial
    addresses: ["203.0.113.60"]
defaultPool: share
releaseDelaySeconds: 1
`;

const env = useAllocatorEnv(POOLS);

const allocated = (a: { state: string }) => a.state === "Allocated";
const pool = (name: string) => ({ annotations: { "sharedlb.io/pool": name } });

describe("L7 allocations (one allocator, real NATS and Redis)", () => {
  it("puts two tenants' hostnames on the same shared IP :80/:443, each claiming its own", async () => {
    await publishGateway(env.fx, webGateway("sa", "shop", "edge", "shop.a.test"));
    const a = await waitForL7(env.fx, "sa/shop/edge/gateway", allocated);
    await publishGateway(env.fx, webGateway("sb", "blog", "edge", "blog.b.test"));
    await publishRoute(env.fx, ingress("sc", "docs", "web", ["docs.c.test", "www.docs.c.test"]));
    const b = await waitForL7(env.fx, "sb/blog/edge/gateway", allocated);
    const c = await waitForL7(env.fx, "sc/docs/web/ingress", allocated);

    const ip = a.listeners[0]?.ip;
    expect(ip).toMatch(/^203\.0\.113\.2[01]$/);
    for (const x of [a, b, c]) {
      expect(x.listeners.map((l) => [l.protocol, l.ip, l.port, l.shared, l.state])).toEqual([
        ["HTTP", ip, 80, true, "Allocated"],
        ["HTTPS", ip, 443, true, "Allocated"],
      ]);
    }
    expect(b.listeners.map((l) => l.claimedHostnames)).toEqual([["blog.b.test"], ["blog.b.test"]]);
    expect(c.listeners.map((l) => l.claimedHostnames)).toEqual([
      ["docs.c.test", "www.docs.c.test"],
      ["docs.c.test", "www.docs.c.test"],
    ]);
    expect(c.listeners.map((l) => l.name)).toEqual(["http", "https"]);
    expect(a.generation).toBe(1);
    expect(a.listeners[0]?.pool).toBe("share");
  });

  it("refuses a hostname another tenant holds, exactly or under its wildcard, and serves it by itself once the holder is deleted", async () => {
    const holder = gateway("ca", "shop", "edge", [listener("wild", "HTTP", 80, "*.shop.test"), listener("www", "HTTP", 80, "www.store.test")], pool("conflict"));
    await publishGateway(env.fx, holder);
    const held = await waitForL7(env.fx, "ca/shop/edge/gateway", allocated);

    // cb already serves on the IP, so its DNS points there: its conflicting listeners wait there.
    await publishGateway(env.fx, gateway("cb", "web", "own", [listener("own", "HTTP", 80, "cb.test")], pool("conflict")));
    await waitForL7(env.fx, "cb/web/own/gateway", allocated);
    await publishGateway(env.fx, gateway("cb", "web", "under", [listener("under", "HTTP", 80, "a.shop.test")], pool("conflict")));
    await publishGateway(env.fx, gateway("cc", "web", "exact", [listener("exact", "HTTP", 80, "www.store.test")], pool("conflict")));
    for (const [key, hostname] of [["cb/web/under/gateway", "a.shop.test"], ["cc/web/exact/gateway", "www.store.test"]] as const) {
      const w = await waitForL7(env.fx, key, (x) => x.state === "Pending");
      expect(w.reason).toBe("HostnameConflict");
      expect(w.listeners[0]).toMatchObject({ state: "Pending", ip: "", claimedHostnames: [], refusedHostnames: [{ hostname, reason: "HostnameConflict" }] });
      // The message says the name is taken, never by whom.
      expect(w.message).not.toMatch(/ca\b|shop\/edge/);
    }
    const still = (await l7Allocations(env.fx)).get("ca/shop/edge/gateway");
    expect(still).toEqual(held);

    await publishL7Tombstone(env.fx, "gateway", "ca", "shop", "edge", holder.uid);
    await waitForL7(env.fx, "ca/shop/edge/gateway", (x) => x.state === "Released");
    // No new event for the waiting ones: the release (after its quarantine) retries them.
    const under = await waitForL7(env.fx, "cb/web/under/gateway", allocated);
    const exact = await waitForL7(env.fx, "cc/web/exact/gateway", allocated);
    expect(under.listeners[0]).toMatchObject({ ip: "203.0.113.30", port: 80, claimedHostnames: ["a.shop.test"], refusedHostnames: [] });
    expect(exact.listeners[0]).toMatchObject({ ip: "203.0.113.30", port: 80, claimedHostnames: ["www.store.test"] });
  });

  it("gives a listener without a hostname an (IP, port) of its own, which no other tenant gets", async () => {
    await publishGateway(env.fx, gateway("xa", "ns", "all", [listener("all", "HTTP", 80)], pool("excl")));
    const all = await waitForL7(env.fx, "xa/ns/all/gateway", allocated);
    expect(all.listeners[0]).toMatchObject({ shared: false, claimedHostnames: [], state: "Allocated" });
    const mine = all.listeners[0]?.ip;

    await publishGateway(env.fx, gateway("xb", "ns", "named", [listener("named", "HTTP", 80, "named.xb.test")], pool("excl")));
    const named = await waitForL7(env.fx, "xb/ns/named/gateway", allocated);
    expect(named.listeners[0]?.ip).not.toBe(mine);
    await publishGateway(env.fx, gateway("xc", "ns", "all", [listener("all", "HTTP", 80)], pool("excl")));
    const none = await waitForL7(env.fx, "xc/ns/all/gateway", (x) => x.state === "Pending");
    expect(none.reason).toBe("PortUnavailable");
    // The same tenant may use its own exclusive slot.
    await publishGateway(env.fx, gateway("xa", "ns", "more", [listener("more", "HTTP", 80, "more.xa.test")], pool("excl")));
    const more = await waitForL7(env.fx, "xa/ns/more/gateway", allocated);
    expect(more.listeners[0]?.ip).toBe(mine);
    const claims = claimsOf(await l7Allocations(env.fx));
    expect(claims.get(`${mine}:80 *all*`)).toEqual(["xa/ns/all/gateway"]);
    expect([...claims.keys()].filter((k) => k.startsWith(`${mine}:`) && !claims.get(k)?.every((o) => o.startsWith("xa/")))).toEqual([]);
  });

  it("never lets a Service take an L7 port, nor a listener a Service's port", async () => {
    await publishGateway(env.fx, gateway("ma", "ns", "edge", [listener("http", "HTTP", 8080, "m.test")], pool("mixed")));
    await waitForL7(env.fx, "ma/ns/edge/gateway", allocated);
    await env.fx.publishService(serviceResource("ms", "ns", "web", { ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30080 }], ...pool("mixed") }));
    const svc = await waitForAllocation(env.fx, "ms/ns/web", (a) => a.state === "Pending");
    expect(svc.reason).toBe("PortUnavailable");

    await env.fx.publishService(serviceResource("ms", "ns", "dns", { ports: [{ name: "dns", protocol: "TCP", port: 8053, nodePort: 30053 }], ...pool("mixed") }));
    await waitForAllocation(env.fx, "ms/ns/dns", allocated);
    await publishGateway(env.fx, gateway("ma", "ns", "late", [listener("http", "HTTP", 8053, "late.test")], pool("mixed")));
    const late = await waitForL7(env.fx, "ma/ns/late/gateway", (x) => x.state === "Pending");
    expect(late.reason).toBe("PortUnavailable");
    expect(late.listeners[0]).toMatchObject({ state: "Pending", reason: "PortUnavailable", claimedHostnames: [] });
  });

  it("gives an Ingress the hosts it can have, lists the taken ones, and completes it when they are released", async () => {
    const taker = gateway("pa", "ns", "edge", [listener("http", "HTTP", 80, "taken.p.test")], pool("partial"));
    await publishGateway(env.fx, taker);
    await waitForL7(env.fx, "pa/ns/edge/gateway", allocated);
    await publishRoute(env.fx, ingress("pb", "ns", "web", ["free.p.test", "taken.p.test"], { tls: [], ...pool("partial") }));
    const part = await waitForL7(env.fx, "pb/ns/web/ingress", allocated);
    expect(part.listeners).toHaveLength(1);
    expect(part.listeners[0]).toMatchObject({ state: "Allocated", claimedHostnames: ["free.p.test"], refusedHostnames: [{ hostname: "taken.p.test", reason: "HostnameConflict" }] });
    await publishL7Tombstone(env.fx, "gateway", "pa", "ns", "edge", taker.uid);
    const full = await waitForL7(env.fx, "pb/ns/web/ingress", (x) => x.listeners[0]?.claimedHostnames.length === 2);
    expect(full.listeners[0]?.refusedHostnames).toEqual([]);
  });

  it("fails bad input with a stable reason naming the problem, and leaves others alone", async () => {
    const cases: [string, Partial<Parameters<typeof gateway>[4]>, string, RegExp][] = [
      ["nopool", { annotations: { "sharedlb.io/pool": "nope" } }, "UnknownPool", /"nope"/],
      ["outside", { annotations: { "sharedlb.io/ip": "192.0.2.9" } }, "IPNotInPool", /192\.0\.2\.9/],
      ["badann", { annotations: { "sharedlb.io/port-policy": "any" } }, "InvalidAnnotation", /port-policy/],
    ];
    for (const [name, over] of cases) await publishGateway(env.fx, webGateway("ba", "ns", name, `${name}.ba.test`, over));
    await publishGateway(env.fx, gateway("ba", "ns", "tcp", [listener("raw", "TCP", 9000)]));
    await publishGateway(env.fx, webGateway("ba", "ns", "fine", "fine.ba.test"));
    for (const [name, , reason, message] of cases) {
      const a = await waitForL7(env.fx, `ba/ns/${name}/gateway`, (x) => x.state === "Failed");
      expect(a.reason).toBe(reason);
      expect(a.message).toMatch(message);
      expect(a.listeners).toEqual([]);
    }
    const tcp = await waitForL7(env.fx, "ba/ns/tcp/gateway", (x) => x.state === "Failed");
    expect(tcp.listeners[0]).toMatchObject({ state: "Failed", reason: "UnsupportedProtocol" });
    await waitForL7(env.fx, "ba/ns/fine/gateway", allocated);
  });
});
