import { afterEach, expect, it } from "vitest";
import { natsFixture, type NatsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis } from "@sharedlb/testing";
import { startAllocator, waitForAllocation, writePoolFile } from "./test-support/allocator-process.js";

// Pools as a user's address plan has them, through the allocator's real command line: a /16
// is indexed at start and served, and a pool whose addresses changed between two runs never
// hands out an address that left it (the pool's IP index is rewritten from the new list).

// Each test has its own NATS and Redis: the other's Services are not in its streams.
let nats: TestNats | undefined;
let redis: TestRedis | undefined;
let fx: NatsFixture | undefined;

async function world(): Promise<{ fx: NatsFixture; natsUrl: string; redisUrl: string }> {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  return { fx, natsUrl: nats.url, redisUrl: redis.url };
}

afterEach(async () => {
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const ports = (port: number) => [{ name: "p", protocol: "TCP" as const, port, nodePort: 30000 }];

it("serves a /16 pool: the allocator starts with 65,536 addresses and allocates in it", async () => {
  const config = writePoolFile(`
pools:
  - name: big
    addresses: ["10.20.0.0/16"]
    clusters: ["big"]
releaseDelaySeconds: 0
`);
  const { fx, natsUrl, redisUrl } = await world();
  const allocator = await startAllocator({ config, natsUrl, redisUrl, replica: "b1" });
  try {
    // Five tenants' Services on popular ports: each tenant packs onto its own IP, and no slot is held twice.
    const names = Array.from({ length: 20 }, (_, i) => ({
      cluster: "big",
      ns: `t${i % 5}`,
      name: `svc-${i}`,
      port: 443 + Math.floor(i / 5),
    }));
    for (const n of names) await fx.publishService(serviceResource(n.cluster, n.ns, n.name, { ports: ports(n.port) }));
    const slots = new Set<string>();
    for (const n of names) {
      const a = await waitForAllocation(fx, `${n.cluster}/${n.ns}/${n.name}`, (x) => x.state === "Allocated", 30_000);
      expect(a.ip).toMatch(/^10\.20\.\d+\.\d+$/);
      expect(a.ports[0]?.externalPort).toBe(n.port);
      slots.add(`${a.ip}:${a.ports[0]?.externalPort}`);
    }
    expect(slots.size).toBe(names.length);
  } finally {
    await allocator.stop();
  }
});

it("never hands out an address that left the pool after a restart with the new address list", async () => {
  const pools = (addresses: string) =>
    writePoolFile(`
pools:
  - name: moving
    addresses: ["${addresses}"]
releaseDelaySeconds: 0
`);
  const { fx, natsUrl, redisUrl } = await world();
  const args = { natsUrl, redisUrl };
  const first = await startAllocator({ ...args, config: pools("198.51.100.1-198.51.100.4"), replica: "m1" });
  const before = new Map<string, string>();
  try {
    // One Service per tenant: least loaded first spreads them over the four addresses.
    for (let i = 1; i <= 4; i++) await fx.publishService(serviceResource(`old${i}`, "ns", "web", { ports: ports(80) }));
    for (let i = 1; i <= 4; i++)
      before.set(`old${i}/ns/web`, (await waitForAllocation(fx, `old${i}/ns/web`, (a) => a.state === "Allocated")).ip);
  } finally {
    await first.stop();
  }
  expect(new Set(before.values())).toEqual(new Set(["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]));

  // .1 and .2 leave the pool; .5 and .6 join.
  const second = await startAllocator({ ...args, config: pools("198.51.100.3-198.51.100.6"), replica: "m2" });
  try {
    for (let i = 1; i <= 8; i++) await fx.publishService(serviceResource(`new${i}`, "ns", "web", { ports: ports(1000 + i) }));
    for (let i = 1; i <= 8; i++) {
      const a = await waitForAllocation(fx, `new${i}/ns/web`, (x) => x.state === "Allocated");
      expect(["198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6"]).toContain(a.ip);
    }
    // Services on addresses that stayed are where they were.
    const now = await fx.allocations();
    for (const [key, ip] of before) if (ip === "198.51.100.3" || ip === "198.51.100.4") expect(now.get(key)?.ip).toBe(ip);
  } finally {
    await second.stop();
  }
});
