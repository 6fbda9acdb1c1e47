import type { ServiceResource } from "@sharedlb/contracts";
import { type NatsFixture, natsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis, waitFor } from "@sharedlb/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Registry } from "prom-client";
import { createRootLogger } from "@sharedlb/runtime";
import { L7SlotStore } from "./adapters/l7-slot-store.js";
import { JetStreamAllocationPublisher, JetStreamL7AllocationPublisher } from "./adapters/publisher.js";
import { DEFAULT_PREFIX, SlotStore } from "./adapters/slot-store.js";
import { L7Allocator } from "./app/l7-allocator.js";
import type { L7AllocationPublisher } from "./app/l7-ports.js";
import { OwnerPublisher } from "./app/owner-publisher.js";
import { resolvePolicy } from "./domain/pools.js";
import { planClaim } from "./domain/request.js";
import type { SlotRecord } from "./domain/slot-record.js";
import { allocatorMetrics } from "./metrics.js";
import { gateway, gatewayMessage, gatewayTombstoneMessage, l7Allocations, listener } from "./test-support/l7-fixtures.js";

// replicas.int.test once ended with a re-created Service published on its old uid. The
// interleaving, forced here step by step against real Redis and NATS: replica A applies the
// tombstone and sends that allocation; replica B applies the re-create, publishes it first
// and marks it published (the outbox entry goes); A's older message lands after B's, and A
// is killed before its own markPublished would have failed and sent the current one again.
// Nothing is left in the outbox and the redelivered tombstone is stale: only the note of
// A's unfinished send, which the janitor finishes, puts the current allocation last. The
// same for a Gateway (its allocations go through the L7 publisher), and for a Service whose
// send the apply itself noted (the allocator's path: the note is in the pool's tag).
let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let client: Redis;
let store: SlotStore;
let l7Store: L7SlotStore;
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
  store = new SlotStore(client, DEFAULT_PREFIX, ["public"]);
  l7Store = new L7SlotStore(client);
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

/** Replica A's slot table as its publisher sees it: A dies right after a message went out, before its markPublished. */
const killedAfterSend = {
  record: (owner: string) => store.record(owner),
  markPublished: () => Promise.reject(new ReplicaKilled("replica A was killed")),
  markPublishedIn: () => Promise.reject(new ReplicaKilled("replica A was killed")),
  beginSend: (owner: string, now: number) => store.beginSend(owner, now),
  endSend: (token: string) => store.endSend(token),
};

/** The janitor's pass over abandoned sends (any age here), with replica B's publishers. */
function janitorOfB(): OwnerPublisher {
  return new OwnerPublisher({
    slots: store,
    publisher: new JetStreamAllocationPublisher(fx.js, store, "sharedlb/allocator/replica-b"),
    l7: { slots: l7Store, publisher: new JetStreamL7AllocationPublisher(fx.js, l7Store, store, "sharedlb/allocator/replica-b") },
  });
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
  const publisherA = new JetStreamAllocationPublisher(fx.js, killedAfterSend, "sharedlb/allocator/replica-a");
  await publisherB.publish(await claim(old, 1));

  const tombstoned = (await store.apply({ ...base(old, 2), uid: "uid-708" }, { mode: "release" })).record;
  if (!tombstoned) throw new Error("no record");
  const recreated = await claim({ ...old, uid: "uid-708-again" }, 3);
  await publisherB.publish(recreated);
  await expect(publisherA.publish(tombstoned)).rejects.toBeInstanceOf(ReplicaKilled);

  // A's unacked tombstone goes to another replica: stale, and nothing is left to publish.
  const redelivered = await store.apply({ ...base(old, 2), uid: "uid-708" }, { mode: "release" });
  expect({ outcome: redelivered.outcome, publish: redelivered.publish }).toEqual({ outcome: "stale", publish: false });

  await janitorOfB().finishAbandoned(store, Number.MAX_SAFE_INTEGER, 10);
  const published = (await fx.allocations()).get("c8/ns1/svc-708");
  expect({ uid: published?.uid, state: published?.state }).toEqual({ uid: "uid-708-again", state: "Allocated" });
  expect(await store.abandonedSends(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
});

it("the same for a Gateway: an older L7 allocation that lands last from a killed replica is corrected by the janitor", async () => {
  const l7 = (publisher: L7AllocationPublisher) =>
    new L7Allocator({ policy, slots: l7Store, publisher, metrics: allocatorMetrics(new Registry()), log: createRootLogger("test", "warn") });
  const allocatorB = l7(new JetStreamL7AllocationPublisher(fx.js, l7Store, store, "sharedlb/allocator/replica-b"));
  // Replica A's send is held until B has published the re-created Gateway, then A dies.
  const publisherA = new JetStreamL7AllocationPublisher(fx.js, l7Store, killedAfterSend, "sharedlb/allocator/replica-a");
  let letASend = () => {};
  const aMaySend = new Promise<void>((resolve) => {
    letASend = resolve;
  });
  const allocatorA = l7({ publish: async (rec) => aMaySend.then(() => publisherA.publish(rec)), republish: (rec) => publisherA.republish(rec) });

  const old = gateway("c9", "ns1", "edge", [listener("http", "HTTP", 8088, "race.c9.test")], { uid: "uid-709" });
  expect(await allocatorB.handle(gatewayMessage(old), 1)).toBe("applied");
  const tombstoneByA = allocatorA.handle(gatewayTombstoneMessage(old, "uid-709"), 2);
  await waitFor("replica A applied the tombstone", async () => (await l7Store.record("c9/ns1/edge/gateway"))?.state === "Released", 5_000);
  expect(await allocatorB.handle(gatewayMessage({ ...old, uid: "uid-709-again" }), 3)).toBe("applied");
  letASend();
  await expect(tombstoneByA).rejects.toBeInstanceOf(ReplicaKilled);
  const landedLast = (await l7Allocations(fx)).get("c9/ns1/edge/gateway");
  expect({ uid: landedLast?.uid, state: landedLast?.state }).toEqual({ uid: "uid-709", state: "Released" });

  // A's tombstone, redelivered to B, is stale: nothing else would ever publish the current one.
  expect(await allocatorB.handle(gatewayTombstoneMessage(old, "uid-709"), 2)).toBe("stale");
  await janitorOfB().finishAbandoned(store, Number.MAX_SAFE_INTEGER, 10);
  const published = (await l7Allocations(fx)).get("c9/ns1/edge/gateway");
  expect({ uid: published?.uid, state: published?.state, claimed: published?.listeners[0]?.claimedHostnames }).toEqual({
    uid: "uid-709-again",
    state: "Allocated",
    claimed: ["race.c9.test"],
  });
  expect(await store.abandonedSends(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
});

it("the same when the apply noted the send (the allocator's path): the note is in the pool's tag, and the janitor finishes it from there", async () => {
  // A port of its own: the pool's one IP keeps the first test's port 80.
  const old = serviceResource("c10", "ns1", "svc-710", { uid: "uid-710", ports: [{ name: "http", protocol: "TCP", port: 7100, nodePort: 30710 }] });
  const publisherB = new JetStreamAllocationPublisher(fx.js, store, "sharedlb/allocator/replica-b");
  const publisherA = new JetStreamAllocationPublisher(fx.js, killedAfterSend, "sharedlb/allocator/replica-a");
  await publisherB.publish(await claim(old, 1));

  const tombstoned = await store.apply({ ...base(old, 2), noteSend: true }, { mode: "release" });
  if (!tombstoned.record || !tombstoned.note) throw new Error("the tombstone's apply noted no send");
  await publisherB.publish(await claim({ ...old, uid: "uid-710-again" }, 3));
  const hints = { notes: [tombstoned.note], ...(tombstoned.home !== undefined ? { home: tombstoned.home } : {}) };
  await expect(publisherA.publish(tombstoned.record, hints)).rejects.toBeInstanceOf(ReplicaKilled);
  const landedLast = (await fx.allocations()).get("c10/ns1/svc-710");
  expect({ uid: landedLast?.uid, state: landedLast?.state }).toEqual({ uid: "uid-710", state: "Released" });

  const redelivered = await store.apply({ ...base(old, 2), noteSend: true }, { mode: "release" });
  expect({ outcome: redelivered.outcome, publish: redelivered.publish, note: redelivered.note }).toEqual({ outcome: "stale", publish: false, note: undefined });
  await janitorOfB().finishAbandoned(store, Number.MAX_SAFE_INTEGER, 10);
  const published = (await fx.allocations()).get("c10/ns1/svc-710");
  expect({ uid: published?.uid, state: published?.state }).toEqual({ uid: "uid-710-again", state: "Allocated" });
  expect(await store.abandonedSends(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
});
