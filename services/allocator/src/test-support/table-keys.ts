import type { Redis } from "ioredis";
import { DEFAULT_PREFIX, globalPrefix, poolPrefix } from "../adapters/table-keys.js";

/** A key of a pool's slot table (under its hash tag), as the allocator names it by default. */
export const poolKey = (pool: string, name: string): string => `${poolPrefix(DEFAULT_PREFIX, pool)}${name}`;

/** A key under the allocator's global hash tag. */
export const globalKey = (name: string): string => `${globalPrefix(DEFAULT_PREFIX)}${name}`;

/** Records committed but not yet published, over every pool's outbox (one Redis, not a cluster). */
export async function outboxSize(client: Redis): Promise<number> {
  let n = 0;
  for (const key of await client.keys(`${DEFAULT_PREFIX}{p:*}:outbox`)) n += await client.zcard(key);
  return n;
}
