import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LISTENER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AdsClient } from "../../../../services/xds-gateway/src/client/ads-client.js";
import { clientCredentials } from "../../../../services/xds-gateway/src/test-support/mtls.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { compose, composeConfig, onHost, runComposeCerts } from "./compose.js";

// docker-compose.yml's one-shot `certs` script, run for real, and the gateway configured
// with the files compose gives it: an Envoy with compose's client certificate, checking the
// gateway as compose's Envoy does (SNI and SAN xds-gateway), is served fleet edge.

const dir = mkdtempSync(join(tmpdir(), "sharedlb-compose-certs-"));
const inVolume = (path: string | undefined) => onHost(dir, path);
let nats: TestNats;
let gw: GatewayProcess;
const closers: (() => void)[] = [];

beforeAll(async () => {
  runComposeCerts(dir);
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "compose-certs", log);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  await conn.nc.close();
  const env = compose.services["xds-gateway"]?.environment ?? {};
  gw = await startGateway(nats.url, writeFleetFile(composeConfig("fleets")), "gw-compose", [
    "--ads-tls-cert", inVolume(env.SHAREDLB_ADS_TLS_CERT),
    "--ads-tls-key", inVolume(env.SHAREDLB_ADS_TLS_KEY),
    "--ads-client-ca", inVolume(env.SHAREDLB_ADS_CLIENT_CA),
  ]);
});

afterAll(async () => {
  for (const c of closers) c();
  await gw?.stop();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("docker-compose.yml certificates", () => {
  it("serve compose's Envoy its fleet over mutual TLS, the gateway checked under the name the Envoy dials", async () => {
    const bootstrap = parse(composeConfig("envoy-bootstrap"));
    const tls = bootstrap.static_resources.clusters[0].transport_socket.typed_config;
    const ctx = tls.common_tls_context;
    const read = (p: string) => readFileSync(inVolume(p));
    const creds = clientCredentials(
      read(ctx.validation_context.trusted_ca.filename),
      read(ctx.tls_certificates[0].private_key.filename),
      read(ctx.tls_certificates[0].certificate_chain.filename),
    );
    const client = new AdsClient(gw.grpc, { credentials: creds, channelOptions: { "grpc.ssl_target_name_override": tls.sni } });
    closers.push(() => client.close());
    const call = client.sotw();
    call.send({ node: { id: "envoy-compose-1", cluster: bootstrap.node.cluster }, typeUrl: LISTENER_TYPE });
    // A response at all means the stream was accepted (compose's fleet has no Services yet).
    const first = await call.waitFor((r) => r.typeUrl === LISTENER_TYPE, 20_000, 0);
    expect(first.resources ?? []).toEqual([]);
    expect(ctx.validation_context.match_typed_subject_alt_names[0].matcher.exact).toBe(tls.sni);
  });

  it("issue NATS and Redis certificates from a CA that is not the fleet CA", () => {
    const verify = (ca: string, cert: string) =>
      execFileSync("openssl", ["verify", "-CAfile", join(dir, ca), join(dir, cert)], { stdio: "pipe" }).toString();
    expect(verify("internal-ca.crt", "nats.crt")).toContain("OK");
    expect(verify("internal-ca.crt", "redis.crt")).toContain("OK");
    expect(() => verify("fleet-ca.crt", "nats.crt")).toThrow();
    const allocator = compose.services.allocator?.environment ?? {};
    expect(inVolume(allocator.NATS_CA)).toBe(join(dir, "internal-ca.crt"));
  });
});
