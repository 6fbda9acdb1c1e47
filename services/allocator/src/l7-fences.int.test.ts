import { makeEvent, parseResourceSubject, type ResourceMessage, subjects } from "@sharedlb/contracts";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRootLogger } from "@sharedlb/runtime";
import { natsFixture, type NatsFixture, startNats, startRedis, type TestNats, type TestRedis } from "@sharedlb/testing";
import { L7SlotStore } from "./adapters/l7-slot-store.js";
import { JetStreamL7AllocationPublisher } from "./adapters/publisher.js";
import { SlotStore } from "./adapters/slot-store.js";
import { poolPrefix } from "./adapters/table-keys.js";
import { L7Allocator } from "./app/l7-allocator.js";
import { resolvePolicy } from "./domain/pools.js";
import { allocatorMetrics } from "./metrics.js";
import { gateway, gatewayMessage, gatewayTombstoneMessage, l7Allocations, l7TableProblems, listener } from "./test-support/l7-fixtures.js";

// The L7 claim script's fences with real Redis and NATS, events handed over with the stream
// sequences a redelivery or a slow replica would give: an older event never overwrites a
// newer one, the same event again changes nothing, and a tombstone of another uid is ignored.

const PREFIX = "test:l7fence:";
let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let client: Redis;
let allocator: L7Allocator;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  client = new Redis(redis.url);
  const store = new SlotStore(client, PREFIX, ["public"]);
  await store.markReady();
  const slots = new L7SlotStore(client, PREFIX);
  const policy = resolvePolicy({
    pools: [{ name: "public", addresses: ["203.0.113.90"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
    defaultPool: "public",
    releaseDelaySeconds: 0,
    purgeAfterSeconds: 3600,
  });
  const publisher = new JetStreamL7AllocationPublisher(fx.js, slots, store, "sharedlb/allocator/test");
  allocator = new L7Allocator({ policy, slots, publisher, metrics: allocatorMetrics(new Registry()), log: createRootLogger("test", "warn") });
});

afterAll(async () => {
  client?.disconnect();
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const published = async (key: string) => (await l7Allocations(fx)).get(key);

it("ignores older and repeated events and tombstones of another uid; the current claims stay", async () => {
  const v1 = gateway("fa", "ns", "edge", [listener("http", "HTTP", 80, "old.fa.test")]);
  const v2 = { ...v1, generation: 2, listeners: [listener("http", "HTTP", 80, "new.fa.test")] };
  expect(await allocator.handle(gatewayMessage(v2), 20)).toBe("applied");
  const current = await published("fa/ns/edge/gateway");
  expect(current?.listeners[0]?.claimedHostnames).toEqual(["new.fa.test"]);
  expect(current?.generation).toBe(2);

  expect(await allocator.handle(gatewayMessage(v1), 10)).toBe("stale");
  expect(await allocator.handle(gatewayMessage(v2), 20)).toBe("unchanged");
  expect(await allocator.handle(gatewayTombstoneMessage(v2, "an-earlier-object"), 30)).toBe("staleIncarnation");
  expect(await published("fa/ns/edge/gateway")).toEqual(current);
  const { problems, claims } = await l7TableProblems(client, poolPrefix(PREFIX, "public"), "public");
  expect(problems).toEqual([]);
  expect(claims.get("203.0.113.90:80 new.fa.test")).toEqual(["fa"]);
  expect(claims.has("203.0.113.90:80 old.fa.test")).toBe(false);

  // Its own tombstone releases it (no quarantine here), and the name is free for another tenant.
  expect(await allocator.handle(gatewayTombstoneMessage(v2, v2.uid), 40)).toBe("applied");
  expect((await published("fa/ns/edge/gateway"))?.state).toBe("Released");
  const other = gateway("fb", "ns", "edge", [listener("http", "HTTP", 80, "new.fa.test")]);
  expect(await allocator.handle(gatewayMessage(other), 41)).toBe("applied");
  expect((await published("fb/ns/edge/gateway"))?.state).toBe("Allocated");
  // A late event of the deleted Gateway (older than its tombstone) does not bring it back.
  expect(await allocator.handle(gatewayMessage(v2), 35)).toBe("stale");
  expect((await l7TableProblems(client, poolPrefix(PREFIX, "public"), "public")).problems).toEqual([]);
});

it("acks routes without allocating anything", async () => {
  const route: ResourceMessage = {
    subject: parseResourceSubject(subjects.l7Resource("fc", "httproute", "ns", "web")),
    event: makeEvent({
      type: "io.sharedlb.route.v1",
      source: "test",
      subject: "fc/ns/web",
      data: { cluster: "fc", namespace: "ns", name: "web", uid: "u", generation: 1, sourceKind: "HTTPRoute", parentRefs: [], hostnames: [], rules: [], refusedRefs: [], annotations: {} },
    }),
  };
  expect(await allocator.handle(route, 50)).toBe("unchanged");
  expect([...(await l7Allocations(fx)).keys()].filter((k) => k.startsWith("fc/"))).toEqual([]);
});
