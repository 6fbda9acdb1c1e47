import { randomUUID } from "node:crypto";
import { isNatsUnavailable } from "@sharedlb/runtime";
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

// Fault matrix (issue 12): nats-server stopped and restarted on its file store while two
// allocators work through a churn of creations and deletions. Messages the allocators had
// pulled but not yet acknowledged, and acknowledgements that never reached the server, come
// back as redeliveries: none may be lost, move a Service or hand a slot out twice.

const C = "natsrestart";
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
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  const config = writePoolFile(POOLS);
  for (const replica of ["a1", "a2"]) allocators.push(await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica }));
});

afterAll(async () => {
  await Promise.all(allocators.map((a) => a.stop()));
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

/**
 * Publishes as the watcher does across an outage: retried with the same event id until
 * NATS takes it, so a publish whose ack was lost is deduplicated, not applied twice.
 */
async function publishRetried(publish: (id: string) => Promise<number>): Promise<void> {
  const id = randomUUID();
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      await publish(id);
      return;
    } catch (err) {
      if (!isNatsUnavailable(err) || performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

it("a nats-server restart mid-churn loses, moves and doubles nothing", async () => {
  const live = new Set<number>();
  const deleted = new Set<number>();
  const create = async (i: number) => {
    await publishRetried((id) => fx.publishService(svc(i), id));
    live.add(i);
  };
  const remove = async (i: number) => {
    await publishRetried((id) => fx.publishTombstone(C, "ns", `svc-${i}`, svc(i).uid, id));
    live.delete(i);
    deleted.add(i);
  };
  const fleet = (): Fleet => ({ cluster: C, live: [...live].map((i) => `ns/svc-${i}`), deleted: [...deleted].map((i) => `ns/svc-${i}`) });

  for (let i = 0; i < 150; i++) await create(i);
  const before = await waitFor("the first 150 Services allocated", async () => settled(await fx.allocations(), fleet()), 60_000, 100);

  // Churn through both allocators; NATS goes away while they still work on the last burst.
  let stoppedAt = 0;
  let restartedAt = 0;
  for (let i = 150; i < 300; i++) {
    await create(i);
    if (i % 5 === 0) await remove(i - 150);
    if (i === 200) {
      const logged = allocators.map((a) => a.output().length);
      await nats.stop();
      stoppedAt = performance.now();
      await waitFor(
        "both allocators noticed the outage",
        () => allocators.every((a, n) => /"nats":"disconnect"/.test(a.output().slice(logged[n]))),
        30_000,
      );
      await nats.start();
      restartedAt = performance.now();
    }
  }
  const after = await waitFor("every Service settled after the restart", async () => settled(await fx.allocations(), fleet()), 90_000, 100);
  const converged = performance.now();

  expect(after.size, "every live Service allocated, every deleted one released").toBe(live.size + deleted.size);
  expect(movedSince(before, after, fleet()), "Services allocated before the restart kept IP and ports").toEqual([]);
  expect(doubledSlots(after), "no IP:port held by two Services").toEqual([]);

  // The slot table still matches what was published: new Services wanting the same ports
  // land only on free slots.
  for (let i = 300; i < 360; i++) await create(i);
  const filled = await waitFor("60 more Services allocated", async () => settled(await fx.allocations(), fleet()), 60_000, 100);
  expect(doubledSlots(filled)).toEqual([]);
  expect(movedSince(after, filled, fleet())).toEqual([]);
  expect([...filled.values()].filter((a) => a.state === "Allocated")).toHaveLength(live.size);

  console.log(
    `nats restart: down ${Math.round(restartedAt - stoppedAt)} ms mid-churn; converged ${Math.round(converged - restartedAt)} ms after ` +
      `the restart (${live.size} live, ${deleted.size} deleted Services; 2 allocators; file storage)`,
  );
  for (const a of allocators) expect(a.child.exitCode).toBeNull();
});
