import { afterAll, beforeAll, expect, it } from "vitest";
import { STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { natsFixture, type NatsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis, waitFor } from "@sharedlb/testing";
import { startAllocator, waitForAllocation, writePoolFile } from "./test-support/allocator-process.js";

let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let config: string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  config = writePoolFile(`
pools:
  - name: public
    addresses: ["203.0.113.1"]
releaseDelaySeconds: 0
purgeAfterSeconds: 1
`);
});

afterAll(async () => {
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function lastOn(stream: string, subject: string) {
  return fx.jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
}

it("purges old tombstones and Released allocations, but never a Service re-created meanwhile", async () => {
  const allocator = await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica: "p1" });
  try {
    const ports = (port: number) => [{ name: "p", protocol: "TCP" as const, port, nodePort: 30000 }];
    await fx.publishService(serviceResource("a", "ns", "gone", { ports: ports(80) }));
    await fx.publishService(serviceResource("a", "ns", "back", { ports: ports(81) }));
    await waitForAllocation(fx, "a/ns/back", (a) => a.state === "Allocated");
    for (const n of ["gone", "back"]) await fx.publishTombstone("a", "ns", n, `a-ns-${n}`);
    await waitForAllocation(fx, "a/ns/back", (a) => a.state === "Released");
    await fx.publishService(serviceResource("a", "ns", "back", { uid: "second-life", ports: ports(81) }));

    await waitFor("the tombstone of a/ns/gone to be purged", async () =>
      (await lastOn(STREAM_NAMES.resources, subjects.service("a", "ns", "gone"))) === null &&
      (await lastOn(STREAM_NAMES.allocations, subjects.allocation("a", "ns", "gone"))) === null, 20_000, 100);
    const back = await waitForAllocation(fx, "a/ns/back", (a) => a.state === "Allocated" && a.uid === "second-life");
    expect(back.ip).toBe("203.0.113.1");
    expect(await lastOn(STREAM_NAMES.resources, subjects.service("a", "ns", "back"))).not.toBeNull();
  } finally {
    await allocator.stop();
  }
});

it("stops cleanly on SIGTERM: not ready, drained, exit code 0", async () => {
  const allocator = await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica: "p2" });
  const [, http] = await allocator.waitForOutput(/"http":"([^"]+)"/);
  const ready = await fetch(`http://${http}/readyz`);
  expect(ready.status).toBe(200);
  const metrics = await (await fetch(`http://${http}/metrics`)).text();
  expect(metrics).toContain("sharedlb_allocator_events_total");
  expect(await allocator.stop()).toBe(0);
  expect(allocator.output()).toMatch(/"msg":"stopped"/);
});
