import { freePort, waitFor } from "./ports.js";
import { type ManagedProcess, startProcess } from "./process.js";
import { canConnect } from "./nats-server.js";

export interface TestRedis {
  url: string;
  port: number;
  /** Outage: the server goes away (its data with it, as with a non-persistent Redis). */
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** A private, non-persistent redis-server for one test file. */
export interface RedisOptions {
  /** requirepass: clients must AUTH. */
  password?: string;
  /** TLS only (no plaintext port), with this server certificate and the CA clients' certificates chain to. */
  tls?: { certFile: string; keyFile: string; caFile: string };
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
  const start = async () => {
    proc = startProcess(REDIS_BIN, [...security, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp"]);
    await waitFor(`redis-server on ${port}`, () => canConnect(port), 15_000);
  };
  await start();
  return {
    url: `${opts.tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await proc?.stop();
    },
    start,
    dispose: async () => {
      await proc?.stop();
    },
  };
}
