import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { createRootLogger } from "@sharedlb/runtime";
import type { SlotRecord } from "../domain/slot-record.js";
import { allocatorMetrics } from "../metrics.js";
import { Janitor } from "./janitor.js";
import type { SlotTableMaintenance, StreamPurger } from "./ports.js";

// The janitor's decisions against fakes of its ports (pure logic; the real slot table is
// exercised by the integration tests).
function record(owner: string, over: Partial<SlotRecord>): SlotRecord {
  const [cluster = "", namespace = "", name = ""] = owner.split("/");
  return {
    owner, cluster, namespace, name, uid: "u", seq: 7, resourceSequence: 7, version: 3, state: "Released",
    pool: "", ip: "", claims: "", reason: "", message: "", resource: "", allocSeq: 11, releasedAt: 0, incarnationSeq: 1,
    ...over,
  };
}

function harness(records: SlotRecord[], opts: { ready?: boolean; lease?: boolean; l7Waiting?: string[] } = {}) {
  const byOwner = new Map(records.map((r) => [r.owner, r]));
  const calls: string[] = [];
  const slots: SlotTableMaintenance = {
    apply: () => Promise.reject(new Error("not used")),
    record: async (owner) => byOwner.get(owner) ?? null,
    isReady: async () => opts.ready ?? true,
    holdLease: async () => opts.lease ?? true,
    releaseLease: async () => {},
    expireQuarantine: async () => 0,
    epoch: async () => 1,
    waiting: async () => [...records.filter((r) => r.state === "Pending").map((r) => r.owner), ...(opts.l7Waiting ?? [])],
    unpublished: async () => records.filter((r) => r.allocSeq === 0).map((r) => r.owner),
    releasedBefore: async () => [...byOwner.keys()],
    forget: async (owner, version) => {
      calls.push(`forget ${owner}@${version}`);
      return true;
    },
    beginSend: () => Promise.reject(new Error("not used")),
    endSend: async () => {},
    abandonedSends: async () => [],
  };
  const purger: StreamPurger = {
    purgeResource: async (owner, seq) => void calls.push(`purge resource ${owner} <=${seq}`),
    purgeAllocation: async (owner, seq) => void calls.push(`purge allocation ${owner} <=${seq}`),
  };
  const janitor = new Janitor({
    slots,
    allocator: {
      retry: async (owner) => {
        calls.push(`retry ${owner}`);
        return "unchanged";
      },
    },
    publisher: { publish: async (r) => void calls.push(`publish ${r.owner}@${r.version}`), republish: () => Promise.reject(new Error("not used")) },
    l7: {
      slots: { record: async () => null },
      allocator: {
        retry: async (owner) => {
          calls.push(`l7 retry ${owner}`);
          return "unchanged";
        },
      },
      publisher: { publish: async (r) => void calls.push(`l7 publish ${r.owner}`), republish: () => Promise.reject(new Error("not used")) },
    },
    importer: { ensure: async () => void calls.push("import") },
    purger,
    metrics: allocatorMetrics(new Registry()),
    log: createRootLogger("test", "warn"),
    intervalMs: 100,
    purgeAfterMs: 1_000,
    replica: "r1",
  });
  return { janitor, calls };
}

describe("Janitor", () => {
  it("purges a Released Service's messages up to the sequences it knows, then forgets it", async () => {
    const { janitor, calls } = harness([record("a/ns/gone", {})]);
    await janitor.tick(100_000);
    expect(calls).toEqual(["purge resource a/ns/gone <=7", "purge allocation a/ns/gone <=11", "forget a/ns/gone@3"]);
  });

  it("never purges a Service that is no longer Released (re-created meanwhile)", async () => {
    const { janitor, calls } = harness([record("a/ns/back", { state: "Allocated", allocSeq: 12 })]);
    await janitor.tick(100_000);
    expect(calls.filter((c) => c.startsWith("purge"))).toEqual([]);
  });

  it("retries Pending Services and republishes what was committed but never published", async () => {
    const { janitor, calls } = harness([record("a/ns/waits", { state: "Pending", allocSeq: 5 }), record("a/ns/lost", { state: "Allocated", allocSeq: 0, version: 4 })]);
    await janitor.tick(100_000);
    expect(calls).toContain("retry a/ns/waits");
    expect(calls).toContain("publish a/ns/lost@4");
  });

  it("retries a waiting Gateway through the L7 allocator, never the Services' one", async () => {
    const { janitor, calls } = harness([], { l7Waiting: ["a/ns/edge/gateway"] });
    await janitor.tick(100_000);
    expect(calls).toContain("l7 retry a/ns/edge/gateway");
    expect(calls).not.toContain("retry a/ns/edge/gateway");
  });

  it("re-imports first when the slot table is not ready, and does nothing else", async () => {
    const { janitor, calls } = harness([record("a/ns/gone", {})], { ready: false });
    await janitor.tick(100_000);
    expect(calls).toEqual(["import"]);
  });

  it("does nothing without the lease (another replica runs the pass)", async () => {
    const { janitor, calls } = harness([record("a/ns/gone", {}), record("a/ns/waits", { state: "Pending" })], { lease: false });
    await janitor.tick(100_000);
    expect(calls).toEqual([]);
  });
});
