// The LB side of the L7 benchmark as OS processes, through their real command lines.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../../libs/testing/dist/index.js";

const ALLOCATOR = new URL("../../services/allocator/dist/main.js", import.meta.url).pathname;
const GATEWAY = new URL("../../services/xds-gateway/dist/main.js", import.meta.url).pathname;

function file(name, text) {
  const path = join(mkdtempSync(join(tmpdir(), "sharedlb-bench-l7-")), name);
  writeFileSync(path, text);
  return path;
}

export async function startAllocatorProcess(natsUrl, redisUrl, pools) {
  const proc = startProcess(process.execPath, [
    ALLOCATOR,
    "--config",
    file("pools.yaml", pools),
    "--nats-url",
    natsUrl,
    "--redis-url",
    redisUrl,
    "--replica",
    "bench-l7",
    "--log-level",
    "info",
  ]);
  await proc.waitForOutput(/allocator started/, 60_000);
  return proc;
}

export async function startGatewayProcess(natsUrl) {
  const proc = startProcess(process.execPath, [
    GATEWAY,
    "--config",
    file("fleets.yaml", "fleets: [{ name: edge, pools: [public] }]\n"),
    "--nats-url",
    natsUrl,
    "--grpc-addr",
    "127.0.0.1:0",
    "--http-addr",
    "127.0.0.1:0",
    "--replica",
    "bench-l7",
    "--log-level",
    "info",
    // Plaintext ADS on loopback: the benchmark measures the gateway, not TLS.
    "--ads-insecure",
  ]);
  const address = (await proc.waitForOutput(/"grpc":"([^"]+)"/, 120_000))[1];
  return {
    proc,
    address,
    /** Current resident memory in MB. */
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.child.pid}/status`, "utf8"));
      return m ? Math.round(Number(m[1]) / 1024) : undefined;
    },
  };
}
