import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";
import { type ManagedProcess, startProcess } from "./process.js";
import { canConnect } from "./nats-server.js";

export interface TestRedis {
  url: string;
  port: number;
  /** Outage: the server goes away (its data with it, unless `appendonly` keeps it on disk). */
  stop(): Promise<void>;
  /** Crash: SIGKILL, no shutdown save; only what the append-only file already holds survives. */
  crash(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** A private redis-server for one test file; non-persistent unless `appendonly` is given. */
export interface RedisOptions {
  /** requirepass: clients must AUTH. */
  password?: string;
  /** TLS only (no plaintext port), with this server certificate and the CA clients' certificates chain to. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Persist with an append-only file in a private directory, kept across stop/crash and start. */
  appendonly?: { fsync: "always" | "everysec" };
}

export async function startRedis(opts: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  let proc: ManagedProcess | undefined;
  const security = [
    ...(opts.password !== undefined ? ["--requirepass", opts.password] : []),
    ...(opts.tls
      ? ["--tls-port", String(port), "--port", "0", "--tls-cert-file", opts.tls.certFile, "--tls-key-file", opts.tls.keyFile,
         "--tls-ca-cert-file", opts.tls.caFile, "--tls-auth-clients", "optional"]
      : ["--port", String(port)]),
  ];
  const dataDir = opts.appendonly ? mkdtempSync(join(tmpdir(), "sharedlb-redis-")) : undefined;
  const persistence =
    opts.appendonly && dataDir
      ? ["--appendonly", "yes", "--appendfsync", opts.appendonly.fsync, "--dir", dataDir]
      : ["--appendonly", "no", "--dir", "/tmp"];
  const start = async () => {
    proc = startProcess(REDIS_BIN, [...security, "--bind", "127.0.0.1", "--save", "", ...persistence]);
    await waitFor(`redis-server on ${port}`, () => canConnect(port), 15_000);
  };
  await start();
  return {
    url: `${opts.tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await proc?.stop();
    },
    crash: async () => {
      await proc?.kill();
    },
    start,
    dispose: async () => {
      await proc?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
