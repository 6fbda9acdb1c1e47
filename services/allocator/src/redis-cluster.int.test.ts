import type { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Allocation, ServiceResource } from "@sharedlb/contracts";
import { type ManagedProcess, natsFixture, type NatsFixture, serviceResource, startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { DEFAULT_PREFIX, globalPrefix, poolPrefix } from "./adapters/table-keys.js";
import { luaScript } from "./adapters/lua-scripts.js";
import { startAllocator, waitForAllocation, writePoolFile } from "./test-support/allocator-process.js";
import { startRedisCluster, type TestRedisCluster } from "./test-support/redis-cluster.js";

// Three allocator processes on a real three-master Redis Cluster (--redis-cluster): each
// pool's keys, records included, live on the master of that pool's hash slot, and what the
// tenants see (the allocations on NATS) is what a single Redis gives.

const POOL_NAMES = ["one", "two", "three"] as const;
const POOLS = `
pools:
  - name: one
    addresses: ["203.0.113.1-203.0.113.2"]
    ports: "8000-8003"
  - name: two
    addresses: ["203.0.113.11-203.0.113.12"]
    ports: "8000-8003"
  - name: three
    addresses: ["203.0.113.21-203.0.113.22"]
    ports: "8000-8003"
defaultPool: one
releaseDelaySeconds: 1
quotas:
  clusters:
    q: { services: 2, ports: 10 }
`;

let cluster: TestRedisCluster;
let nats: TestNats;
let fx: NatsFixture;
let client: Cluster;
const replicas: ManagedProcess[] = [];

beforeAll(async () => {
  [cluster, nats] = await Promise.all([startRedisCluster(3), startNats()]);
  fx = await natsFixture(nats.url);
  client = cluster.client();
  const config = writePoolFile(POOLS);
  for (const r of ["r1", "r2", "r3"]) {
    replicas.push(await startAllocator({ config, natsUrl: nats.url, redisUrl: cluster.url, replica: r, extra: ["--redis-cluster"] }));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await fx?.close();
  await Promise.all([nats?.dispose(), cluster?.dispose()]);
});

const svc = (c: string, name: string, pool: string, port: number, extra: Record<string, string> = {}): ServiceResource =>
  serviceResource(c, "ns", name, { uid: `${name}-uid`, annotations: { "sharedlb.io/pool": pool, ...extra }, ports: [{ name: "p", protocol: "TCP", port, nodePort: 30000 + (port % 1000) }] });

/** Every Allocated allocation on NATS; fails if any slot (pool, IP, protocol, port) is held by two Services. */
async function publishedSlots(): Promise<Map<string, string>> {
  const held = new Map<string, string>();
  for (const [owner, a] of await fx.allocations()) {
    if (a.state !== "Allocated") continue;
    for (const p of a.ports) {
      const slot = `${a.pool} ${a.ip}|${p.protocol}|${p.externalPort}`;
      expect(held.get(slot), `${slot} held by ${held.get(slot)} and ${owner}`).toBeUndefined();
      held.set(slot, owner);
    }
  }
  return held;
}

async function allocationsOf(owners: string[], done: (a: Allocation) => boolean): Promise<Map<string, Allocation>> {
  return waitFor(`allocations of ${owners.length} Services`, async () => {
    const all = await fx.allocations();
    const mine = new Map(owners.flatMap((o) => (all.get(o) ? [[o, all.get(o) as Allocation] as const] : [])));
    return mine.size === owners.length && [...mine.values()].every(done) ? mine : undefined;
  }, 30_000, 100);
}

/** The master each hash tag's keys were found on, reading every master's own keys. */
async function tagsByMaster(): Promise<Map<string, Set<number>>> {
  const where = new Map<string, Set<number>>();
  for (const port of cluster.ports) {
    for (const key of await cluster.node(port).keys(`${DEFAULT_PREFIX}*`)) {
      const tag = /\{([^}]*)\}/.exec(key)?.[1] ?? "";
      where.set(tag, (where.get(tag) ?? new Set()).add(port));
    }
  }
  return where;
}

it("puts the pools' hash tags on different masters", async () => {
  const masters = new Set(await Promise.all(POOL_NAMES.map((p) => cluster.masterOf(poolPrefix(DEFAULT_PREFIX, p)))));
  expect(masters.size).toBeGreaterThanOrEqual(2);
  // Redis refuses a script (ours carry the shebang) that touches a key of another slot than
  // its first key's, so the scripts below can only pass by keeping each to one pool's tag.
  const err = await client.eval(`#!lua\nreturn redis.call('GET', KEYS[1] .. 'x') or redis.call('GET', '${poolPrefix(DEFAULT_PREFIX, "two")}x')`, 1, poolPrefix(DEFAULT_PREFIX, "one")).catch((e: Error) => e);
  expect(String(err)).toMatch(/same slot|non local key/);
  expect(luaScript("apply").startsWith("#!lua\n")).toBe(true);
});

it("allocates Services in every pool across three replicas without giving a slot twice, and each pool's keys live on its master", async () => {
  // Four Services per pool want port 8000 exactly; two IPs per pool: two get it, two wait.
  const owners: string[] = [];
  for (const pool of POOL_NAMES) {
    for (let i = 0; i < 4; i++) {
      await fx.publishService(svc("a", `${pool}-${i}`, pool, 8000));
      owners.push(`a/ns/${pool}-${i}`);
    }
  }
  const got = await allocationsOf(owners, (a) => a.state === "Allocated" || a.state === "Pending");
  for (const pool of POOL_NAMES) {
    const inPool = owners.filter((o) => o.startsWith(`a/ns/${pool}-`)).map((o) => got.get(o) as Allocation);
    expect(inPool.filter((a) => a.state === "Allocated").map((a) => a.pool)).toEqual([pool, pool]);
    expect(inPool.filter((a) => a.state === "Pending").map((a) => a.reason)).toEqual(["PortUnavailable", "PortUnavailable"]);
  }
  await publishedSlots();

  const where = await tagsByMaster();
  for (const pool of POOL_NAMES) {
    const tag = `p:${pool}`;
    expect([...(where.get(tag) ?? [])], `${tag}'s keys`).toEqual([await cluster.masterOf(poolPrefix(DEFAULT_PREFIX, pool))]);
    const node = cluster.node(await cluster.masterOf(poolPrefix(DEFAULT_PREFIX, pool)));
    // The records of the pool's Services are in the pool's tag, beside its slot table.
    expect(await node.exists(`${poolPrefix(DEFAULT_PREFIX, pool)}svc:a/ns/${pool}-0`)).toBe(1);
    expect(await node.hlen(`${poolPrefix(DEFAULT_PREFIX, pool)}own:${pool}`)).toBe(2);
  }
  expect([...(where.get("g") ?? [])]).toEqual([await cluster.masterOf(globalPrefix(DEFAULT_PREFIX))]);
});

it("releases on a tombstone, and the waiting Service in that pool gets the slot", async () => {
  const all = await fx.allocations();
  const holder = ["two-0", "two-1", "two-2", "two-3"].find((n) => all.get(`a/ns/${n}`)?.state === "Allocated") as string;
  const waiting = ["two-0", "two-1", "two-2", "two-3"].filter((n) => all.get(`a/ns/${n}`)?.state === "Pending");
  const freedIp = all.get(`a/ns/${holder}`)?.ip;
  await fx.publishTombstone("a", "ns", holder, `${holder}-uid`);
  await waitForAllocation(fx, `a/ns/${holder}`, (a) => a.state === "Released");
  // After the quarantine (1 s) one of the waiting ones is served there, by the janitor's retry.
  const served = await waitFor("a waiting Service in pool two served", async () => {
    const now = await fx.allocations();
    return waiting.map((n) => now.get(`a/ns/${n}`)).find((a) => a?.state === "Allocated");
  }, 20_000, 100);
  expect(served.pool).toBe("two");
  expect(served.ip).toBe(freedIp);
  await publishedSlots();
});

it("moves a Service to another pool (claimed there first, then released in the old one)", async () => {
  await fx.publishService(svc("a", "mover", "one", 8001));
  const before = await waitForAllocation(fx, "a/ns/mover", (a) => a.state === "Allocated");
  expect(before.pool).toBe("one");
  await fx.publishService(svc("a", "mover", "three", 8001));
  const after = await waitForAllocation(fx, "a/ns/mover", (a) => a.state === "Allocated" && a.pool === "three");
  expect(after.ports.map((p) => p.externalPort)).toEqual([8001]);
  const one = cluster.node(await cluster.masterOf(poolPrefix(DEFAULT_PREFIX, "one")));
  const three = cluster.node(await cluster.masterOf(poolPrefix(DEFAULT_PREFIX, "three")));
  expect(await three.exists(`${poolPrefix(DEFAULT_PREFIX, "three")}svc:a/ns/mover`)).toBe(1);
  expect(await one.exists(`${poolPrefix(DEFAULT_PREFIX, "one")}svc:a/ns/mover`)).toBe(0);
  expect(await client.smembers(`${globalPrefix(DEFAULT_PREFIX)}homes:a/ns/mover`)).toEqual(["three"]);
  // Its old slot leaves through quarantine, then is free.
  await waitFor("the old slot in pool one freed", async () => {
    const own = await one.hgetall(`${poolPrefix(DEFAULT_PREFIX, "one")}own:one`);
    return !Object.values(own).some((o) => o.endsWith("a/ns/mover")) || undefined;
  }, 20_000, 100);
  await publishedSlots();
});

it("holds a tenant's quota across pools, and lets the waiting one in when the tenant frees room in another pool", async () => {
  const names = ["q-one", "q-two", "q-three"];
  for (const [i, pool] of POOL_NAMES.entries()) await fx.publishService(svc("q", names[i] as string, pool, 8002));
  const got = await allocationsOf(names.map((n) => `q/ns/${n}`), (a) => a.state === "Allocated" || a.state === "Pending");
  const allocated = [...got].filter(([, a]) => a.state === "Allocated");
  const pending = [...got].filter(([, a]) => a.state === "Pending");
  expect(allocated).toHaveLength(2);
  expect(pending.map(([, a]) => a.reason)).toEqual(["QuotaExceeded"]);
  const [waiter] = pending[0] as [string, Allocation];
  const [gone, goneAlloc] = allocated.find(([, a]) => a.pool !== got.get(waiter)?.pool) ?? (allocated[0] as [string, Allocation]);
  await fx.publishTombstone("q", "ns", goneAlloc.name, `${goneAlloc.name}-uid`);
  await waitForAllocation(fx, gone, (a) => a.state === "Released");
  await waitForAllocation(fx, waiter, (a) => a.state === "Allocated");
  const ledger = await client.hgetall(`${globalPrefix(DEFAULT_PREFIX)}quotat`);
  expect(ledger["q|s"]).toBe("2");
  await publishedSlots();
});

it("re-imports the allocations after every master is flushed, before claiming anything new", async () => {
  const live = await publishedSlots();
  for (const port of cluster.ports) await cluster.node(port).flushall();
  // Both IPs of pool one hold port 8000: a new Service that wants exactly 8000 must wait.
  await fx.publishService(svc("a", "late", "one", 8000));
  const late = await waitForAllocation(fx, "a/ns/late", (a) => a.state === "Pending");
  expect(late.reason).toBe("PortUnavailable");
  const after = await publishedSlots();
  expect(new Map([...after].filter(([, o]) => o !== "a/ns/late"))).toEqual(live);
  const node = cluster.node(await cluster.masterOf(poolPrefix(DEFAULT_PREFIX, "one")));
  expect(await node.hlen(`${poolPrefix(DEFAULT_PREFIX, "one")}own:one`)).toBeGreaterThan(0);
});
