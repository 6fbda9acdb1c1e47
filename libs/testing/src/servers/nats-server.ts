import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsServerBinary } from "./nats-binary.js";
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
  /** Rewrites the configuration file (only with `config`) and signals the server to reload it. */
  reload(config: string): Promise<void>;
  /** The directory holding the store and the configuration file (certificates may go there too). */
  dir: string;
  /** Everything the server wrote so far. */
  output(): string;
  /** The server's process id (for tools that signal a reload themselves). */
  pid(): number | undefined;
  /** Resolves once the server has reloaded its configuration `count` times in all. */
  reloaded(count: number): Promise<void>;
}

export interface NatsOptions {
  /**
   * A nats.conf body (authorization, tls, …). Listen address, port, JetStream and the store
   * are set by the harness; the body may `include` files placed in `dir` beforehand via `files`.
   */
  config?: string;
  /** Files written into the server's directory before it starts (name → content). */
  files?: Record<string, string>;
  /** URL scheme clients use: `tls` when the config requires TLS. */
  scheme?: "nats" | "tls";
}

/**
 * A private nats-server with JetStream for one test file: its own port and store, so
 * tests run in parallel and never see each other's streams. Starts in milliseconds.
 */
export async function startNats(opts: NatsOptions = {}): Promise<TestNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-nats-"));
  const confPath = join(dir, "nats.conf");
  const writeConfig = (body: string) => writeFileSync(confPath, `${body}\n`, { mode: 0o600 });
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content, { mode: 0o600 });
  if (opts.config !== undefined) writeConfig(opts.config);
  let proc: ManagedProcess | undefined;
  const start = async () => {
    const conf = opts.config !== undefined ? ["-c", confPath] : [];
    proc = startProcess(natsServerBinary(), [...conf, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
    await waitFor(`nats-server on ${port}`, () => canConnect(port), 15_000);
  };
  await start();
  const reloads = () => (proc?.output().match(/Reloaded server configuration/g) ?? []).length;
  const reloaded = async (count: number) => {
    await waitFor(`nats-server configuration reload #${count}`, () => reloads() >= count, 15_000);
  };
  return {
    url: `${opts.scheme ?? "nats"}://127.0.0.1:${port}`,
    port,
    dir,
    output: () => proc?.output() ?? "",
    pid: () => proc?.child.pid,
    reloaded,
    reload: async (config: string) => {
      if (opts.config === undefined) throw new Error("reload needs a server started with a config");
      writeConfig(config);
      const before = reloads();
      proc?.child.kill("SIGHUP");
      await reloaded(before + 1);
    },
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
