import { expect, it } from "vitest";
import { STREAM_NAMES } from "@sharedlb/contracts";
import { type ManagedProcess, rng, waitFor } from "@sharedlb/testing";
import { L7_CONSUMER_NAME } from "./adapters/resource-consumer.js";
import { DEFAULT_PREFIX, poolPrefix } from "./adapters/table-keys.js";
import { outboxSize } from "./test-support/table-keys.js";
import { startAllocator } from "./test-support/allocator-process.js";
import { useReplicasEnv } from "./test-support/allocator-env.js";
import { shuffle } from "./test-support/shuffle.js";
import { gateway, l7Allocations, l7TableProblems, listener, publishGateway, waitForL7 } from "./test-support/l7-fixtures.js";

// Three allocator processes race tenants for one hostname on one shared IP, each event
// published twice, in random order; then a replica is killed with SIGKILL mid-flight and
// another started: exactly one tenant wins each name, and nothing held moves.

const POOLS = `
pools:
  - name: one
    addresses: ["203.0.113.70"]
  - name: two
    addresses: ["203.0.113.80-203.0.113.81"]
defaultPool: one
releaseDelaySeconds: 1
`;

const env = useReplicasEnv(POOLS, ["r1", "r2", "r3"]);

async function quiescent(): Promise<void> {
  await waitFor(
    "allocators to drain the L7 events",
    async () => {
      const c = await env.fx.jsm.consumers.info(STREAM_NAMES.resources, L7_CONSUMER_NAME);
      return c.num_pending === 0 && c.num_ack_pending === 0 && (await outboxSize(env.client)) === 0;
    },
    60_000,
    100,
  );
}

it("gives a contested hostname to exactly one tenant cluster, whatever the replicas and the order (several seeds)", async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rand = rng(seed * 7919);
    // Exact names in some rounds, a wildcard against a name under it in others.
    const wild = seed % 2 === 0;
    const a = gateway(`s${seed}a`, "ns", "edge", [listener("http", "HTTP", 80, wild ? `*.r${seed}.test` : `www.r${seed}.test`)]);
    const b = gateway(`s${seed}b`, "ns", "edge", [listener("http", "HTTP", 80, `www.r${seed}.test`)]);
    const bystander = gateway(`s${seed}c`, "ns", "edge", [listener("http", "HTTP", 80, `other-r${seed}.test`)]);
    const events = shuffle([a, b, bystander, a, b, bystander], rand);
    await Promise.all(events.map((g, i) => publishGateway(env.fx, g, `${g.cluster}-${seed}-${i}`)));
    await quiescent();
    const all = await l7Allocations(env.fx);
    const [ra, rb] = [all.get(`${a.cluster}/ns/edge/gateway`), all.get(`${b.cluster}/ns/edge/gateway`)];
    const states = [ra?.state, rb?.state].sort();
    expect(states, `seed ${seed}`).toEqual(["Allocated", "Pending"]);
    const loser = ra?.state === "Pending" ? ra : rb;
    expect(loser?.reason).toBe("HostnameConflict");
    expect(all.get(`${bystander.cluster}/ns/edge/gateway`)?.state).toBe("Allocated");
  }
  const { problems, claims } = await l7TableProblems(env.client, poolPrefix(DEFAULT_PREFIX, "one"), "one");
  expect(problems).toEqual([]);
  for (const seed of [1, 3, 5]) expect(claims.get(`203.0.113.70:80 www.r${seed}.test`)).toHaveLength(1);
}, 180_000);

it("keeps every claim through a replica killed mid-flight, and serves the rest after", async () => {
  const rand = rng(424242);
  const gateways = Array.from({ length: 60 }, (_, i) =>
    gateway(`k${i % 10}`, "ns", `gw-${i}`, [listener("http", "HTTP", 80, `h${i}.k${i % 10}.test`), listener("https", "HTTPS", 443, `h${i}.k${i % 10}.test`)], {
      annotations: { "sharedlb.io/pool": "two" },
    }),
  );
  const first = gateways.slice(0, 30);
  await Promise.all(first.map((g) => publishGateway(env.fx, g)));
  await quiescent();
  const before = await l7Allocations(env.fx);

  const rest = shuffle([...gateways.slice(30), ...first], rand);
  const half = Math.floor(rest.length / 2);
  await Promise.all(rest.slice(0, half).map((g, i) => publishGateway(env.fx, g, `again-${i}`)));
  const victim = env.replicas.splice(0, 1)[0] as ManagedProcess;
  await victim.kill();
  await Promise.all(rest.slice(half).map((g, i) => publishGateway(env.fx, g, `again-late-${i}`)));
  env.replicas.push(await startAllocator({ config: env.config, natsUrl: env.nats.url, redisUrl: env.redis.url, replica: "r1-restarted" }));
  await quiescent();

  for (const g of gateways) {
    const key = `${g.cluster}/ns/${g.name}/gateway`;
    const got = await waitForL7(env.fx, key, (x) => x.state === "Allocated");
    // A tenant's Gateways all land on the IP its DNS already points at.
    const tenantIp = (await l7Allocations(env.fx)).get(`${g.cluster}/ns/gw-${Number(g.cluster.slice(1))}/gateway`)?.listeners[0]?.ip;
    expect(got.listeners.map((l) => l.ip), key).toEqual([tenantIp, tenantIp]);
    const was = before.get(key);
    if (was) expect(got.listeners, `${key} moved`).toEqual(was.listeners);
  }
  const { problems } = await l7TableProblems(env.client, poolPrefix(DEFAULT_PREFIX, "two"), "two");
  expect(problems).toEqual([]);
}, 180_000);
