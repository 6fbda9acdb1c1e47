// The LB side of the L7 benchmark as OS processes, through their real command lines.
// Reuses the services' own launchers (Node 24 strips the types of these test-only
// TypeScript files; they are not shipped in any dist) rather than copies of them.
import { readFileSync } from "node:fs";

const allocatorSupport = new URL("../../services/allocator/src/test-support/allocator-process.ts", import.meta.url);
const gatewaySupport = new URL("../../services/xds-gateway/src/test-support/gateway-process.ts", import.meta.url);
const { startAllocator, writePoolFile } = await import(allocatorSupport.href);
const { startGateway, writeFleetFile } = await import(gatewaySupport.href);

export function startAllocatorProcess(natsUrl, redisUrl, pools) {
  return startAllocator({ config: writePoolFile(pools), natsUrl, redisUrl, replica: "bench-l7" });
}

export async function startGatewayProcess(natsUrl) {
  // Plaintext ADS on loopback (the launcher's default): the benchmark measures the gateway, not TLS.
  const gateway = await startGateway(natsUrl, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "bench-l7");
  return {
    proc: gateway.proc,
    address: gateway.grpc,
    /** Current resident memory in MB. */
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gateway.proc.child.pid}/status`, "utf8"));
      return m ? Math.round(Number(m[1]) / 1024) : undefined;
    },
  };
}
