import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Allocation } from "@sharedlb/contracts";
import { type NatsFixture, startProcess, type ManagedProcess, waitFor } from "@sharedlb/testing";

export const ALLOCATOR_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export function writePoolFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-alloc-"));
  const path = join(dir, "pools.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** Starts `sharedlb-allocator` as its own OS process, through its real command line. */
export async function startAllocator(opts: {
  config: string;
  natsUrl: string;
  redisUrl: string;
  replica: string;
  extra?: string[];
  /** Secrets go through the environment, as a Deployment passes them, not through argv. */
  env?: NodeJS.ProcessEnv;
}): Promise<ManagedProcess> {
  const p = startProcess(process.execPath, [
    ALLOCATOR_MAIN,
    "--config", opts.config,
    "--nats-url", opts.natsUrl,
    "--redis-url", opts.redisUrl,
    "--replica", opts.replica,
    "--janitor-interval", "100ms",
    "--log-level", "info",
    ...(opts.extra ?? []),
  ], opts.env);
  await p.waitForOutput(/allocator started/, 30_000);
  return p;
}

export function waitForAllocation(fx: NatsFixture, key: string, ok: (a: Allocation) => boolean, timeoutMs = 15_000): Promise<Allocation> {
  let last: Allocation | undefined;
  return waitFor(`allocation of ${key} (last seen: ${JSON.stringify(last)})`, async () => {
    last = (await fx.allocations()).get(key);
    return last && ok(last) ? last : undefined;
  }, timeoutMs, 50).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
  });
}
