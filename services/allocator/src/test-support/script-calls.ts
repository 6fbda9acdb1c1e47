import { afterAll, beforeAll } from "vitest";
import { Redis } from "ioredis";
import { startRedis, type TestRedis } from "@sharedlb/testing";
import { SlotStore } from "../adapters/slot-store.js";
import { resolvePolicy } from "../domain/pools.js";

/** A redis-server of the test file's own (started before its tests, stopped after), and a client of it. */
export function fileRedis(): { client: () => Redis } {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.dispose();
  });
  return {
    client: () => {
      if (!client) throw new Error("the test's Redis is not started");
      return client;
    },
  };
}

/** A fresh slot table under `base` with pool "p" of `addresses` and `ports`, as an allocator marks it and indexes it at start. */
export async function poolTable(
  client: Redis,
  base: string,
  addresses: string,
  ports: string,
  opts: { quotas?: Record<string, { services: number; ports: number }>; releaseDelaySeconds?: number } = {},
) {
  const store = new SlotStore(client, base, ["p"]);
  await store.markReady();
  const policy = resolvePolicy({
    pools: [{ name: "p", addresses: [addresses], ports, clusters: ["*"], namespaces: ["*"] }],
    defaultPool: "p",
    releaseDelaySeconds: opts.releaseDelaySeconds ?? 30,
    purgeAfterSeconds: 3600,
    ...(opts.quotas ? { quotas: { clusters: opts.quotas } } : {}),
  });
  await store.ensurePoolIndex("p", policy.pools.get("p")?.ips ?? []);
  return { store, policy };
}

/**
 * The script calls (EVAL/EVALSHA) Redis sees (MONITOR), each as `pick` sums it up from its
 * arguments (undefined: not counted). `since()` gives those since the last time, once Redis
 * has seen every command sent before it.
 */
export async function watchScripts<T>(client: Redis, pick: (args: string[]) => T | undefined) {
  const monitor = await client.monitor();
  const calls: T[] = [];
  let marks = 0;
  const seen = new Map<string, () => void>();
  monitor.on("monitor", (_time: string, args: string[]) => {
    const cmd = args[0]?.toLowerCase();
    if (cmd === "evalsha" || cmd === "eval") {
      const got = pick(args);
      if (got !== undefined) calls.push(got);
    }
    if (cmd === "echo") seen.get(args[1] ?? "")?.();
  });
  return {
    since: async (): Promise<T[]> => {
      const mark = `mark-${++marks}`;
      const done = new Promise<void>((resolve) => seen.set(mark, resolve));
      await client.echo(mark);
      await done;
      return calls.splice(0);
    },
    stop: () => monitor.disconnect(),
  };
}
