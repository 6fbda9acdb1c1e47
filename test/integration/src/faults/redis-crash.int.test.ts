import { afterAll, beforeAll, expect, it } from "vitest";
import { ChurnLedger, type ChurnWorld, expectNothingLostMovedOrDoubled, startChurnWorld } from "./churn.js";

// Fault matrix (issue 12): redis-server killed with SIGKILL mid-churn and restarted on its
// append-only file (appendfsync always), two allocators running. Nothing the allocators
// acknowledged may be lost, no Service may move, no slot may be held twice, and the slot
// table must be the one Redis had (not rebuilt from the streams: that is outages.int.test.ts).

let world: ChurnWorld;

beforeAll(async () => {
  world = await startChurnWorld({ appendonly: { fsync: "always" } });
});

afterAll(async () => {
  await world?.stop();
});

it("a redis-server crash and restart with AOF mid-churn loses, moves and doubles nothing", async () => {
  const { redis, allocators } = world;
  const ledger = new ChurnLedger(world, "crash");

  for (let i = 0; i < 150; i++) await ledger.create(i);
  const before = await ledger.settled("the first 150 Services allocated", 60_000);

  // Churn through both allocators: new Services, deletions; Redis dies in the middle of it.
  let crashedAt = 0;
  let logged: number[] = [];
  let restartedAt = 0;
  for (let i = 150; i < 300; i++) {
    await ledger.create(i);
    if (i % 5 === 0) await ledger.remove(i - 150);
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
  const after = await ledger.settled("every Service settled after the crash", 90_000);
  const converged = performance.now();

  // The table Redis wrote to its AOF came back: nothing had to be rebuilt from the streams.
  allocators.forEach((a, n) => {
    expect(a.output().slice(logged[n]), "allocator log since the crash").toMatch(/Redis reconnected/);
    expect(a.output().slice(logged[n]), "allocator log since the crash").not.toMatch(/slot table re-imported/);
  });
  await expectNothingLostMovedOrDoubled(ledger, before, after, "crash");

  console.log(
    `redis crash: down ${Math.round(restartedAt - crashedAt)} ms mid-churn; converged ${Math.round(converged - restartedAt)} ms after ` +
      `the restart (${ledger.liveCount} live, ${ledger.deletedCount} deleted Services; 2 allocators; appendfsync always)`,
  );
  for (const a of allocators) expect(a.child.exitCode).toBeNull();
});
