import { describe, expect, it } from "vitest";
import { serviceResource } from "@sharedlb/testing";
import { SlotTableCorrupt } from "./adapters/slot-store.js";
import { poolPrefix } from "./adapters/table-keys.js";
import { planClaim } from "./domain/request.js";
import type { SlotRecord } from "./domain/slot-record.js";
import { fileRedis, poolTable, watchScripts } from "./test-support/script-calls.js";

// Script calls that fall due together (claims of events taken at once, marks of publishes
// acked at once) go to Redis in one call per pool: apply.lua and published.lua run once per
// change or mark of a call. Each must come out as it would alone, and one that fails must
// not fail the others. (ledger.int.test.ts: the same for the ledger's begins.)
const redis = fileRedis();

/**
 * Calls of scripts with a pool's key whose arguments come in groups of `per`, the first of
 * each an owner (published.lua's marks) or JSON (apply.lua's changes): how many groups each carried.
 */
/** apply.lua's changes in a call's arguments (each: the number of its arguments, then those, the mode first); undefined if they are not that. */
function applyChanges(rest: string[]): number | undefined {
  let i = 0;
  let changes = 0;
  while (i < rest.length) {
    const n = Number(rest[i]);
    if (!Number.isInteger(n) || n < 1 || !["claim", "reject", "release"].includes(rest[i + 1] ?? "")) return undefined;
    i += 1 + n;
    changes += 1;
  }
  return i === rest.length ? changes : undefined;
}

const countCalls = (kind: "marks" | "applies") =>
  watchScripts(redis.client(), (args) => {
    if (!args[3]?.includes("{p:")) return undefined;
    if (kind === "applies") return applyChanges(args.slice(4));
    return (args[4] ?? "").startsWith("a/") && (args.length - 4) % 4 === 0 ? (args.length - 4) / 4 : undefined;
  });

describe("batched script calls", () => {
  it("go in one call per pool when due together, each as alone; a bad record fails its mark only", async () => {
    const base = "marks:m:";
    const { store, policy } = await poolTable(redis.client(), base, "198.51.100.1-198.51.100.2", "1-65535");
    const names = ["s0", "s1", "s2", "s3"];
    const records: SlotRecord[] = [];
    const notes: string[] = [];
    for (const [i, name] of names.entries()) {
      const svc = serviceResource("a", "ns", name, { uid: name, ports: [{ name: "p", protocol: "TCP", port: 80 + i, nodePort: 30080 }] });
      const plan = planClaim(svc, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      const res = await store.apply(
        {
          owner: `a/ns/${name}`,
          cluster: "a",
          namespace: "ns",
          name,
          uid: name,
          seq: i + 1,
          now: 1_000,
          releaseDelayMs: 30_000,
          noteSend: true,
        },
        { mode: "claim", request: plan.request, resource: svc },
      );
      if (!res.record) throw new Error("no record");
      records.push(res.record);
      expect(res.note, `${name}: a send noted`).toBeDefined();
      notes.push(res.note ?? "");
    }
    const P = poolPrefix(base, "p");
    const stored = async (name: string) => JSON.parse((await redis.client().get(`${P}svc:a/ns/${name}`)) ?? "null") as SlotRecord;
    // s3's record is not what the scripts write: its mark fails, alone.
    await redis.client().set(`${P}svc:a/ns/s3`, "{not json");
    const counted = await countCalls("marks");
    try {
      const [r0, r1, r2, r3] = records as [SlotRecord, SlotRecord, SlotRecord, SlotRecord];
      const results = await Promise.allSettled([
        store.markPublishedIn("p", r0.owner, r0.version, 100, notes[0]),
        store.markPublished(r1.owner, r1.version + 1, 101),
        store.markPublishedIn("p", r2.owner, r2.version, 102),
        store.markPublishedIn("p", r3.owner, r3.version, 103),
        store.markPublishedIn("p", "a/ns/none", 1, 104),
      ]);
      expect(results.slice(0, 3).map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
      expect(results[0], "marked, its send note ended").toEqual({ status: "fulfilled", value: { marked: true, ended: true } });
      expect(results[1], "another version: not marked").toEqual({ status: "fulfilled", value: false });
      expect(results[2]).toEqual({ status: "fulfilled", value: { marked: true, ended: false } });
      expect(results[3]?.status).toBe("rejected");
      expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(SlotTableCorrupt);
      expect(results[4], "no record: not marked").toEqual({ status: "fulfilled", value: { marked: false, ended: false } });
      // markPublished read the homes first, so its mark went in a call of its own.
      expect((await counted.since()).sort(), "marks per published.lua call").toEqual([1, 4]);
      expect((await stored("s0")).allocSeq).toBe(100);
      expect(await stored("s1"), "another version: unchanged").toEqual(r1);
      expect((await stored("s2")).allocSeq).toBe(102);
      expect(await redis.client().zrange(`${P}outbox`, 0, -1), "what is still to publish").toEqual(["a/ns/s1", "a/ns/s3"]);
      expect((await redis.client().zrange(`${P}sending`, 0, -1)).sort(), "the send notes left").toEqual(
        notes
          .slice(1)
          .map((n) => n.slice(n.indexOf(">") + 1))
          .sort(),
      );
    } finally {
      counted.stop();
    }
  });
  it("apply.lua: the changes due together go in one call, each as alone; a bad record fails its change only", async () => {
    const base = "applies:a:";
    const { store, policy } = await poolTable(redis.client(), base, "198.51.100.1", "1-65535");
    const P = poolPrefix(base, "p");
    // s2's record is not what the scripts write.
    await redis.client().set(`${P}svc:a/ns/s2`, "{not json");
    await redis.client().sadd(`${base}{g}:homes:a/ns/s2`, "p");
    const claim = (name: string, seq: number, port: number) => {
      const svc = serviceResource("a", "ns", name, { uid: name, ports: [{ name: "p", protocol: "TCP", port, nodePort: 30080 }] });
      const plan = planClaim(svc, policy);
      if (plan.kind !== "claim") throw new Error(plan.rejection.message);
      return store.apply(
        { owner: `a/ns/${name}`, cluster: "a", namespace: "ns", name, uid: name, seq, now: 1_000, releaseDelayMs: 30_000 },
        { mode: "claim", request: plan.request, resource: svc },
      );
    };
    const counted = await countCalls("applies");
    try {
      // s0 and s1 want the same port on the one IP: the first in the call gets it, as if alone.
      const results = await Promise.allSettled([claim("s0", 1, 443), claim("s1", 2, 443), claim("s2", 3, 80), claim("s3", 4, 8080)]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      const [r0, r1, , r3] = results.map((r) => (r.status === "fulfilled" ? r.value.record : null));
      expect([r0?.state, r0?.claims]).toEqual(["Allocated", "TCP/443=443"]);
      expect([r1?.state, r1?.reason]).toEqual(["Pending", "PortUnavailable"]);
      expect([r3?.state, r3?.claims]).toEqual(["Allocated", "TCP/8080=8080"]);
      expect(String((results[2] as PromiseRejectedResult).reason)).toContain("apply.lua");
      expect(await counted.since(), "four changes in one call").toEqual([4]);
      expect(await redis.client().hgetall(`${P}own:p`)).toEqual({ "198.51.100.1|TCP|443": "a/ns/s0", "198.51.100.1|TCP|8080": "a/ns/s3" });
    } finally {
      counted.stop();
    }
  });
});
