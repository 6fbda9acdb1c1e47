import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";

/**
 * Child-process plumbing for the envtest harness: spawning with logs to a
 * file, killing children when this process goes away (even on SIGKILL, via a
 * watchdog), free loopback ports and deadline-based polling.
 */

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs: number): Promise<void>;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Runs on normal exit and process.exit(); signals and SIGKILL are covered by
  // the watchdog below.
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

// The watchdog is a detached node process connected by an IPC channel. When
// this process dies for any reason (including SIGKILL), the channel closes,
// the watchdog sees 'disconnect', SIGKILLs every pid it was told about and
// removes the registered temp dirs.
const WATCHDOG_SOURCE = `
const { rmSync } = require("node:fs");
const pids = new Set();
const dirs = new Set();
process.on("message", (m) => {
  if (!m || typeof m !== "object") return;
  if (typeof m.add === "number") pids.add(m.add);
  if (typeof m.remove === "number") pids.delete(m.remove);
  if (typeof m.addDir === "string") dirs.add(m.addDir);
  if (typeof m.removeDir === "string") dirs.delete(m.removeDir);
});
process.on("disconnect", () => {
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch {} }
  for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
});
`;

let watchdog: ChildProcess | undefined;

function getWatchdog(): ChildProcess | undefined {
  if (watchdog?.connected) return watchdog;
  try {
    const child = spawn(process.execPath, ["-e", WATCHDOG_SOURCE], {
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      detached: true,
      // Plain node: no NODE_OPTIONS (loaders, test-runner flags) from our env.
      env: { PATH: process.env.PATH ?? "" },
    });
    child.on("error", () => {
      if (watchdog === child) watchdog = undefined;
    });
    // Neither the process nor its channel may keep our event loop alive.
    child.unref();
    child.channel?.unref();
    watchdog = child;
    return child;
  } catch {
    return undefined;
  }
}

type WatchdogMessage = { add: number } | { remove: number } | { addDir: string } | { removeDir: string };

function tellWatchdog(message: WatchdogMessage): void {
  const dog = getWatchdog();
  if (!dog?.connected) return;
  try {
    dog.send(message);
  } catch {
    // Best effort: the exit hook still covers ordinary exits.
  }
}

/**
 * Registers a temp dir to be removed if this process exits (or dies) without
 * calling {@link releaseTempDir}.
 */
export function trackTempDir(dir: string): void {
  installExitHook();
  tempDirs.add(dir);
  tellWatchdog({ addDir: dir });
}

/** Undoes {@link trackTempDir} (after removing the dir, or to keep it). */
export function releaseTempDir(dir: string): void {
  tempDirs.delete(dir);
  tellWatchdog({ removeDir: dir });
}

export interface SpawnManagedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Spawns `bin` with stdout and stderr appended to `logPath`. */
export function spawnManaged(
  name: string,
  bin: string,
  args: readonly string[],
  logPath: string,
  opts: SpawnManagedOptions = {},
): ManagedProcess {
  installExitHook();
  const fd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    const done = (info: ExitInfo): void => {
      if (exitInfo) return;
      exitInfo = info;
      live.delete(child);
      if (pid !== undefined) tellWatchdog({ remove: pid });
      resolve(info);
    };
    child.on("exit", (code, signal) => done({ code, signal }));
    child.on("error", () => done({ code: null, signal: null }));
  });
  if (pid === undefined) {
    throw new Error(`cannot spawn ${name} (${bin})`);
  }
  live.add(child);
  tellWatchdog({ add: pid });
  // A forgotten stop() must not keep the test runner alive; the exit hook and
  // the watchdog kill the process instead.
  child.unref();

  return {
    name,
    pid,
    logPath,
    exited,
    exitInfo: () => exitInfo,
    async stop(graceMs: number): Promise<void> {
      if (exitInfo) return;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      await exited;
    },
  };
}

/** Returns the last `maxBytes` of a log file, for error messages. */
export async function logTail(path: string, maxBytes = 4000): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    return text.length > maxBytes ? `...${text.slice(-maxBytes)}` : text;
  } catch {
    return "<no log>";
  }
}

/**
 * Reserves `count` distinct free TCP ports on 127.0.0.1. The ports are
 * released before returning, so a (rare) race with another process is
 * possible; callers retry when a bind fails.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, resolve);
      });
      const addr = server.address();
      if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export class ProcessExitedError extends Error {
  constructor(
    readonly process: ManagedProcess,
    readonly info: ExitInfo,
    readonly log: string,
  ) {
    super(`${process.name} exited (${info.code ?? info.signal}) before becoming ready; last output:\n${log}`);
    this.name = "ProcessExitedError";
  }
}

export interface WaitForOptions {
  /** What is being waited for, for the error message. */
  what: string;
  /** Relative deadline; ignored when `deadline` is given. */
  timeoutMs?: number;
  /** Absolute deadline (Date.now() based). */
  deadline?: number;
  intervalMs?: number;
  /** Fail fast when one of these processes exits. */
  watch?: readonly ManagedProcess[];
}

/**
 * Polls `probe` until it returns a value other than `undefined`, failing at
 * the deadline or as soon as a watched process exits.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, opts: WaitForOptions): Promise<T> {
  const begin = Date.now();
  const deadline = opts.deadline ?? begin + (opts.timeoutMs ?? 30_000);
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    for (const proc of opts.watch ?? []) {
      const info = proc.exitInfo();
      if (info) throw new ProcessExitedError(proc, info, await logTail(proc.logPath));
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${Date.now() - begin} ms waiting for ${opts.what}${cause}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, remaining)));
  }
}
