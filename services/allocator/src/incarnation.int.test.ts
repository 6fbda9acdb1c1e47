import { afterAll, beforeAll, expect, it } from "vitest";
import { Redis } from "ioredis";
import { serviceResource, startRedis, type TestRedis } from "@sharedlb/testing";
import type { ServiceResource } from "@sharedlb/contracts";
import { SlotStore } from "./adapters/slot-store.js";
import { resolvePolicy } from "./domain/pools.js";
import { planClaim } from "./domain/request.js";

// The claim script's incarnation rules, against a real redis-server: a deletion applies only
// to the object (uid) it names, whichever replica handles which event first.
let server: TestRedis;
let client: Redis;
let store: SlotStore;
const policy = resolvePolicy({
  pools: [{ name: "public", addresses: ["203.0.113.1"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
  defaultPool: "public",
  releaseDelaySeconds: 0,
  purgeAfterSeconds: 3600,
});

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  store = new SlotStore(client, "test:inc:", ["public"]);
  await store.markReady();
});
afterAll(async () => {
  client?.disconnect();
  await server?.dispose();
});

const base = (svc: ServiceResource, seq: number) => ({
  owner: `${svc.cluster}/${svc.namespace}/${svc.name}`,
  cluster: svc.cluster,
  namespace: svc.namespace,
  name: svc.name,
  uid: svc.uid,
  seq,
  now: 1_000,
  releaseDelayMs: 0,
});
function claim(svc: ServiceResource, seq: number) {
  const plan = planClaim(svc, policy);
  if (plan.kind !== "claim") throw new Error(`unexpected rejection: ${plan.rejection.message}`);
  return store.apply(base(svc, seq), { mode: "claim", request: plan.request, resource: svc });
}
const release = (svc: ServiceResource, uid: string, seq: number) => store.apply({ ...base(svc, seq), uid }, { mode: "release" });

it("a late tombstone of an earlier object leaves the re-created Service allocated", async () => {
  const first = serviceResource("a", "ns", "late", { uid: "first" });
  const second = { ...first, uid: "second" };
  await claim(first, 1);
  await release(first, "first", 2);
  expect((await claim(second, 3)).record?.state).toBe("Allocated");
  const late = await release(first, "first", 4);
  expect(late.outcome).toBe("staleIncarnation");
  expect(await store.record("a/ns/late")).toMatchObject({ state: "Allocated", uid: "second" });
});

it("a re-created Service's event handled after the earlier object's later tombstone still applies", async () => {
  // Stream: create(first)@1, create(second)@2, tombstone(first)@3 — one replica handles @3
  // before another handles @2. The tombstone never named `second`.
  const first = serviceResource("a", "ns", "race", { uid: "first", ports: [{ name: "p", protocol: "TCP", port: 81, nodePort: 30081 }] });
  const second = { ...first, uid: "second" };
  await claim(first, 1);
  expect((await release(first, "first", 3)).record?.state).toBe("Released");
  const res = await claim(second, 2);
  expect(res.outcome).toBe("applied");
  expect(res.record).toMatchObject({ state: "Allocated", uid: "second" });
  // The tombstone again (redelivered) is now of another incarnation and changes nothing.
  expect((await release(first, "first", 3)).outcome).toBe("staleIncarnation");
  // An event of the earlier object older than its tombstone stays stale.
  expect((await claim(first, 1)).outcome).toBe("stale");
});

it("an event of an object older than the one released stays stale", async () => {
  // create(zero)@1, create(first)@2, tombstone(first)@3, then create(zero)@1 redelivered late.
  const zero = serviceResource("a", "ns", "old", { uid: "zero", ports: [{ name: "p", protocol: "TCP", port: 82, nodePort: 30082 }] });
  const first = { ...zero, uid: "first" };
  await claim(zero, 1);
  await claim(first, 2);
  await release(first, "first", 3);
  expect((await claim(zero, 1)).outcome).toBe("stale");
  expect(await store.record("a/ns/old")).toMatchObject({ state: "Released", uid: "first" });
});
