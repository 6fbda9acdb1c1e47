import type { Allocation } from "@sharedlb/contracts";
import {
  type ManagedProcess,
  type NatsFixture,
  natsFixture,
  serviceResource,
  startNats,
  startRedis,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@sharedlb/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startAllocator, writePoolFile } from "../../../../services/allocator/src/test-support/allocator-process.js";
import { doubledSlots, type Fleet, movedSince, settled } from "./allocations.js";

// Fault matrix (issue 12): redis-server killed with SIGKILL mid-churn and restarted on its
// append-only file (appendfsync always), two allocators running. Nothing the allocators
// acknowledged may be lost, no Service may move, no slot may be held twice, and the slot
// table must be the one Redis had (not rebuilt from the streams: that is outages.int.test.ts).

const C = "crash";
const IPS = 10;
const POOLS = `
pools:
  - name: public
    addresses: ["198.51.100.1-198.51.100.${IPS}"]
    ports: "1-20000"
defaultPool: public
releaseDelaySeconds: 1
`;
// Forty distinct ports over ten IPs: most ports are wanted by several Services, so a slot
// held twice would show.
const portOf = (i: number) => 1000 + (i % 40);
const svc = (i: number) =>
  serviceResource(C, "ns", `svc-${i}`, { ports: [{ name: "p", protocol: "TCP", port: portOf(i), nodePort: 30080 }] });

let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
const allocators: ManagedProcess[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ appendonly: { fsync: "always" } })]);
  fx = await natsFixture(nats.url);
  const config = writePoolFile(POOLS);
  for (const replica of ["a1", "a2"]) allocators.push(await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica }));
});

afterAll(async () => {
  await Promise.all(allocators.map((a) => a.stop()));
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

it("a redis-server crash and restart with AOF mid-churn loses, moves and doubles nothing", async () => {
  const live = new Set<number>();
  const deleted = new Set<number>();
  const create = async (i: number) => {
    await fx.publishService(svc(i));
    live.add(i);
  };
  const remove = async (i: number) => {
    await fx.publishTombstone(C, "ns", `svc-${i}`, svc(i).uid);
    live.delete(i);
    deleted.add(i);
  };
  const fleet = (): Fleet => ({ cluster: C, live: [...live].map((i) => `ns/svc-${i}`), deleted: [...deleted].map((i) => `ns/svc-${i}`) });

  for (let i = 0; i < 150; i++) await create(i);
  const before = await waitFor("the first 150 Services allocated", async () => settled(await fx.allocations(), fleet()), 60_000, 100);

  // Churn through both allocators: new Services, deletions; Redis dies in the middle of it.
  let crashedAt = 0;
  let logged: number[] = [];
  let restartedAt = 0;
  for (let i = 150; i < 300; i++) {
    await create(i);
    if (i % 5 === 0) await remove(i - 150);
    if (i === 200) {
      logged = allocators.map((a) => a.output().length);
      await redis.crash();
      crashedAt = performance.now();
    }
    // Messages keep arriving during the outage (40 of them), until both allocators have
    // noticed it; then Redis comes back.
    if (i === 240) {
      await Promise.all(allocators.map((a) => a.waitForOutput(/Redis unavailable/, 30_000)));
      await redis.start();
      restartedAt = performance.now();
    }
  }
  const after = await waitFor("every Service settled after the crash", async () => settled(await fx.allocations(), fleet()), 90_000, 100);
  const converged = performance.now();

  expect(after.size, "every live Service allocated, every deleted one released").toBe(live.size + deleted.size);
  expect(movedSince(before, after, fleet()), "Services allocated before the crash kept IP and ports").toEqual([]);
  expect(doubledSlots(after), "no IP:port held by two Services").toEqual([]);
  // The table Redis wrote to its AOF came back: nothing had to be rebuilt from the streams.
  allocators.forEach((a, n) => {
    expect(a.output().slice(logged[n]), "allocator log since the crash").toMatch(/Redis reconnected/);
    expect(a.output().slice(logged[n]), "allocator log since the crash").not.toMatch(/slot table re-imported/);
  });

  // Redis' table matches what was published: new Services wanting the same ports land only
  // on free slots (a claim Redis forgot would be handed out again here).
  for (let i = 300; i < 360; i++) await create(i);
  const filled = await waitFor("60 more Services allocated", async () => settled(await fx.allocations(), fleet()), 60_000, 100);
  expect(doubledSlots(filled)).toEqual([]);
  expect(movedSince(after, filled, fleet())).toEqual([]);
  expect([...filled.values()].filter((a: Allocation) => a.state === "Allocated")).toHaveLength(live.size);

  console.log(
    `redis crash: down ${Math.round(restartedAt - crashedAt)} ms mid-churn; converged ${Math.round(converged - restartedAt)} ms after ` +
      `the restart (${live.size} live, ${deleted.size} deleted Services; 2 allocators; appendfsync always)`,
  );
  for (const a of allocators) expect(a.child.exitCode).toBeNull();
});
