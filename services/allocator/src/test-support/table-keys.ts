import type { Redis } from "ioredis";
import { DEFAULT_PREFIX, globalPrefix, poolPrefix } from "../adapters/table-keys.js";

/** A key of a pool's slot table (under its hash tag), as the allocator names it by default. */
export const poolKey = (pool: string, name: string): string => `${poolPrefix(DEFAULT_PREFIX, pool)}${name}`;

/** A key under the allocator's global hash tag. */
export const globalKey = (name: string): string => `${globalPrefix(DEFAULT_PREFIX)}${name}`;

/** Members of a zset named `name` in every pool's tag (one Redis, not a cluster). */
async function acrossPools(client: Redis, name: string): Promise<number> {
  let n = 0;
  for (const key of await client.keys(`${DEFAULT_PREFIX}{p:*}:${name}`)) n += await client.zcard(key);
  return n;
}

/** Records committed but not yet published, over every pool's outbox (one Redis, not a cluster). */
export const outboxSize = (client: Redis): Promise<number> => acrossPools(client, "outbox");

/** Unfinished send notes: the applies' (every pool's) and the global ones (beginSend's). */
export async function sendingSize(client: Redis): Promise<number> {
  return (await acrossPools(client, "sending")) + (await client.zcard(globalKey("sending")));
}
