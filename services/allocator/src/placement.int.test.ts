import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { rng, serviceResource, startRedis, type TestRedis } from "@sharedlb/testing";
import type { ServiceResource } from "@sharedlb/contracts";
import { SlotStore } from "./adapters/slot-store.js";
import { type HeldAllocation, type Occupancy, type PortClaim, place, type Protocol, slotName } from "./domain/placement.js";
import { resolvePolicy } from "./domain/pools.js";
import type { ClaimRequest, PortWish } from "./domain/request.js";
import { planClaim } from "./domain/request.js";
import { formatClaims, parseClaims, toAllocation } from "./domain/slot-record.js";

// The placement rule lives twice: src/domain/placement.ts (readable, unit-tested) and
// lua/apply.lua (one atomic Redis round trip). Random occupancies go through both, on a real
// redis-server, and must give the same outcome: the same IP and ports, or the same reason
// and message.
let server: TestRedis;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url, { enableAutoPipelining: true });
});
afterAll(async () => {
  client?.disconnect();
  await server?.dispose();
});

interface Case {
  req: ClaimRequest;
  held: HeldAllocation | undefined;
  occ: { owners: Map<string, string>; load: Map<string, number>; tenantServices: Map<string, number>; quotaUsed: { services: number; ports: number } };
  resource: ServiceResource;
}

const OWNER = "t/ns/me";
const CLUSTER = "t";
const POOL = "p";

function randomCase(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const ips = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => `10.0.0.${i + 1}`);
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
  const req: ClaimRequest = {
    pool: POOL,
    ips: pinned ? [pick(ips)] : ips,
    pinned,
    ports,
    range,
    quota: { services: rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 0, ports: rand() < 0.2 ? 1 + Math.floor(rand() * 6) : 0 },
  };

  const owners = new Map<string, string>();
  // Sometimes the Service already holds a place: some of its ports, on one IP of the pool.
  let held: HeldAllocation | undefined;
  if (rand() < 0.4) {
    const ip = pick(ips);
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
  for (const ip of ips) {
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
  for (const ip of ips) if (rand() < 0.3) tenantServices.set(ip, 1 + Math.floor(rand() * 2));
  if (held) tenantServices.set(held.ip, (tenantServices.get(held.ip) ?? 0) + 1);
  const quotaUsed = { services: Math.floor(rand() * 3) + (held ? 1 : 0), ports: Math.floor(rand() * 5) + (held?.claims.length ?? 0) };
  const resource = serviceResource(CLUSTER, "ns", "me", { uid: "me", ports: ports.map((w) => ({ name: w.name, protocol: w.protocol, port: w.port, nodePort: w.nodePort })) });
  return { req, held, occ: { owners, load, tenantServices, quotaUsed }, resource };
}

/** Writes the case into Redis exactly as the scripts keep it, under its own prefix. */
async function seed(prefix: string, c: Case): Promise<void> {
  const m = client.multi();
  m.set(`${prefix}ready`, "1");
  for (const [slot, owner] of c.occ.owners) {
    const [ip, protocol, port] = slot.split("|") as [string, string, string];
    m.hset(`${prefix}own:${POOL}`, slot, owner);
    m.setbit(`${prefix}bits:${POOL}:${ip}:${protocol}`, Number(port), 1);
  }
  for (const [ip, n] of c.occ.load) m.hset(`${prefix}load:${POOL}`, ip, n);
  for (const [ip, n] of c.occ.tenantServices) m.hset(`${prefix}ten:${POOL}:${CLUSTER}`, ip, n);
  m.hset(`${prefix}quota`, `${CLUSTER}|s`, c.occ.quotaUsed.services, `${CLUSTER}|p`, c.occ.quotaUsed.ports);
  if (c.held) {
    m.set(
      `${prefix}svc:${OWNER}`,
      JSON.stringify({
        owner: OWNER, cluster: CLUSTER, namespace: "ns", name: "me", uid: "me", seq: 1, resourceSequence: 1, version: 1,
        state: "Allocated", pool: POOL, ip: c.held.ip, claims: formatClaims(c.held.claims), reason: "", message: "",
        resource: JSON.stringify(c.resource), allocSeq: 0, releasedAt: 0, incarnationSeq: 1,
      }),
    );
  }
  await m.exec();
}

describe("the placement rule in TypeScript and in Lua", () => {
  it("agree on 400 random occupancies", async () => {
    const seedValue = 20261201;
    const rand = rng(seedValue);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const c = randomCase(rand);
      const prefix = `prop:{${i}}:`;
      await seed(prefix, c);
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
      expect(lua, `case ${i} (seed ${seedValue}): ${JSON.stringify({ req: c.req, held: c.held, owners: [...c.occ.owners], tenant: [...c.occ.tenantServices], quota: c.occ.quotaUsed })}`).toEqual(ts);
      const label = ts.kind === "placed" ? (c.held ? "placed-held" : "placed") : ts.reason;
      outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
    }
    // The generator must reach every branch, or agreement proves little.
    for (const label of ["placed", "placed-held", "QuotaExceeded", "PortUnavailable", "PoolExhausted"]) {
      expect(outcomes.get(label) ?? 0, `${label} cases in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(5);
    }
  });
});

describe("slot records", () => {
  it("a NodePort change republishes the allocation's ports without touching any slot", async () => {
    const prefix = "nodeport:{np}:";
    await client.set(`${prefix}ready`, "1");
    const store = new SlotStore(client, prefix);
    const policy = resolvePolicy({
      pools: [{ name: "public", addresses: ["203.0.113.1-203.0.113.2"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
      defaultPool: "public",
      releaseDelaySeconds: 30,
      purgeAfterSeconds: 3600,
    });
    const svc = serviceResource("a", "ns", "web", { ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }] });
    const args = (seq: number) => ({ owner: "a/ns/web", cluster: "a", namespace: "ns", name: "web", uid: svc.uid, seq, now: 1_000, releaseDelayMs: 30_000 });
    const claim = (s: ServiceResource, seq: number) => {
      const plan = planClaim(s, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      return store.apply(args(seq), { mode: "claim", request: plan.request, resource: s });
    };
    const first = await claim(svc, 1);
    const slotKeys = async () => {
      const keys = (await client.keys(`${prefix}*`)).filter((k) => /:(own|bits|load|ten|q):/.test(k) || k.endsWith("quota")).sort();
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
