// Builds bench/peer/server (go-control-plane, pinned in its go.mod) into the shared
// binary cache, keyed by a checksum of its sources, and runs it.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const SRC = new URL("./server/", import.meta.url).pathname;

export function buildPeerServer() {
  const hash = createHash("sha256");
  for (const f of readdirSync(SRC)
    .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum")
    .sort()) {
    hash.update(f).update(readFileSync(join(SRC, f)));
  }
  const dir = process.env.SHAREDLB_BIN_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sharedlb", "bin");
  const bin = join(dir, `peer-server-${hash.digest("hex").slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const go = process.env.GO ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go");
  const tmp = `${bin}.tmp-${process.pid}`;
  execFileSync(go, ["build", "-trimpath", "-o", tmp, "."], {
    cwd: SRC,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, GOWORK: "off", GOFLAGS: "-mod=readonly -buildvcs=false", CGO_ENABLED: "0" },
  });
  renameSync(tmp, bin);
  return bin;
}

/** Starts the peer on a captured state; `apply(k)` resolves with its t0 (wall clock, ms). */
export async function startPeerServer(bin, cache, captureDir) {
  const child = spawn(bin, ["-cache", cache, "-capture", captureDir], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  const queued = [];
  lines.on("line", (l) => {
    const msg = JSON.parse(l);
    const w = waiting.shift();
    if (w) w(msg);
    else queued.push(msg);
  });
  const next = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((r) => waiting.push(r)));
  const exited = new Promise((r) => child.once("exit", r));
  const ready = await Promise.race([next(), exited.then((code) => Promise.reject(new Error(`peer-server exited (${code})`)))]);
  return {
    pid: child.pid,
    address: `127.0.0.1:${ready.port}`,
    async apply(k) {
      child.stdin.write(`apply ${k}\n`);
      return (await next()).t0;
    },
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
