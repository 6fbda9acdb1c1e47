import { beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { rng, serviceResource } from "@sharedlb/testing";
import type { ServiceResource } from "@sharedlb/contracts";
import { luaScript } from "./adapters/lua-scripts.js";
import { SlotStore } from "./adapters/slot-store.js";
import { globalPrefix, NO_POOL, poolPrefix } from "./adapters/table-keys.js";
import { type HeldAllocation, type Occupancy, type PortClaim, place, type Protocol, slotName } from "./domain/placement.js";
import { expandAddresses } from "./domain/addresses.js";
import { resolvePolicy } from "./domain/pools.js";
import type { ClaimRequest, PortWish } from "./domain/request.js";
import { planClaim } from "./domain/request.js";
import { formatClaims, parseClaims, type SlotRecord, toAllocation } from "./domain/slot-record.js";
import { fileRedis } from "./test-support/script-calls.js";

// The placement rule lives twice: src/domain/placement.ts (readable, unit-tested) and
// lua/apply.lua (one atomic Redis round trip, on indexes instead of the pool's IP list).
// Random occupancies go through both, on a real redis-server, and must give the same
// outcome: the same IP and ports, or the same reason and message.
const redis = fileRedis();
let client: Redis;

beforeAll(() => {
  client = redis.client();
});

interface Case {
  req: ClaimRequest;
  held: HeldAllocation | undefined;
  occ: {
    owners: Map<string, string>;
    load: Map<string, number>;
    tenantServices: Map<string, number>;
    quotaUsed: { services: number; ports: number };
  };
  resource: ServiceResource;
}

const OWNER = "t/ns/me";
const CLUSTER = "t";
const POOL = "p";

/**
 * A random claim on `ips` (all of them, or a small pool when absent) with slots held on
 * `occupied` (all of `ips` when absent): a big pool is a /16 with a few hundred IPs in use.
 */
function randomCase(rand: () => number, big?: { ips: readonly string[]; occupied: readonly string[] }): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const ips = big?.ips ?? Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => `10.0.0.${i + 1}`);
  const occupied = big?.occupied ?? ips;
  const lo = 1 + Math.floor(rand() * 3);
  const range = { lo, hi: lo + 1 + Math.floor(rand() * 5) };
  const remap = rand() < 0.5;
  const protocols: Protocol[] = ["TCP", "UDP"];

  // 1–3 ports; the wanted external port is near the range (sometimes outside it, with `any`).
  const ports: PortWish[] = [];
  const seen = new Set<string>();
  while (ports.length < 1 + Math.floor(rand() * 3)) {
    const protocol = pick(protocols);
    const port = 1 + Math.floor(rand() * 9);
    const want = rand() < 0.2 ? 1 + Math.floor(rand() * 9) : port;
    if (seen.has(`${protocol}/${port}`) || (!remap && seen.has(`w${protocol}/${want}`))) continue;
    if (!remap && (want < range.lo || want > range.hi)) continue;
    seen.add(`${protocol}/${port}`).add(`w${protocol}/${want}`);
    ports.push({ name: `p${ports.length}`, protocol, port, nodePort: 30000 + ports.length, want, remap });
  }
  const pinned = rand() < 0.2;
  // A big pool's pin is mostly where slots are held (elsewhere every port is free).
  const req: ClaimRequest = {
    pool: POOL,
    ips: pinned ? [pick(big && rand() < 0.8 ? occupied : ips)] : ips,
    pinned,
    ports,
    range,
    quota: { services: rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 0, ports: rand() < 0.2 ? 1 + Math.floor(rand() * 6) : 0 },
  };

  const owners = new Map<string, string>();
  // Sometimes the Service already holds a place: some of its ports, on one IP of the pool.
  let held: HeldAllocation | undefined;
  if (rand() < 0.4) {
    const ip = pick(occupied);
    const claims: PortClaim[] = [];
    for (const w of ports) {
      if (rand() < 0.3) continue;
      const ext = range.lo + Math.floor(rand() * (range.hi - range.lo + 1));
      const slot = slotName(ip, w.protocol, ext);
      if (owners.has(slot)) continue;
      owners.set(slot, OWNER);
      claims.push({ protocol: w.protocol, port: w.port, externalPort: ext });
    }
    if (claims.length > 0) held = { pool: POOL, ip, claims };
    else owners.clear();
  }
  // Other Services' slots, quarantined ones (also this Service's own, released earlier).
  const density = rand();
  for (const ip of occupied) {
    for (const protocol of protocols) {
      for (let port = 1; port <= 10; port++) {
        const slot = slotName(ip, protocol, port);
        if (owners.has(slot) || rand() > density) continue;
        const r = rand();
        owners.set(slot, r < 0.1 ? `~${OWNER}` : r < 0.25 ? `~other${Math.floor(rand() * 3)}` : `other${Math.floor(rand() * 3)}`);
      }
    }
  }
  const load = new Map<string, number>();
  for (const slot of owners.keys()) {
    const ip = slot.split("|")[0] as string;
    load.set(ip, (load.get(ip) ?? 0) + 1);
  }
  const tenantServices = new Map<string, number>();
  for (const ip of occupied) if (rand() < 0.3) tenantServices.set(ip, 1 + Math.floor(rand() * 2));
  if (held) tenantServices.set(held.ip, (tenantServices.get(held.ip) ?? 0) + 1);
  const quotaUsed = { services: Math.floor(rand() * 3) + (held ? 1 : 0), ports: Math.floor(rand() * 5) + (held?.claims.length ?? 0) };
  const resource = serviceResource(CLUSTER, "ns", "me", {
    uid: "me",
    ports: ports.map((w) => ({ name: w.name, protocol: w.protocol, port: w.port, nodePort: w.nodePort })),
  });
  return { req, held, occ: { owners, load, tenantServices, quotaUsed }, resource };
}

/**
 * Writes the case into Redis exactly as the scripts keep it (slot-index.lua), under its own
 * prefix; the pool's IP index is the store's own, written on the first claim.
 */
async function seed(prefix: string, c: Case, poolIndex?: { from: string; ips: readonly string[] }): Promise<void> {
  const m = client.multi();
  const g = globalPrefix(prefix);
  const base = prefix;
  prefix = poolPrefix(base, POOL);
  m.set(`${g}ready`, "1");
  m.set(`${prefix}ready`, "1");
  m.set(`${poolPrefix(base, NO_POOL)}ready`, "1");
  for (const [slot, owner] of c.occ.owners) {
    const [ip, protocol, port] = slot.split("|") as [string, string, string];
    m.hset(`${prefix}own:${POOL}`, slot, owner);
    m.setbit(`${prefix}bits:${POOL}:${ip}:${protocol}`, Number(port), 1);
    m.sadd(`${prefix}tk:${POOL}:${protocol}:${port}`, ip);
    if (owner.startsWith("~")) m.hincrby(`${prefix}oq:${POOL}:${owner.slice(1)}`, ip, 1);
  }
  for (const [ip, n] of c.occ.load) m.hset(`${prefix}load:${POOL}`, ip, n);
  for (const [ip, n] of c.occ.tenantServices) {
    m.hset(`${prefix}ten:${POOL}:${CLUSTER}`, ip, n);
    m.sadd(`${prefix}tens:${POOL}:${CLUSTER}`, ip);
    m.hset(`${prefix}ipt:${POOL}:${ip}`, CLUSTER, n);
    // Scored by the pool index when it is written (pool-index.lua moves tz with lz).
    m.zadd(`${prefix}tz:${POOL}:${CLUSTER}`, 0, ip);
  }
  // The tenant's quota ledger: its sums, and what this Service holds (its home is the pool).
  m.hset(`${g}quotat`, `${CLUSTER}|s`, c.occ.quotaUsed.services, `${CLUSTER}|p`, c.occ.quotaUsed.ports);
  if (c.held) {
    m.hset(`${g}quota:${CLUSTER}`, OWNER, `1|${c.held.claims.length}|1`);
    m.sadd(`${g}homes:${OWNER}`, POOL);
    m.set(
      `${prefix}svc:${OWNER}`,
      JSON.stringify({
        owner: OWNER,
        cluster: CLUSTER,
        namespace: "ns",
        name: "me",
        uid: "me",
        seq: 1,
        resourceSequence: 1,
        version: 1,
        state: "Allocated",
        pool: POOL,
        ip: c.held.ip,
        claims: formatClaims(c.held.claims),
        reason: "",
        message: "",
        resource: JSON.stringify(c.resource),
        allocSeq: 0,
        releasedAt: 0,
        incarnationSeq: 1,
      }),
    );
  }
  await m.exec();
  if (poolIndex) {
    // A /16's index is copied from one written once; the IPs with load are written again.
    const from = poolPrefix(poolIndex.from, POOL);
    await client.copy(`${from}lz:${POOL}`, `${prefix}lz:${POOL}`);
    await client.copy(`${from}lzd:${POOL}`, `${prefix}lzd:${POOL}`);
    const at = new Map(poolIndex.ips.map((ip, i) => [ip, i]));
    const script = luaScript("pool-index");
    const sha = await client.script("LOAD", script);
    const touched = new Set([...c.occ.load.keys(), ...c.occ.tenantServices.keys()]);
    await Promise.all([...touched].map((ip) => client.evalsha(String(sha), 1, prefix, POOL, at.get(ip) ?? -1, ip)));
  }
}

/** Runs `count` random cases through both rules; returns how often each outcome came up. */
async function agree(
  seedValue: number,
  count: number,
  generate: (rand: () => number) => Case,
  prefixOf: (i: number) => string,
  poolIndex?: { from: string; ips: readonly string[] },
): Promise<Map<string, number>> {
  const rand = rng(seedValue);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const c = generate(rand);
    const prefix = prefixOf(i);
    await seed(prefix, c, poolIndex);
    const store = new SlotStore(client, prefix);
    const res = await store.apply(
      { owner: OWNER, cluster: CLUSTER, namespace: "ns", name: "me", uid: "me", seq: 2, now: 1_000, releaseDelayMs: 5_000 },
      { mode: "claim", request: c.req, resource: c.resource },
    );
    const ts = place(c.req, OWNER, CLUSTER, c.held, c.occ satisfies Occupancy);
    const rec = res.record;
    const lua =
      rec?.state === "Allocated"
        ? { kind: "placed", ip: rec.ip, claims: parseClaims(rec.claims) }
        : { kind: "waiting", reason: rec?.reason, message: rec?.message };
    const shown = {
      req: { ...c.req, ips: c.req.ips.length > 8 ? `${c.req.ips.length} IPs` : c.req.ips },
      held: c.held,
      owners: [...c.occ.owners],
      tenant: [...c.occ.tenantServices],
      quota: c.occ.quotaUsed,
    };
    expect(lua, `case ${i} (seed ${seedValue}): ${JSON.stringify(shown)}`).toEqual(ts);
    const label = ts.kind === "placed" ? (c.held ? "placed-held" : "placed") : ts.reason;
    outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
  }
  return outcomes;
}

describe("the placement rule in TypeScript and in Lua", () => {
  it("agree on 400 random occupancies", async () => {
    const outcomes = await agree(
      20261201,
      400,
      (rand) => randomCase(rand),
      (i) => `prop:${i}:`,
    );
    // The generator must reach every branch, or agreement proves little.
    for (const label of ["placed", "placed-held", "QuotaExceeded", "PortUnavailable", "PoolExhausted"]) {
      expect(outcomes.get(label) ?? 0, `${label} cases in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(5);
    }
  });

  it("agree on a /16 pool with a few hundred IPs in use", async () => {
    const ips = expandAddresses(["10.1.0.0/16"]);
    const prefix = (i: number) => `prop16:${i}:`;
    const from = "prop16:index:";
    await new SlotStore(client, from).ensurePoolIndex(POOL, ips);
    const outcomes = await agree(
      20261202,
      16,
      (rand) => {
        // A few hundred IPs in use: some at the start of the pool, the rest anywhere.
        const occupied = new Set(ips.slice(0, 40 + Math.floor(rand() * 80)));
        while (occupied.size < 300) occupied.add(ips[Math.floor(rand() * ips.length)] as string);
        return randomCase(rand, { ips, occupied: [...occupied] });
      },
      prefix,
      { from, ips },
    );
    for (const label of ["placed", "placed-held"]) {
      expect(outcomes.get(label) ?? 0, `${label} cases in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(2);
    }
    for (const p of [from, ...Array.from({ length: 16 }, (_, i) => prefix(i))]) {
      const keys = await client.keys(`${p}*`);
      if (keys.length > 0) await client.del(...keys);
    }
  });
});

/** What the indexes must be, recomputed from the slot table (own:<pool>) and the records alone. */
async function expectIndexesConsistent(
  prefix: string,
  pool: string,
  ips: readonly string[],
  range: { lo: number; hi: number },
  clusters = ["a", "b"],
): Promise<void> {
  const owners = await client.hgetall(`${prefix}own:${pool}`);
  const load = new Map<string, number>();
  const taken = new Map<string, string[]>();
  const quarantined = new Map<string, Map<string, number>>();
  for (const [slot, owner] of Object.entries(owners)) {
    const [ip = "", protocol = "", port = ""] = slot.split("|");
    load.set(ip, (load.get(ip) ?? 0) + 1);
    taken.set(`${protocol}:${port}`, [...(taken.get(`${protocol}:${port}`) ?? []), ip]);
    if (owner.startsWith("~")) {
      const mine = quarantined.get(owner.slice(1)) ?? new Map<string, number>();
      mine.set(ip, (mine.get(ip) ?? 0) + 1);
      quarantined.set(owner.slice(1), mine);
    }
    expect(await client.getbit(`${prefix}bits:${pool}:${ip}:${protocol}`, Number(port)), slot).toBe(1);
  }
  expect(new Map(Object.entries(await client.hgetall(`${prefix}load:${pool}`)).map(([ip, n]) => [ip, Number(n)]))).toEqual(load);
  for (const ip of ips) {
    for (const protocol of ["TCP", "UDP"]) {
      const held = Object.keys(owners).filter((slot) => slot.startsWith(`${ip}|${protocol}|`)).length;
      expect(await client.bitcount(`${prefix}bits:${pool}:${ip}:${protocol}`), `${ip} ${protocol}`).toBe(held);
    }
  }
  for (const protocol of ["TCP", "UDP"]) {
    for (let port = range.lo; port <= range.hi; port++) {
      expect((await client.smembers(`${prefix}tk:${pool}:${protocol}:${port}`)).sort(), `${protocol}/${port}`).toEqual(
        (taken.get(`${protocol}:${port}`) ?? []).sort(),
      );
    }
  }
  for (const key of await client.keys(`${prefix}oq:${pool}:*`)) {
    const owner = key.slice(`${prefix}oq:${pool}:`.length);
    expect(new Map(Object.entries(await client.hgetall(key)).map(([ip, n]) => [ip, Number(n)])), key).toEqual(quarantined.get(owner));
    quarantined.delete(owner);
  }
  expect(quarantined.size).toBe(0);
  const byLoad = ips.map((ip, i) => ({ ip, i, load: load.get(ip) ?? 0 })).sort((x, y) => x.load - y.load || x.i - y.i);
  expect(await client.zrange(`${prefix}lz:${pool}`, 0, -1)).toEqual(byLoad.map((x) => x.ip));
  const tenants = new Map<string, Map<string, number>>();
  const pending: string[] = [];
  const released: string[] = [];
  for (const key of await client.keys(`${prefix}svc:*`)) {
    const rec = JSON.parse((await client.get(key)) ?? "{}") as { state: string; pool: string; ip: string; cluster: string };
    const owner = key.slice(`${prefix}svc:`.length);
    if (rec.state === "Pending") pending.push(owner);
    if (rec.state === "Released") released.push(owner);
    if (rec.state !== "Allocated" || rec.pool !== pool) continue;
    const per = tenants.get(rec.cluster) ?? new Map<string, number>();
    per.set(rec.ip, (per.get(rec.ip) ?? 0) + 1);
    tenants.set(rec.cluster, per);
  }
  for (const cluster of clusters) {
    const want = tenants.get(cluster) ?? new Map<string, number>();
    expect(
      new Map(Object.entries(await client.hgetall(`${prefix}ten:${pool}:${cluster}`)).map(([ip, n]) => [ip, Number(n)])),
      cluster,
    ).toEqual(want);
    expect((await client.smembers(`${prefix}tens:${pool}:${cluster}`)).sort(), cluster).toEqual([...want.keys()].sort());
    // tz: the same IPs in lz's order, with lz's scores.
    const tz = await client.zrange(`${prefix}tz:${pool}:${cluster}`, 0, -1, "WITHSCORES");
    const lzScores = await Promise.all([...want.keys()].map(async (ip) => [ip, await client.zscore(`${prefix}lz:${pool}`, ip)] as const));
    const wantTz = lzScores.sort((x, y) => Number(x[1]) - Number(y[1])).flatMap(([ip, score]) => [ip, String(score)]);
    expect(tz, `tz ${cluster}`).toEqual(wantTz);
    for (const [ip, n] of want) expect(await client.hget(`${prefix}ipt:${pool}:${ip}`, cluster), `ipt ${ip} ${cluster}`).toBe(String(n));
  }
  for (const key of await client.keys(`${prefix}ipt:${pool}:*`)) {
    const ip = key.slice(`${prefix}ipt:${pool}:`.length);
    for (const cluster of await client.hkeys(key)) expect(tenants.get(cluster)?.has(ip), `${key} ${cluster}`).toBe(true);
  }
  // waiting and released: exactly the records here that are Pending, resp. Released (apply.lua
  // touches them only when that state changes).
  expect((await client.zrange(`${prefix}waiting`, 0, -1)).sort(), "waiting: the Pending records").toEqual(pending.sort());
  expect((await client.zrange(`${prefix}released`, 0, -1)).sort(), "released: the Released records").toEqual(released.sort());
  for (const cluster of clusters) await expectMarksTrue(prefix, pool, cluster);
  await expectFreeIndexTrue(prefix, pool);
}

/** fr: every IP of lz where a port kept in frm: is free is in that port's fr:, scored at most its lz score. */
async function expectFreeIndexTrue(prefix: string, pool: string, when = ""): Promise<void> {
  const fields = await client.hkeys(`${prefix}frm:${pool}`);
  if (fields.length === 0) return;
  const owners = await client.hgetall(`${prefix}own:${pool}`);
  const lz = await client.zrange(`${prefix}lz:${pool}`, 0, -1, "WITHSCORES");
  for (const field of fields) {
    const [protocol = "", port = ""] = field.split(":");
    const fr = new Map<string, number>();
    const raw = await client.zrange(`${prefix}fr:${pool}:${protocol}:${port}`, 0, -1, "WITHSCORES");
    for (let i = 0; i < raw.length; i += 2) fr.set(raw[i] as string, Number(raw[i + 1]));
    for (let i = 0; i < lz.length; i += 2) {
      const ip = lz[i] as string;
      if (owners[`${ip}|${protocol}|${port}`] !== undefined) continue;
      const shown = fr.get(ip);
      expect(shown, `${when} ${field} free on ${ip}, not in fr:`).toBeDefined();
      expect(shown, `${when} ${field} on ${ip}: fr: score above lz`).toBeLessThanOrEqual(Number(lz[i + 1]));
    }
  }
}

/** full: a port marked full for a tenant is held on every IP the tenant uses. */
async function expectMarksTrue(prefix: string, pool: string, cluster: string, when = ""): Promise<void> {
  const fields = await client.hkeys(`${prefix}full:${pool}:${cluster}`);
  if (fields.length === 0) return;
  const owners = await client.hgetall(`${prefix}own:${pool}`);
  for (const ip of await client.smembers(`${prefix}tens:${pool}:${cluster}`)) {
    for (const field of fields) {
      const [protocol = "", port = ""] = field.split(":");
      expect(owners[`${ip}|${protocol}|${port}`], `${when} ${cluster}: ${field} marked full, free on ${ip}`).toBeDefined();
    }
  }
}

/** A fresh slot table under `base` with one pool (5 s quarantine), as an allocator marks it at start. */
async function onePoolTable(base: string, pool: string, addresses: string, ports: string) {
  const store = new SlotStore(client, base, [pool]);
  await store.markReady();
  const policy = resolvePolicy({
    pools: [{ name: pool, addresses: [addresses], ports, clusters: ["*"], namespaces: ["*"] }],
    releaseDelaySeconds: 5,
    purgeAfterSeconds: 3600,
  });
  return { store, policy, prefix: poolPrefix(base, pool), ips: policy.pools.get(pool)?.ips ?? [] };
}

/**
 * One random event of a churn: tenant a or b, one of `names` Services, the next sequence,
 * quarantined on release with probability `quarantine` (the random numbers are drawn in
 * that order).
 */
function churnEvent(rand: () => number, seqs: Map<string, number>, step: number, now: number, names: number, quarantine: number) {
  const cluster = rand() < 0.5 ? "a" : "b";
  const name = `s${Math.floor(rand() * names)}`;
  const owner = `${cluster}/ns/${name}`;
  const seq = (seqs.get(owner) ?? 0) + 1;
  seqs.set(owner, seq);
  return { owner, cluster, namespace: "ns", name, uid: name, seq: step * 10 + seq, now, releaseDelayMs: rand() < quarantine ? 5_000 : 0 };
}

describe("the slot table's indexes", () => {
  it("stay what the slot table implies through claims, moves, releases, reclaims and quarantine expiry", async () => {
    const range = { lo: 1, hi: 6 };
    const { store, policy, prefix, ips } = await onePoolTable("churn:c:", "churn", "198.51.100.0/29", `${range.lo}-${range.hi}`);
    const rand = rng(20261203);
    const seqs = new Map<string, number>();
    let now = 1_000;
    for (let step = 0; step < 300; step++) {
      now += 500;
      const args = churnEvent(rand, seqs, step, now, 12, 0.8);
      const { cluster, name } = args;
      if (rand() < 0.25) {
        await store.apply(args, { mode: "release" });
      } else {
        const ports = Array.from({ length: 1 + Math.floor(rand() * 2) }, (_, i) => ({
          name: `p${i}`,
          protocol: (rand() < 0.5 ? "TCP" : "UDP") as Protocol,
          port: 1 + i + Math.floor(rand() * 5),
          nodePort: 30000 + i,
        }));
        const unique = ports.filter((p, i) => ports.findIndex((q) => q.protocol === p.protocol && q.port === p.port) === i);
        const annotations: Record<string, string> = rand() < 0.5 ? { "sharedlb.io/port-policy": "any" } : {};
        if (rand() < 0.15) annotations["sharedlb.io/ip"] = ips[Math.floor(rand() * ips.length)] ?? "";
        const svc = serviceResource(cluster, "ns", name, { uid: name, annotations, ports: unique });
        const plan = planClaim(svc, policy);
        if (plan.kind === "claim") await store.apply(args, { mode: "claim", request: plan.request, resource: svc });
      }
      if (rand() < 0.2) await store.expireQuarantine(now);
      if (step % 50 === 49) await expectIndexesConsistent(prefix, "churn", ips, range);
    }
    expect(Object.keys(await client.hgetall(`${prefix}own:churn`)).length, "slots held after the churn").toBeGreaterThan(5);
    await store.expireQuarantine(now + 10_000);
    await expectIndexesConsistent(prefix, "churn", ips, range);
  });
});

/** The pool as place() sees it, read back from the slot table, and the Service's held allocation. */
async function occupancyOf(
  prefix: string,
  pool: string,
  cluster: string,
  owner: string,
): Promise<{ occ: Occupancy; held: HeldAllocation | undefined }> {
  const numbers = (h: Record<string, string>) => new Map(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  const occ: Occupancy = {
    owners: new Map(Object.entries(await client.hgetall(`${prefix}own:${pool}`))),
    load: numbers(await client.hgetall(`${prefix}load:${pool}`)),
    tenantServices: numbers(await client.hgetall(`${prefix}ten:${pool}:${cluster}`)),
    quotaUsed: { services: 0, ports: 0 },
  };
  const raw = await client.get(`${prefix}svc:${owner}`);
  const rec = raw ? (JSON.parse(raw) as { state: string; pool: string; ip: string; claims: string }) : undefined;
  const held = rec?.state === "Allocated" ? { pool: rec.pool, ip: rec.ip, claims: parseClaims(rec.claims) } : undefined;
  return { occ, held };
}

describe("the placement rule claim by claim", () => {
  // Tenants with more than 16 IPs each, on few popular ports: the claims that walk past
  // the front of the tenant's IPs, and the `full:` marks they leave, which every later
  // claim, release and quarantine expiry must keep true.
  it("agrees with TypeScript on every claim of a churn where tenants use dozens of IPs", async () => {
    const pool = "wide";
    const range = { lo: 1, hi: 4 };
    const { store, policy, prefix, ips } = await onePoolTable("churn64:c:", pool, "198.51.100.0/25", `${range.lo}-${range.hi}`);
    const rand = rng(20261204);
    const seqs = new Map<string, number>();
    const outcomes = new Map<string, number>();
    /** Claims after which the tenant had a port marked full. */
    let marked = 0;
    let now = 1_000;
    for (let step = 0; step < 500; step++) {
      now += 200;
      const args = churnEvent(rand, seqs, step, now, 45, 0.7);
      const { owner, cluster, name } = args;
      if (rand() < 0.2) {
        await store.apply(args, { mode: "release" });
      } else {
        // Mostly port 1 or 2, so the tenant's IPs fill up on them and more are taken.
        const wish = () => (rand() < 0.75 ? 1 + Math.floor(rand() * 2) : 3 + Math.floor(rand() * 2));
        const ports = Array.from({ length: 1 + Math.floor(rand() * 2) }, (_, i) => ({
          name: `p${i}`,
          protocol: (rand() < 0.8 ? "TCP" : "UDP") as Protocol,
          port: wish(),
          nodePort: 30000 + i,
        }));
        const unique = ports.filter((p, i) => ports.findIndex((q) => q.protocol === p.protocol && q.port === p.port) === i);
        const annotations: Record<string, string> = rand() < 0.3 ? { "sharedlb.io/port-policy": "any" } : {};
        const svc = serviceResource(cluster, "ns", name, { uid: name, annotations, ports: unique });
        const plan = planClaim(svc, policy);
        if (plan.kind === "claim") {
          const { occ, held } = await occupancyOf(prefix, pool, cluster, owner);
          const ts = place(plan.request, owner, cluster, held, occ);
          const rec = (await store.apply(args, { mode: "claim", request: plan.request, resource: svc })).record;
          const lua =
            rec?.state === "Allocated"
              ? { kind: "placed", ip: rec.ip, claims: parseClaims(rec.claims) }
              : { kind: "waiting", reason: rec?.reason, message: rec?.message };
          expect(lua, `step ${step}: ${owner} wants ${JSON.stringify(plan.request.ports)}, held ${JSON.stringify(held)}`).toEqual(ts);
          const label = ts.kind === "placed" ? "placed" : ts.reason;
          outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
          if ((await client.hlen(`${prefix}full:${pool}:${cluster}`)) > 0) marked += 1;
        }
      }
      if (rand() < 0.15) await store.expireQuarantine(now);
      for (const c of ["a", "b"]) await expectMarksTrue(prefix, pool, c, `step ${step}`);
      if (step % 100 === 99) await expectIndexesConsistent(prefix, pool, ips, range, ["a", "b"]);
    }
    // The churn must reach what it is about: tenants past 16 IPs, and ports marked full.
    expect(await client.scard(`${prefix}tens:${pool}:a`), "IPs tenant a uses").toBeGreaterThan(16);
    expect(marked, "claims after which the tenant had a port marked full").toBeGreaterThan(20);
    expect(outcomes.get("placed") ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(300);
    await store.expireQuarantine(now + 10_000);
    await expectIndexesConsistent(prefix, pool, ips, range, ["a", "b"]);
  });
});

describe("a port marked full", () => {
  it("is not full any more once the tenant gains an IP where it is free", async () => {
    const { store, policy } = await onePoolTable("gain:c:", "gain", "198.51.100.0/27", "1-100");
    let seq = 0;
    const claim = async (name: string, wanted: number[]) => {
      seq += 1;
      const svc = serviceResource("a", "ns", name, {
        uid: name,
        ports: wanted.map((port, i) => ({ name: `p${i}`, protocol: "TCP", port, nodePort: 30000 + i })),
      });
      const plan = planClaim(svc, policy);
      if (plan.kind !== "claim") throw new Error(`${name}: no claim`);
      const rec = (
        await store.apply(
          { owner: `a/ns/${name}`, cluster: "a", namespace: "ns", name, uid: name, seq, now: 1_000, releaseDelayMs: 5_000 },
          { mode: "claim", request: plan.request, resource: svc },
        )
      ).record;
      expect(rec?.state, name).toBe("Allocated");
      return rec?.ip ?? "";
    };
    // 17 IPs of the tenant's, each with ports 1 and 2 held: more than the walk's front of 16.
    for (let i = 0; i < 17; i++) await claim(`both${i}`, [1, 2]);
    const first = await claim("one-1", [1]); // port 1 held on all 17: marked full, a new IP
    expect(await claim("two-1", [2]), "port 2 is free on the new IP").toBe(first);
    const gained = await claim("two-2", [2]); // port 2 held on all 18: another new IP, where 1 is free
    expect(gained).not.toBe(first);
    expect(await claim("one-2", [1]), "port 1 is free on the IP the tenant gained last").toBe(gained);
  });
});

describe("the walk of the pool for a wanted port", () => {
  // apply.lua walks lz in chunks of 8, 16, 32, … and filters each chunk in bulk (the port
  // held there by another, the tenant's own IPs) before it tries an IP: a chunk filter that
  // drops or skips an IP it should not changes the choice. Here port 80 is free on one IP
  // only, or quarantined there for this Service, at each place around the chunks' edges,
  // and a free IP earlier in pool order but more loaded must not win.
  it("finds the one IP where the port is free or this Service's own, at every place in lz", async () => {
    const holder = "x";
    const outcomes: string[] = [];
    for (const quarantined of [false, true]) {
      for (const at of [1, 7, 8, 9, 23, 24, 55, 56, 63]) {
        const base = `walk:${quarantined ? "q" : "f"}${at}:`;
        const { store, policy, prefix, ips } = await onePoolTable(base, "walk", "198.51.100.0/26", "1-100");
        await store.ensurePoolIndex("walk", ips);
        let seq = 0;
        const apply = async (
          cluster: string,
          name: string,
          ports: number[],
          annotations: Record<string, string>,
          mode: "claim" | "release" = "claim",
        ) => {
          seq += 1;
          const args = {
            owner: `${cluster}/ns/${name}`,
            cluster,
            namespace: "ns",
            name,
            uid: name,
            seq,
            now: 1_000,
            releaseDelayMs: 5_000,
          };
          if (mode === "release") return (await store.apply(args, { mode: "release" })).record;
          const svc = serviceResource(cluster, "ns", name, {
            uid: name,
            annotations,
            ports: ports.map((port, i) => ({ name: `p${i}`, protocol: "TCP", port, nodePort: 30000 + i })),
          });
          const plan = planClaim(svc, policy);
          if (plan.kind !== "claim") throw new Error(`${name}: ${plan.rejection.message}`);
          const rec = (await store.apply(args, { mode: "claim", request: plan.request, resource: svc })).record;
          expect(rec?.state, `${name} on ${annotations["sharedlb.io/ip"] ?? "any IP"}`).toBe("Allocated");
          return rec;
        };
        const target = ips[at] as string;
        // IP 0: port 80 free, but two slots held there, so it comes after every IP of load 1.
        await apply(holder, "busy", [81, 82], { "sharedlb.io/ip": ips[0] as string });
        if (quarantined) {
          // This Service held 80 on the target and let it go: quarantined for it alone.
          await apply("a", "me", [80], { "sharedlb.io/ip": target });
          await apply("a", "me", [], {}, "release");
        } else {
          await apply(holder, "other", [81], { "sharedlb.io/ip": target });
        }
        // Port 80 held everywhere else (load 1 each, so lz is pool order): on IP 2 by this
        // Service's tenant (its only IP, tried first and left out of the walk), elsewhere by another.
        for (let i = 1; i < ips.length; i++)
          if (i !== at) await apply(i === 2 ? "a" : holder, `h${i}`, [80], { "sharedlb.io/ip": ips[i] as string });
        expect(await client.zrank(`${prefix}lz:walk`, target), "the target's place in lz").toBe(at - 1);

        const svc = serviceResource("a", "ns", "me", { uid: "me", ports: [{ name: "p0", protocol: "TCP", port: 80, nodePort: 30000 }] });
        const plan = planClaim(svc, policy);
        if (plan.kind !== "claim") throw new Error(plan.rejection.message);
        const { occ, held } = await occupancyOf(prefix, "walk", "a", "a/ns/me");
        const ts = place(plan.request, "a/ns/me", "a", held, occ);
        seq += 1;
        const rec = (
          await store.apply(
            { owner: "a/ns/me", cluster: "a", namespace: "ns", name: "me", uid: "me", seq, now: 2_000, releaseDelayMs: 5_000 },
            { mode: "claim", request: plan.request, resource: svc },
          )
        ).record;
        const lua =
          rec?.state === "Allocated"
            ? { kind: "placed", ip: rec.ip, claims: parseClaims(rec.claims) }
            : { kind: "waiting", reason: rec?.reason, message: rec?.message };
        expect(lua, `${quarantined ? "quarantined" : "free"} at ${at}`).toEqual(ts);
        expect(rec?.ip, `${quarantined ? "quarantined" : "free"} at ${at}`).toBe(target);
        outcomes.push(rec?.ip ?? "");
        const keys = await client.keys(`${base}*`);
        if (keys.length > 0) await client.del(...keys);
      }
    }
    expect(outcomes).toHaveLength(18);
  });
});

describe("a port held on most of the pool", () => {
  // Past WALK_FR IPs of lz where the port is held, apply.lua keeps the IPs where it is free
  // in fr: (slot-index.lua) and reads them there: the choice must stay the walk's through
  // loads that rise (fr: shows them low until read), frees (the IP comes back), loads that
  // drop (its score must drop there too), this Service's quarantine, quarantine expiry, and
  // new IPs in the pool.
  it("chooses as the walk would, from the IPs kept where it is free", async () => {
    const pool = "most";
    let { store, policy, prefix, ips } = await onePoolTable("most:c:", pool, "198.51.100.0/25", "1-100");
    await store.ensurePoolIndex(pool, ips);
    let seq = 0;
    let now = 1_000;
    const args = (cluster: string, name: string, releaseDelayMs = 5_000) => {
      seq += 1;
      return { owner: `${cluster}/ns/${name}`, cluster, namespace: "ns", name, uid: name, seq, now, releaseDelayMs };
    };
    const pinned = async (cluster: string, name: string, ports: number[], ip: string) => {
      const svc = serviceResource(cluster, "ns", name, {
        uid: name,
        annotations: { "sharedlb.io/ip": ip },
        ports: ports.map((port, i) => ({ name: `p${i}`, protocol: "TCP", port, nodePort: 30000 + i })),
      });
      const plan = planClaim(svc, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      expect((await store.apply(args(cluster, name), { mode: "claim", request: plan.request, resource: svc })).record?.state).toBe(
        "Allocated",
      );
    };
    const release = (cluster: string, name: string, delay = 0) => store.apply(args(cluster, name, delay), { mode: "release" });
    /** An unpinned claim of port 80, checked against place(); returns the IP. */
    const claim80 = async (cluster: string, name: string, when: string) => {
      const owner = `${cluster}/ns/${name}`;
      const svc = serviceResource(cluster, "ns", name, { uid: name, ports: [{ name: "p0", protocol: "TCP", port: 80, nodePort: 30000 }] });
      const plan = planClaim(svc, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      const { occ, held } = await occupancyOf(prefix, pool, cluster, owner);
      const ts = place(plan.request, owner, cluster, held, occ);
      const rec = (await store.apply(args(cluster, name), { mode: "claim", request: plan.request, resource: svc })).record;
      const lua =
        rec?.state === "Allocated"
          ? { kind: "placed", ip: rec.ip, claims: parseClaims(rec.claims) }
          : { kind: "waiting", reason: rec?.reason, message: rec?.message };
      expect(lua, when).toEqual(ts);
      await expectFreeIndexTrue(prefix, pool, when);
      return rec?.ip ?? "";
    };
    // Port 80 held on IPs 0-99 (load 1); free on 100-127, which hold two other ports (load 2).
    for (let i = 0; i < 100; i++) await pinned("x", `h${i}`, [80], ips[i] as string);
    for (let i = 100; i < 128; i++) await pinned("x", `o${i}`, [81, 82], ips[i] as string);
    // The claiming tenant has an IP of its own, where 80 is held.
    await pinned("a", "own", [90], ips[5] as string);

    expect(await claim80("a", "first", "first claim"), "first claim").toBe(ips[100]);
    expect(await client.hexists(`${prefix}frm:${pool}`, "TCP:80"), "the walk was long: fr: kept").toBe(1);
    expect(await claim80("a", "second", "second claim"), "second claim").toBe(ips[101]);
    // IPs 102 and 103 take a third port: shown in fr: below their load until a claim reads them.
    await pinned("x", "t102", [83], ips[102] as string);
    await pinned("x", "t103", [83], ips[103] as string);
    expect(await claim80("a", "third", "after loads rose"), "after loads rose").toBe(ips[104]);
    // Freed on IP 50 (load 0): the least loaded IP where 80 is free now.
    await release("x", "h50");
    expect(await claim80("b", "freed", "after a free"), "after a free").toBe(ips[50]);
    // IP 120's other ports go: load 0, so it is first now.
    await release("x", "o120");
    expect(await claim80("b", "lighter", "after a load drop"), "after a load drop").toBe(ips[120]);
    // q holds 80 on IP 110 (its other ports gone: load 1) and lets it go: quarantined for q.
    await release("x", "o110");
    await pinned("c", "q", [80], ips[110] as string);
    now += 1_000;
    await release("c", "q", 5_000);
    expect(await claim80("c", "r", "another Service, while q's quarantine holds"), "not q's").toBe(ips[105]);
    expect(await claim80("c", "q", "q again"), "q's own quarantined slot").toBe(ips[110]);
    await release("c", "q", 5_000);
    await store.expireQuarantine(now + 10_000);
    expect(await claim80("d", "s", "after quarantine expiry"), "after quarantine expiry").toBe(ips[110]);
    // The pool grows: its new IPs (load 0, 80 free) come first.
    ({ store, policy, prefix, ips } = await onePoolTable("most:c:", pool, "198.51.100.0/24", "1-100"));
    await store.ensurePoolIndex(pool, ips);
    expect(await claim80("d", "grown", "after the pool grew"), "after the pool grew").toBe(ips[128]);
    await expectIndexesConsistent(prefix, pool, ips, { lo: 79, hi: 82 }, ["a", "b", "c", "d", "x"]);
  });
});

/** A fresh slot table under `prefix` with the pool "public" (two IPs, every port, 30 s quarantine). */
async function twoIpTable(prefix: string) {
  const store = new SlotStore(client, prefix, ["public"]);
  await store.markReady();
  const policy = resolvePolicy({
    pools: [{ name: "public", addresses: ["203.0.113.1-203.0.113.2"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
    defaultPool: "public",
    releaseDelaySeconds: 30,
    purgeAfterSeconds: 3600,
  });
  return { store, policy };
}

describe("slot records", () => {
  // apply.lua replies with the record as the text it stored (not encoded again), and
  // published.lua sets allocSeq in that text without decoding it: both must stay exactly
  // the record, also when its Service and message hold text that looks like its own keys.
  it("the apply's reply is the stored record, and marking it published changes allocSeq alone", async () => {
    const prefix = "text:t:";
    const { store, policy } = await twoIpTable(prefix);
    const tricky = '"version":99,"allocSeq":7}\\"version":98,';
    const args = (name: string, seq: number) => ({
      owner: `a/ns/${name}`,
      cluster: "a",
      namespace: "ns",
      name,
      uid: name,
      seq,
      now: 1_000,
      releaseDelayMs: 30_000,
    });
    const stored = async (home: string, name: string) =>
      JSON.parse((await client.get(`${poolPrefix(prefix, home)}svc:a/ns/${name}`)) ?? "null") as SlotRecord;
    // One Allocated (the odd text in its Service), one Failed (the odd text in its message too).
    const good = serviceResource("a", "ns", "good", {
      uid: "good",
      ports: [{ name: `p${tricky}`, protocol: "TCP", port: 443, nodePort: 31443 }],
    });
    const bad = serviceResource("a", "ns", "bad", {
      uid: "bad",
      annotations: { [`sharedlb.io/${tricky}`]: tricky },
      ports: [{ name: "p", protocol: "TCP", port: 80, nodePort: 30080 }],
    });
    for (const [svc, home] of [
      [good, "public"],
      [bad, NO_POOL],
    ] as const) {
      const plan = planClaim(svc, policy);
      const change =
        plan.kind === "claim"
          ? ({ mode: "claim", request: plan.request, resource: svc } as const)
          : ({ mode: "reject", rejection: plan.rejection, resource: svc } as const);
      const first = await store.apply(args(svc.name, 5), change);
      expect(first.outcome, svc.name).toBe("applied");
      expect(first.record, `${svc.name}: applied`).toEqual(await stored(home, svc.name));
      // Redelivered (the record as read goes back) and stale (the same).
      expect((await store.apply(args(svc.name, 5), change)).record, `${svc.name}: unchanged`).toEqual(await stored(home, svc.name));
      const stale = await store.apply(args(svc.name, 4), change);
      expect(stale.outcome).toBe("stale");
      expect(stale.record, `${svc.name}: stale`).toEqual(await stored(home, svc.name));

      const rec = first.record as SlotRecord;
      expect(rec.resource).toContain("allocSeq");
      expect(await store.markPublished(rec.owner, rec.version + 1, 111), `${svc.name}: another version`).toBe(false);
      expect(await stored(home, svc.name), `${svc.name}: not marked`).toEqual(rec);
      expect(await store.markPublished(rec.owner, rec.version, 12_345_678), `${svc.name}: its version`).toBe(true);
      expect(await stored(home, svc.name), `${svc.name}: marked`).toEqual({ ...rec, allocSeq: 12_345_678 });
      expect(await store.markPublished(rec.owner, rec.version, 9), `${svc.name}: again`).toBe(true);
      expect((await stored(home, svc.name)).allocSeq).toBe(9);
    }
    expect((await stored(NO_POOL, "bad")).message).toContain(tricky);
  });

  it("a NodePort change republishes the allocation's ports without touching any slot", async () => {
    const prefix = "nodeport:np:";
    const { store, policy } = await twoIpTable(prefix);
    const svc = serviceResource("a", "ns", "web", { ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }] });
    const args = (seq: number) => ({
      owner: "a/ns/web",
      cluster: "a",
      namespace: "ns",
      name: "web",
      uid: svc.uid,
      seq,
      now: 1_000,
      releaseDelayMs: 30_000,
    });
    const claim = (s: ServiceResource, seq: number) => {
      const plan = planClaim(s, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      return store.apply(args(seq), { mode: "claim", request: plan.request, resource: s });
    };
    const first = await claim(svc, 1);
    const slotKeys = async () => {
      const keys = (await client.keys(`${prefix}*`)).filter((k) => /:(own|bits|load|ten|q):/.test(k) || k.endsWith("quotat")).sort();
      return Promise.all(keys.map(async (k) => [k, await client.dump(k)]));
    };
    const before = await slotKeys();

    const edited = await claim({ ...svc, ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 32000 }] }, 2);
    expect(edited.outcome).toBe("applied");
    expect(edited.record?.claims).toBe(first.record?.claims);
    expect(await slotKeys()).toEqual(before);
    if (!edited.record || !first.record) throw new Error("no record");
    const was = toAllocation(first.record);
    const now = toAllocation(edited.record);
    expect(now.ports).toEqual([{ ...was.ports[0], nodePort: 32000 }]);
    expect(now.ip).toBe(was.ip);
    expect(now.allocationVersion).toBe((was.allocationVersion ?? 0) + 1);
  });
});
