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
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = startProcess(REDIS_BIN, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp"]);
    await waitFor(`redis-server on ${port}`, () => canConnect(port), 15_000);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
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
