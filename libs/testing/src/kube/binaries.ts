import { spawn } from "node:child_process";
import { constants, existsSync } from "node:fs";
import { access } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Paths of the envtest binaries (see tools/envtest/build.sh). */
export interface KubeBinaries {
  dir: string;
  kubeApiserver: string;
  etcd: string;
}

export interface EnsureKubeBinariesOptions {
  /**
   * Directory holding `kube-apiserver` and `etcd`. Defaults to
   * `$SHAREDLB_ENVTEST_BIN_DIR`; when neither is set, `tools/envtest/build.sh`
   * is run (it is a no-op printing the cache dir when the binaries exist).
   */
  binDir?: string;
  /** Upper bound for a cold build. Default 30 minutes. */
  buildTimeoutMs?: number;
}

const BUILD_SCRIPT = join("tools", "envtest", "build.sh");
const DEFAULT_BUILD_TIMEOUT_MS = 30 * 60_000;

let cached: Promise<KubeBinaries> | undefined;

/**
 * Resolves the kube-apiserver and etcd binaries, building them with
 * `tools/envtest/build.sh` when they are missing. The result is memoised per
 * process; concurrent processes are serialised by the script's lock.
 */
export function ensureKubeBinaries(opts: EnsureKubeBinariesOptions = {}): Promise<KubeBinaries> {
  const explicit = opts.binDir ?? process.env.SHAREDLB_ENVTEST_BIN_DIR;
  if (explicit) return checkBinaries(resolve(explicit));
  if (!cached) {
    cached = runBuildScript(opts.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS).then(checkBinaries);
    // Do not memoise failures: a later call may succeed (e.g. after a fix).
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}

async function checkBinaries(dir: string): Promise<KubeBinaries> {
  const bins: KubeBinaries = {
    dir,
    kubeApiserver: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
  };
  for (const bin of [bins.kubeApiserver, bins.etcd]) {
    try {
      await access(bin, constants.X_OK);
    } catch {
      throw new Error(
        `envtest binary ${bin} is missing or not executable; run tools/envtest/build.sh ` +
          "(or unset SHAREDLB_ENVTEST_BIN_DIR to let the harness build it)",
      );
    }
  }
  return bins;
}

/** Walks up from this module to the repository root holding `script` (tools/envtest/build.sh). */
export function findBuildScript(from: string = dirname(fileURLToPath(import.meta.url)), script: string = BUILD_SCRIPT): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, script);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        script === BUILD_SCRIPT
          ? `cannot find ${BUILD_SCRIPT} above ${from}; set SHAREDLB_ENVTEST_BIN_DIR to a directory with kube-apiserver and etcd`
          : `cannot find ${script} above ${from}`,
      );
    }
    dir = parent;
  }
}

function runBuildScript(timeoutMs: number): Promise<string> {
  return runCacheScript(findBuildScript(), timeoutMs);
}

/**
 * Runs a repository script that fills a cache outside the repository and prints its
 * directory as the last line of stdout (tools/envtest/build.sh, tools/gateway-api/fetch.sh).
 */
export function runCacheScript(script: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolvePromise, reject) => {
    // stderr is inherited so that a cold (multi-minute) build shows progress.
    const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${script}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const dir = stdout.trim().split("\n").at(-1)?.trim();
      if (code === 0 && dir) resolvePromise(dir);
      else reject(new Error(`${script} failed (exit ${code ?? signal}); see its output above`));
    });
  });
}
