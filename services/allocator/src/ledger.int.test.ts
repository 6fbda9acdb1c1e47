import { describe, expect, it } from "vitest";
import { rng, serviceResource } from "@sharedlb/testing";
import type { SlotStore } from "./adapters/slot-store.js";
import { globalPrefix, poolPrefix } from "./adapters/table-keys.js";
import type { AllocatorPolicy } from "./domain/pools.js";
import { planClaim } from "./domain/request.js";
import { parseClaims, type SlotRecord } from "./domain/slot-record.js";
import { fileRedis, poolTable, watchScripts } from "./test-support/script-calls.js";
import { shuffle } from "./test-support/shuffle.js";

// The quota ledger (lua/ledger.lua, under the global tag) and the records (under the pools'
// tags) are written by separate scripts around each claim (src/adapters/table-keys.ts). Some
// of those calls are skipped when they would change nothing: these tests count the calls and
// check, after events applied in any order and at once, that the ledger is what the records hold.
const redis = fileRedis();

/** A fresh slot table under `base`: pool "p" of `addresses` and `ports`, tenant a limited to `quota`, no quarantine. */
const table = (base: string, addresses: string, ports: string, quota: { services: number; ports: number }) =>
  poolTable(redis.client(), base, addresses, ports, { quotas: { a: quota }, releaseDelaySeconds: 0 });

/** The ledger script's calls (lua/ledger.lua, the one script keyed by the global tag's prefix), by op; "begin×n": n begins in one call. */
const countLedger = () =>
  watchScripts(redis.client(), (args) => {
    if (!args[3]?.endsWith("{g}:")) return undefined;
    // A call carries one or more begins (11 fields and n `also` owners each).
    let begins = 0;
    for (let i = 5; args[4] === "begin" && i < args.length; i += 11 + Number(args[i + 10])) begins++;
    return begins > 1 ? `begin×${begins}` : (args[4] ?? "");
  });

type Event = { owner: string; cluster: string; name: string; seq: number; ports: number[]; release: boolean };

function applyEvent(store: SlotStore, policy: AllocatorPolicy, e: Event) {
  const args = {
    owner: e.owner,
    cluster: e.cluster,
    namespace: "ns",
    name: e.name,
    uid: e.name,
    seq: e.seq,
    now: 1_000,
    releaseDelayMs: 0,
  };
  if (e.release) return store.apply(args, { mode: "release" });
  const svc = serviceResource(e.cluster, "ns", e.name, {
    uid: e.name,
    annotations: { "sharedlb.io/port-policy": "any" },
    ports: e.ports.map((port, i) => ({ name: `p${i}`, protocol: "TCP" as const, port, nodePort: 30000 + i })),
  });
  const plan = planClaim(svc, policy);
  if (plan.kind !== "claim") throw new Error(plan.rejection.message);
  return store.apply(args, { mode: "claim", request: plan.request, resource: svc });
}

/** Every owner's ledger entry is what its record holds, the sums are the entries', and every record's home is noted. */
async function expectLedgerIsRecords(base: string, owners: readonly string[]) {
  const g = globalPrefix(base);
  const sums = new Map<string, { s: number; p: number }>();
  for (const owner of owners) {
    const cluster = owner.split("/")[0] ?? "";
    const raw = await redis.client().get(`${poolPrefix(base, "p")}svc:${owner}`);
    const rec = raw ? (JSON.parse(raw) as SlotRecord) : null;
    const held = rec?.state === "Allocated" ? { s: 1, p: parseClaims(rec.claims).length } : { s: 0, p: 0 };
    const entry = await redis.client().hget(`${g}quota:${cluster}`, owner);
    const [s = "0", p = "0"] = (entry ?? "0|0|0").split("|");
    expect(
      { owner, s: Number(s), p: Number(p) },
      `${owner}'s ledger entry (${entry}), record ${rec?.state} v${rec?.version} ${rec?.claims}`,
    ).toEqual({ owner, ...held });
    if (rec) expect(await redis.client().smembers(`${g}homes:${owner}`), `${owner}'s homes`).toContain("p");
    const sum = sums.get(cluster) ?? { s: 0, p: 0 };
    sums.set(cluster, { s: sum.s + held.s, p: sum.p + held.p });
  }
  const totals = await redis.client().hgetall(`${g}quotat`);
  for (const [cluster, sum] of sums) {
    expect({ cluster, s: Number(totals[`${cluster}|s`] ?? 0), p: Number(totals[`${cluster}|p`] ?? 0) }, `${cluster}'s sums`).toEqual({
      cluster,
      ...sum,
    });
  }
  return sums;
}

describe("the quota ledger", () => {
  it("a new Service's claim reserves at version 1 and skips its settle; every other change settles", async () => {
    const base = "fresh:f:";
    const { store, policy } = await table(base, "198.51.100.1-198.51.100.2", "1-65535", { services: 10, ports: 10 });
    const owner = "a/ns/web";
    const entry = () => redis.client().hget(`${globalPrefix(base)}quota:a`, owner);
    const ledger = await countLedger();
    try {
      const first = await applyEvent(store, policy, { owner, cluster: "a", name: "web", seq: 1, ports: [80, 443], release: false });
      expect(first.record?.version).toBe(1);
      expect(await ledger.since(), "a new Service's claim: begin only").toEqual(["begin"]);
      expect(await entry()).toBe("1|2|1");

      await applyEvent(store, policy, { owner, cluster: "a", name: "web", seq: 1, ports: [80, 443], release: false });
      expect(await ledger.since(), "the same event again: begin only").toEqual(["begin"]);

      const grown = await applyEvent(store, policy, { owner, cluster: "a", name: "web", seq: 2, ports: [80, 443, 8080], release: false });
      expect(grown.record?.version).toBe(2);
      expect(await ledger.since(), "a port added (the reservation raised): settled").toEqual(["begin", "settle"]);
      expect(await entry()).toBe("1|3|2");

      await applyEvent(store, policy, { owner, cluster: "a", name: "web", seq: 3, ports: [], release: true });
      expect(await ledger.since(), "released: settled").toEqual(["begin", "settle"]);
      expect(await entry()).toBe("0|0|3");

      // Re-created under the same name: a home is noted, so it is no new owner and settles.
      const again = await applyEvent(store, policy, { owner, cluster: "a", name: "web", seq: 4, ports: [80], release: false });
      expect(again.record?.version).toBe(4);
      expect(await ledger.since(), "a record exists (Released): settled").toEqual(["begin", "settle"]);
      expect(await entry()).toBe("1|1|4");

      // A new Service that ends Pending holds nothing: its reservation is settled to zero.
      const { store: tiny, policy: tinyPolicy } = await table("full:f:", "198.51.100.9", "1-1", { services: 10, ports: 10 });
      await applyEvent(tiny, tinyPolicy, { owner: "a/ns/one", cluster: "a", name: "one", seq: 1, ports: [1], release: false });
      const waiting = await applyEvent(tiny, tinyPolicy, {
        owner: "a/ns/two",
        cluster: "a",
        name: "two",
        seq: 2,
        ports: [1],
        release: false,
      });
      expect(waiting.record?.state).toBe("Pending");
      expect(await ledger.since(), "one Allocated (begin), one Pending (begin, settle)").toEqual(["begin", "begin", "settle"]);
      expect(await redis.client().hget(`${globalPrefix("full:f:")}quota:a`, "a/ns/two")).toBe("0|0|1");
      await expectLedgerIsRecords("full:f:", ["a/ns/one", "a/ns/two"]);
    } finally {
      ledger.stop();
    }
  });

  it("takes the begins due together in one call, each as alone; a bad ledger entry fails its begin only", async () => {
    const base = "begins:b:";
    const { store, policy } = await table(base, "198.51.100.1-198.51.100.2", "1-65535", { services: 10, ports: 10 });
    // s2's ledger entry is not what the script writes.
    await redis.client().hset(`${globalPrefix(base)}quota:a`, "a/ns/s2", "garbage");
    const ledger = await countLedger();
    try {
      const results = await Promise.allSettled(
        ["s0", "s1", "s2", "s3"].map((name, i) =>
          applyEvent(store, policy, { owner: `a/ns/${name}`, cluster: "a", name, seq: i + 1, ports: [80 + i], release: false }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect(String((results[2] as PromiseRejectedResult).reason)).toContain("ledger.lua begin");
      expect(await ledger.since(), "four begins in one call, no settle").toEqual(["begin×4"]);
    } finally {
      ledger.stop();
    }
    await redis.client().hdel(`${globalPrefix(base)}quota:a`, "a/ns/s2");
    await expectLedgerIsRecords(base, ["a/ns/s0", "a/ns/s1", "a/ns/s2", "a/ns/s3"]);
  });

  it("is what the records hold after events of the same Services applied at once and in any order", async () => {
    const rand = rng(20261204);
    for (let round = 0; round < 12; round++) {
      const base = `race${round}:r:`;
      // Two IPs with three ports each: some claims wait for room, tenant a also for its quota.
      const { store, policy } = await table(base, "198.51.100.1-198.51.100.2", "1-3", { services: 3, ports: 4 });
      // Few events per Service, so a new Service's claim is often its last one.
      const owners = [...["a", "b"].flatMap((c) => Array.from({ length: 6 }, (_, i) => `${c}/ns/s${i}`))];
      const events: Event[] = [];
      let seq = 0;
      for (let k = 0; k < 18; k++) {
        const owner = owners[Math.floor(rand() * owners.length)] ?? "";
        const [cluster = "", , name = ""] = owner.split("/");
        const ports = Array.from({ length: 1 + Math.floor(rand() * 2) }, (_, i) => 1 + i + Math.floor(rand() * 2));
        events.push({ owner, cluster, name, seq: ++seq, ports: [...new Set(ports)], release: rand() < 0.2 });
      }
      // All at once, as replicas would take them (and again: redeliveries), in a random order.
      await Promise.all(shuffle([...events, ...events.filter(() => rand() < 0.3)], rand).map((e) => applyEvent(store, policy, e)));
      const sums = await expectLedgerIsRecords(base, owners);
      const a = sums.get("a") ?? { s: 0, p: 0 };
      expect(a.s, "tenant a within its Service quota").toBeLessThanOrEqual(3);
      expect(a.p, "tenant a within its port quota").toBeLessThanOrEqual(4);
    }
  });
});
