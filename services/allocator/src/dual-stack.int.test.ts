import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceResource } from "@sharedlb/contracts";
import { serviceResource, waitFor } from "@sharedlb/testing";
import { SlotStore } from "./adapters/slot-store.js";
import { poolKey } from "./test-support/table-keys.js";
import { useAllocatorEnv } from "./test-support/allocator-env.js";
import { waitForAllocation } from "./test-support/allocator-process.js";

// Dual-stack Services (ipFamilyPolicy PreferDualStack / RequireDualStack with two
// ipFamilies): one address per family, each from a pool of that family, on the same ports.
// The IPv6 pools serve namespace "dual" only, so namespace "nov6" has no IPv6 pool.

const env = useAllocatorEnv(`
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.11"]
  - name: public6
    addresses: ["2001:db8::10-2001:db8::11"]
    namespaces: ["dual"]
  - name: other6
    addresses: ["2001:db8:1::1"]
    ports: "20000-20009"
    namespaces: ["dual"]
defaultPool: public
familyPools:
  IPv6: public6
releaseDelaySeconds: 1
`);

let client: Redis;
beforeAll(() => {
  client = new Redis(env.redis.url);
});
afterAll(() => client?.disconnect());

const https = [{ name: "https", protocol: "TCP" as const, port: 443, nodePort: 31443 }];
const dual = (namespace: string, name: string, over: Partial<ServiceResource> = {}): ServiceResource =>
  serviceResource("d", namespace, name, { ports: https, ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack", ...over });

/** Slots (`pool ip|PROTO|port`) held or quarantined by an owner key, over the given pools. */
async function slotsOf(owner: string, pools: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const pool of pools) {
    for (const [slot, o] of Object.entries(await client.hgetall(poolKey(pool, `own:${pool}`)))) {
      if (o === owner || o === `~${owner}`) out.push(`${pool} ${slot}`);
    }
  }
  return out.sort();
}

/** A single-stack Service `holder` takes TCP `port`; the dual-stack `waiter` then wants it too and waits. */
async function waitBehind(holder: string, holderAnnotations: Record<string, string>, waiter: string, waiterAnnotations: Record<string, string>, port: number) {
  const ports = [{ name: "x", protocol: "TCP" as const, port, nodePort: 32000 + (port % 1000) }];
  await env.fx.publishService(serviceResource("d", "dual", holder, { ports, annotations: holderAnnotations }));
  await waitForAllocation(env.fx, `d/dual/${holder}`, (x) => x.state === "Allocated");
  await env.fx.publishService(dual("dual", waiter, { ports, annotations: waiterAnnotations }));
  return waitForAllocation(env.fx, `d/dual/${waiter}`, (x) => x.state === "Pending");
}

describe("dual-stack Services (one allocator process, real NATS and Redis)", () => {
  it("gives a RequireDualStack Service an IPv4 and an IPv6 address from two pools, on the same external ports, in ipFamilies order", async () => {
    await env.fx.publishService(dual("dual", "web", { ports: [...https, { name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }] }));
    const a = await waitForAllocation(env.fx, "d/dual/web", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(a.ip).toBe("203.0.113.10");
    expect(a.ips).toEqual(["203.0.113.10", "2001:db8::10"]);
    expect(a.pool).toBe("public");
    expect(a.ports.map((p) => `${p.port}/${p.protocol}=${p.externalPort}`)).toEqual(["443/TCP=443", "53/UDP=53"]);

    await env.fx.publishService(dual("dual", "six", { ipFamilies: ["IPv6", "IPv4"], ipFamilyPolicy: "PreferDualStack", annotations: { "sharedlb.io/pool": "other6,public" }, ports: [{ name: "x", protocol: "TCP", port: 20000, nodePort: 32000 }] }));
    const six = await waitForAllocation(env.fx, "d/dual/six", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(six.ips).toEqual(["2001:db8:1::1", six.ips?.[1]]);
    expect(six.ips?.[1]).toMatch(/^203\.0\.113\./);
    expect(six.pool).toBe("other6");
  });

  it("serves PreferDualStack on IPv4 only, saying why, when no IPv6 pool serves it; RequireDualStack fails with UnknownPool", async () => {
    await env.fx.publishService(dual("nov6", "prefer", { ipFamilyPolicy: "PreferDualStack" }));
    const prefer = await waitForAllocation(env.fx, "d/nov6/prefer", (x) => x.state === "Allocated");
    expect(prefer.ips ?? [prefer.ip]).toEqual([prefer.ip]);
    expect(prefer.ip).toMatch(/^203\.0\.113\./);
    expect(prefer.message).toContain("no IPv6 pool serves this Service");

    await env.fx.publishService(dual("nov6", "require"));
    const require = await waitForAllocation(env.fx, "d/nov6/require", (x) => x.state === "Failed");
    expect(require.reason).toBe("UnknownPool");
    expect(require.message).toContain("RequireDualStack: no IPv6 pool serves this Service");
    expect(await slotsOf("d/nov6/require", ["public"])).toEqual([]);
  });

  it("refuses sharedlb.io/pool naming two pools of one family, and an unknown one", async () => {
    await env.fx.publishService(dual("dual", "twice", { annotations: { "sharedlb.io/pool": "public6,other6" } }));
    const twice = await waitForAllocation(env.fx, "d/dual/twice", (x) => x.state === "Failed");
    expect(twice.reason).toBe("InvalidAnnotation");
    expect(twice.message).toContain("one pool per IP family");
    await env.fx.publishService(dual("dual", "nopool", { annotations: { "sharedlb.io/pool": "public,nope6" } }));
    const nopool = await waitForAllocation(env.fx, "d/dual/nopool", (x) => x.state === "Failed");
    expect(nopool.reason).toBe("UnknownPool");
  });

  it("RequireDualStack waits (Pending) while its IPv6 port is taken, and is served when it frees; the IPv4 slot is kept meanwhile", async () => {
    const waiting = await waitBehind("holder6", { "sharedlb.io/pool": "other6" }, "waits", { "sharedlb.io/pool": "public,other6" }, 20001);
    expect(waiting.reason).toBe("PortUnavailable");
    expect(waiting.message).toContain("IPv6 address");
    expect(waiting.ip).toBe("");
    expect(await slotsOf("d/dual/waits", ["public"])).toHaveLength(1);

    await env.fx.publishTombstone("d", "dual", "holder6", "d-dual-holder6");
    const served = await waitForAllocation(env.fx, "d/dual/waits", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(served.ips?.[1]).toBe("2001:db8:1::1");
    expect(served.ports[0]?.externalPort).toBe(20001);
  });

  it("brings the IPv6 address along when a waiting IPv4 address is served by a retry (no new event)", async () => {
    const pin = { "sharedlb.io/ip": "203.0.113.10" };
    const waiting = await waitBehind("holder4", pin, "retried", pin, 7005);
    expect(waiting.reason).toBe("PortUnavailable");
    expect(await slotsOf("d/dual/retried#IPv6", ["public6"])).toEqual([]);

    await env.fx.publishTombstone("d", "dual", "holder4", "d-dual-holder4");
    const served = await waitForAllocation(env.fx, "d/dual/retried", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(served.ips?.[0]).toBe("203.0.113.10");
    expect(await slotsOf("d/dual/retried#IPv6", ["public6"])).toEqual([`public6 ${served.ips?.[1]}|TCP|7005`]);
  });

  it("releases both families' slots when the Service is deleted, and the IPv6 one when it turns single-stack", async () => {
    await env.fx.publishService(dual("dual", "gone", { ports: [{ name: "g", protocol: "TCP", port: 7001, nodePort: 32101 }] }));
    const a = await waitForAllocation(env.fx, "d/dual/gone", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(await slotsOf("d/dual/gone#IPv6", ["public6"])).toEqual([`public6 ${a.ips?.[1]}|TCP|7001`]);
    await env.fx.publishTombstone("d", "dual", "gone", "d-dual-gone");
    await waitForAllocation(env.fx, "d/dual/gone", (x) => x.state === "Released");
    // Quarantined for releaseDelaySeconds, then free.
    await waitFor("both families' slots freed", async () => ((await slotsOf("d/dual/gone", ["public"])).length === 0 && (await slotsOf("d/dual/gone#IPv6", ["public6"])).length === 0) || undefined, 10_000);

    await env.fx.publishService(dual("dual", "shrinks", { ports: [{ name: "s", protocol: "TCP", port: 7002, nodePort: 32102 }] }));
    await waitForAllocation(env.fx, "d/dual/shrinks", (x) => x.state === "Allocated" && x.ips?.length === 2);
    await env.fx.publishService(dual("dual", "shrinks", { ports: [{ name: "s", protocol: "TCP", port: 7002, nodePort: 32102 }], ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack" }));
    const single = await waitForAllocation(env.fx, "d/dual/shrinks", (x) => x.state === "Allocated" && x.ips === undefined);
    expect(single.ip).toMatch(/^203\.0\.113\./);
    await waitFor("the IPv6 slot freed", async () => (await slotsOf("d/dual/shrinks#IPv6", ["public6"])).length === 0 || undefined, 10_000);
    expect(await slotsOf("d/dual/shrinks", ["public"])).toEqual([`public ${single.ip}|TCP|7002`]);
  });

  it("keeps a single-stack Service exactly as before: no second record, no ips", async () => {
    await env.fx.publishService(serviceResource("d", "dual", "plain", { ports: [{ name: "p", protocol: "TCP", port: 7003, nodePort: 32103 }], ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack" }));
    const a = await waitForAllocation(env.fx, "d/dual/plain", (x) => x.state === "Allocated");
    expect(a.ips).toBeUndefined();
    expect(a.message).toBe("");
    expect(await new SlotStore(client).record("d/dual/plain#IPv6")).toBeNull();
  });

  it("re-imports both families' slots after Redis loses its data, before claiming anything new", async () => {
    await env.fx.publishService(dual("dual", "kept", { ports: [{ name: "k", protocol: "TCP", port: 7004, nodePort: 32104 }], annotations: { "sharedlb.io/ip": "203.0.113.11,2001:db8::11" } }));
    const before = await waitForAllocation(env.fx, "d/dual/kept", (x) => x.state === "Allocated" && x.ips?.length === 2);
    expect(before.ips).toEqual(["203.0.113.11", "2001:db8::11"]);

    await env.redis.stop();
    // During the outage another Service wants the same IPv6 address and port.
    await env.fx.publishService(serviceResource("d", "dual", "grab", { ports: [{ name: "k", protocol: "TCP", port: 7004, nodePort: 32105 }], annotations: { "sharedlb.io/pool": "public6", "sharedlb.io/ip": "2001:db8::11" } }));
    await env.redis.start();
    await env.allocator.waitForOutput(/slot table re-imported/, 30_000);
    client.disconnect();
    client = new Redis(env.redis.url);

    const grab = await waitForAllocation(env.fx, "d/dual/grab", (x) => x.state === "Pending", 30_000);
    expect(grab.reason).toBe("PortUnavailable");
    expect(await slotsOf("d/dual/kept", ["public"])).toEqual(["public 203.0.113.11|TCP|7004"]);
    expect(await slotsOf("d/dual/kept#IPv6", ["public6"])).toEqual(["public6 2001:db8::11|TCP|7004"]);
    // The next event for it changes nothing: both families are where they were.
    await env.fx.publishService(dual("dual", "kept", { ports: [{ name: "k", protocol: "TCP", port: 7004, nodePort: 32114 }], annotations: { "sharedlb.io/ip": "203.0.113.11,2001:db8::11" } }));
    const after = await waitForAllocation(env.fx, "d/dual/kept", (x) => x.ports[0]?.nodePort === 32114);
    expect(after.ips).toEqual(before.ips);
    expect(after.allocationVersion ?? 0).toBeGreaterThan(before.allocationVersion ?? 0);
  });
});
