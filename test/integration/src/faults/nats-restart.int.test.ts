import { randomUUID } from "node:crypto";
import { isNatsUnavailable } from "@sharedlb/runtime";
import { waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChurnLedger, type ChurnWorld, expectNothingLostMovedOrDoubled, type Publish, startChurnWorld } from "./churn.js";

// Fault matrix (issue 12): nats-server stopped and restarted on its file store while two
// allocators work through a churn of creations and deletions. Messages the allocators had
// pulled but not yet acknowledged, and acknowledgements that never reached the server, come
// back as redeliveries: none may be lost, move a Service or hand a slot out twice.

let world: ChurnWorld;

beforeAll(async () => {
  world = await startChurnWorld();
});

afterAll(async () => {
  await world?.stop();
});

/**
 * Publishes as the watcher does across an outage: retried with the same event id until
 * NATS takes it, so a publish whose ack was lost is deduplicated, not applied twice.
 */
const publishRetried: Publish = async (send) => {
  const id = randomUUID();
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      await send(id);
      return;
    } catch (err) {
      if (!isNatsUnavailable(err) || performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};

it("a nats-server restart mid-churn loses, moves and doubles nothing", async () => {
  const { nats, allocators } = world;
  const ledger = new ChurnLedger(world, "natsrestart", publishRetried);

  for (let i = 0; i < 150; i++) await ledger.create(i);
  const before = await ledger.settled("the first 150 Services allocated", 60_000);

  // Churn through both allocators; NATS goes away while they still work on the last burst.
  let stoppedAt = 0;
  let restartedAt = 0;
  for (let i = 150; i < 300; i++) {
    await ledger.create(i);
    if (i % 5 === 0) await ledger.remove(i - 150);
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
  const after = await ledger.settled("every Service settled after the restart", 90_000);
  const converged = performance.now();

  await expectNothingLostMovedOrDoubled(ledger, before, after, "restart");

  console.log(
    `nats restart: down ${Math.round(restartedAt - stoppedAt)} ms mid-churn; converged ${Math.round(converged - restartedAt)} ms after ` +
      `the restart (${ledger.liveCount} live, ${ledger.deletedCount} deleted Services; 2 allocators; file storage)`,
  );
  for (const a of allocators) expect(a.child.exitCode).toBeNull();
});
