import { afterAll, beforeAll, expect, it } from "vitest";
import { type ManagedProcess, natsFixture, type NatsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis } from "@sharedlb/testing";
import { startAllocator, waitForAllocation, writePoolFile } from "./test-support/allocator-process.js";

let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let allocator: ManagedProcess;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  const config = writePoolFile(`
pools:
  - name: public
    addresses: ["203.0.113.1-203.0.113.4"]
releaseDelaySeconds: 1
`);
  allocator = await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica: "r1" });
});

afterAll(async () => {
  await allocator?.stop();
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const allocated = (a: { state: string }) => a.state === "Allocated";
const port = (p: number) => [{ name: "p", protocol: "TCP" as const, port: p, nodePort: 30000 }];

it("re-imports live allocations when Redis comes back empty, before claiming anything new", async () => {
  // 4 IPs: four Services on port 443 fill every IP's 443; more wait for it.
  for (let i = 0; i < 4; i++) await fx.publishService(serviceResource("a", "web", `s${i}`, { ports: port(443) }));
  for (let i = 0; i < 4; i++) await waitForAllocation(fx, `a/web/s${i}`, allocated);
  const before = await fx.allocations();

  await redis.stop(); // a non-persistent Redis: everything it held is gone
  // Published during the outage: one wants 443 (taken on every IP), one something free.
  await fx.publishService(serviceResource("b", "web", "late", { ports: port(443) }));
  await fx.publishService(serviceResource("b", "web", "other", { ports: port(8443) }));
  await redis.start();

  await allocator.waitForOutput(/slot table re-imported/, 30_000);
  const other = await waitForAllocation(fx, "b/web/other", allocated, 30_000);
  expect(other.ports[0]?.externalPort).toBe(8443);
  const late = await waitForAllocation(fx, "b/web/late", (a) => a.state === "Pending", 30_000);
  expect(late.reason).toBe("PortUnavailable");
  const after = await fx.allocations();
  for (let i = 0; i < 4; i++) {
    const key = `a/web/s${i}`;
    expect({ ip: after.get(key)?.ip, ports: after.get(key)?.ports }, key).toEqual({ ip: before.get(key)?.ip, ports: before.get(key)?.ports });
  }

  // The re-imported table is live: freeing one 443 serves the waiting Service.
  await fx.publishTombstone("a", "web", "s2", "a-web-s2");
  const served = await waitForAllocation(fx, "b/web/late", allocated, 30_000);
  expect(served.ip).toBe(before.get("a/web/s2")?.ip);
});

it("keeps allocating after NATS restarts", async () => {
  await nats.stop();
  await nats.start();
  await fx.close();
  fx = await natsFixture(nats.url);
  await fx.publishService(serviceResource("c", "web", "after-restart", { ports: port(9000) }));
  const a = await waitForAllocation(fx, "c/web/after-restart", allocated, 60_000);
  expect(a.ports[0]?.externalPort).toBe(9000);
  expect(allocator.child.exitCode).toBeNull();
});
