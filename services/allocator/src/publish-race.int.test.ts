import type { ServiceResource } from "@sharedlb/contracts";
import { type NatsFixture, natsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis } from "@sharedlb/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { JetStreamAllocationPublisher } from "./adapters/publisher.js";
import { SlotStore } from "./adapters/slot-store.js";
import { resolvePolicy } from "./domain/pools.js";
import { planClaim } from "./domain/request.js";
import type { SlotRecord } from "./domain/slot-record.js";

// replicas.int.test once ended with a re-created Service published on its old uid. The
// interleaving, forced here step by step against real Redis and NATS: replica A applies the
// tombstone and sends that allocation; replica B applies the re-create, publishes it first
// and marks it published (the outbox entry goes); A's older message lands after B's, and A
// is killed before its own markPublished would have failed and sent the current one again.
// Nothing is left in the outbox and the redelivered tombstone is stale: only the note of
// A's unfinished send, which the janitor finishes, puts the current allocation last.
let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let client: Redis;
let store: SlotStore;
const policy = resolvePolicy({
  pools: [{ name: "public", addresses: ["203.0.113.1"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
  defaultPool: "public",
  releaseDelaySeconds: 0,
  purgeAfterSeconds: 3600,
});

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  client = new Redis(redis.url);
  store = new SlotStore(client);
  await store.markReady();
});
afterAll(async () => {
  client?.disconnect();
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

class ReplicaKilled extends Error {
  readonly reason = "ReplicaKilled";
}

const base = (svc: ServiceResource, seq: number) => ({
  owner: `${svc.cluster}/${svc.namespace}/${svc.name}`,
  cluster: svc.cluster,
  namespace: svc.namespace,
  name: svc.name,
  uid: svc.uid,
  seq,
  now: Date.now(),
  releaseDelayMs: 0,
});
async function claim(svc: ServiceResource, seq: number): Promise<SlotRecord> {
  const plan = planClaim(svc, policy);
  if (plan.kind !== "claim") throw new Error(`unexpected rejection: ${plan.rejection.message}`);
  const res = await store.apply(base(svc, seq), { mode: "claim", request: plan.request, resource: svc });
  if (!res.record) throw new Error("no record");
  return res.record;
}

it("an older allocation that lands after the current one from a replica killed before its markPublished is corrected once the janitor finishes the abandoned send", async () => {
  const old = serviceResource("c8", "ns1", "svc-708", { uid: "uid-708" });
  const publisherB = new JetStreamAllocationPublisher(fx.js, store, "sharedlb/allocator/replica-b");
  // Replica A dies right after its message went out: its markPublished never runs.
  const publisherA = new JetStreamAllocationPublisher(
    fx.js,
    {
      record: (owner) => store.record(owner),
      markPublished: () => Promise.reject(new ReplicaKilled("replica A was killed")),
      beginSend: (owner, now) => store.beginSend(owner, now),
      endSend: (token) => store.endSend(token),
      abandonedSends: (before, limit) => store.abandonedSends(before, limit),
    },
    "sharedlb/allocator/replica-a",
  );
  await publisherB.publish(await claim(old, 1));

  const tombstoned = (await store.apply({ ...base(old, 2), uid: "uid-708" }, { mode: "release" })).record;
  if (!tombstoned) throw new Error("no record");
  const recreated = await claim({ ...old, uid: "uid-708-again" }, 3);
  await publisherB.publish(recreated);
  await expect(publisherA.publish(tombstoned)).rejects.toBeInstanceOf(ReplicaKilled);

  // A's unacked tombstone goes to another replica: stale, and nothing is left to publish.
  const redelivered = await store.apply({ ...base(old, 2), uid: "uid-708" }, { mode: "release" });
  expect({ outcome: redelivered.outcome, publish: redelivered.publish }).toEqual({ outcome: "stale", publish: false });

  // The janitor's pass over abandoned sends (any age here) puts the current one last.
  await publisherB.recoverAbandoned(Number.MAX_SAFE_INTEGER, 10);
  const published = (await fx.allocations()).get("c8/ns1/svc-708");
  expect({ uid: published?.uid, state: published?.state }).toEqual({ uid: "uid-708-again", state: "Allocated" });
  expect(await store.abandonedSends(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
});
