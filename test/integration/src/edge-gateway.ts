import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type ManagedProcess, startProcess } from "@sharedlb/testing";
import { DeltaEnvoy } from "../../../services/xds-gateway/src/test-support/fake-envoy.js";
import { adsPki } from "../../../services/xds-gateway/src/test-support/mtls.js";

const GATEWAY_MAIN = join(import.meta.dirname, "../../../services/xds-gateway/dist/main.js");

/**
 * An xds-gateway process serving fleet `edge` (these pools) from NATS, and one delta
 * Envoy of that fleet attached to it. ADS over mutual TLS, as deployed: the Envoy's
 * certificate names its fleet. `natsArgs`: the gateway's NATS identity and CA when NATS
 * requires them; `dir`: where the fleet file and the ADS certificates and keys go.
 */
export async function startEdgeGateway(
  natsUrl: string,
  pools: readonly string[],
  opts: { natsArgs?: readonly string[]; dir?: string } = {},
): Promise<{ gateway: ManagedProcess; envoy: DeltaEnvoy }> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "sharedlb-edge-"));
  mkdirSync(dir, { recursive: true });
  const fleets = join(dir, "fleets.yaml");
  writeFileSync(fleets, `fleets:\n  - name: edge\n    pools: [${pools.join(", ")}]\n`);
  const ads = adsPki(makeTestPki(join(fleets, "..", "pki"), "fleet-ca"));
  const gateway = startProcess(process.execPath, [
    GATEWAY_MAIN, "--config", fleets, "--nats-url", natsUrl, ...(opts.natsArgs ?? []), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", ...ads.gatewayArgs,
  ]);
  const [, grpc] = await gateway.waitForOutput(/"grpc":"([^"]+)"/, 60_000);
  const envoy = new DeltaEnvoy(grpc as string, { id: "envoy-1", cluster: "edge" }, ads.envoy("envoy-1", ["edge"]).credentials).start();
  return { gateway, envoy };
}
