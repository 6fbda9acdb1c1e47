import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";
import { type ManagedProcess, startProcess } from "./process.js";
import { connect } from "node:net";

export interface TestNats {
  url: string;
  port: number;
  /** Simulates an outage: the server goes away; `start()` brings it back on the same port and store. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the store. */
  dispose(): Promise<void>;
}

const NATS_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";

/**
 * A private nats-server with JetStream for one test file: its own port and store, so
 * tests run in parallel and never see each other's streams. Starts in milliseconds.
 */
export async function startNats(): Promise<TestNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-nats-"));
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = startProcess(NATS_BIN, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
    await waitFor(`nats-server on ${port}`, () => canConnect(port), 15_000);
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await proc?.stop();
    },
    start,
    dispose: async () => {
      await proc?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
