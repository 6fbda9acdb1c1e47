import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { type ManagedProcess, natsFixture, type NatsFixture, startNats, startRedis, type TestNats, type TestRedis } from "@sharedlb/testing";
import { startAllocator, writePoolFile } from "./allocator-process.js";

/** A test file's own NATS, Redis and one allocator process with this pool file, started before its tests and stopped after. */
export interface AllocatorEnv {
  nats: TestNats;
  redis: TestRedis;
  fx: NatsFixture;
  allocator: ManagedProcess;
}

export function useAllocatorEnv(pools: string): AllocatorEnv {
  const env = {} as AllocatorEnv;
  beforeAll(async () => {
    [env.nats, env.redis] = await Promise.all([startNats(), startRedis()]);
    env.fx = await natsFixture(env.nats.url);
    env.allocator = await startAllocator({ config: writePoolFile(pools), natsUrl: env.nats.url, redisUrl: env.redis.url, replica: "r1" });
  });
  afterAll(async () => {
    await env.allocator?.stop();
    await env.fx?.close();
    await Promise.all([env.nats?.dispose(), env.redis?.dispose()]);
  });
  return env;
}

/** A test file's own NATS, Redis, a Redis client and allocator processes (one per replica name) on this pool file; tests may stop and replace replicas. */
export interface ReplicasEnv {
  nats: TestNats;
  redis: TestRedis;
  fx: NatsFixture;
  client: Redis;
  config: string;
  replicas: ManagedProcess[];
}

export function useReplicasEnv(pools: string, names: readonly string[]): ReplicasEnv {
  const env = { replicas: [] as ManagedProcess[] } as ReplicasEnv;
  beforeAll(async () => {
    [env.nats, env.redis] = await Promise.all([startNats(), startRedis()]);
    env.fx = await natsFixture(env.nats.url);
    env.client = new Redis(env.redis.url);
    env.config = writePoolFile(pools);
    for (const r of names) env.replicas.push(await startAllocator({ config: env.config, natsUrl: env.nats.url, redisUrl: env.redis.url, replica: r }));
  });
  afterAll(async () => {
    await Promise.all(env.replicas.map((r) => r.stop()));
    env.client?.disconnect();
    await env.fx?.close();
    await Promise.all([env.nats?.dispose(), env.redis?.dispose()]);
  });
  return env;
}
