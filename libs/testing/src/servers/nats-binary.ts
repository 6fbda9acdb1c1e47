import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The nats-server every test runs: SHAREDLB_NATS_SERVER, else the pinned build from
 * tools/nats-server/build.sh (tenant isolation needs 2.10+; see docs/security.md), else
 * whatever `nats-server` is on PATH.
 */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.SHAREDLB_NATS_SERVER ?? env.NATS_SERVER_BIN;
  if (explicit) return explicit;
  const cache = env.SHAREDLB_BIN_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sharedlb", "bin");
  const pinned = join(cache, "nats-server");
  return existsSync(pinned) ? pinned : "nats-server";
}
