// ADS over mutual TLS, with real certificates (openssl), the real gateway process and
// real clients: who is served, who is refused and how each side learns why.
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyCloudEvent, decodeEvent, type XdsActivity } from "@sharedlb/contracts";
import { CLUSTER_TYPE, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { callEcho, freePort, type IssuedCert, makeTestPki, startEchoServer, startNats, startProcess, type TestNats, type TestPki, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsClient } from "./client/ads-client.js";
import { fleetUri } from "./domain/fleet-identity.js";
import { DeltaEnvoy, SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, MAIN, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { useGrpcXds } from "./test-support/grpc-xds-client.js";
import { adsPki, clientCredentials } from "./test-support/mtls.js";
import { Publisher } from "./test-support/publisher.js";

const FLEETS = "fleets: [{ name: edge, pools: [public] }, { name: core, pools: [private] }]\nnodeAddresses: { allowLoopback: true }\n";
const BACKEND = "127.0.0.2";
const WHO = "/sharedlb.test.Echo/Who";

let dir: string;
let pki: TestPki;
let server: IssuedCert;
let edge: IssuedCert;
let nats: TestNats;
let nc: NatsConnection;
let gw: GatewayProcess;
let tlsArgs: string[];
const xdsEvents: XdsActivity[] = [];
const closers: (() => void)[] = [];

const creds = (cert?: IssuedCert) => clientCredentials(pki.ca, cert?.key, cert?.cert);

/** A raw SotW stream asking for `fleet`; returns how it ended and what it received. */
async function askFor(fleet: string, nodeId: string, credentials: grpc.ChannelCredentials) {
  const client = new AdsClient(gw.grpc, { credentials });
  closers.push(() => client.close());
  const call = client.sotw();
  call.send({ node: { id: nodeId, cluster: fleet }, typeUrl: CLUSTER_TYPE });
  const status = await call.status;
  return { status, received: call.received.length };
}

/** The gateway's served certificate serial, from a fresh TLS connection. */
function servedSerial(): Promise<string> {
  const [host, port] = gw.grpc.split(":");
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port: Number(port), ca: pki.ca, cert: edge.cert, key: edge.key, ALPNProtocols: ["h2"], servername: "localhost" }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.destroy();
    });
    s.on("error", reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sharedlb-ads-mtls-"));
  pki = makeTestPki(join(dir, "pki"), "fleet-ca");
  const ads = adsPki(pki);
  server = ads.server;
  edge = ads.envoy("envoy-edge", ["edge"]).cert;
  // Served the way the kubelet projects a Secret, so the rotation test can swap it.
  const served = serve(server.cert, server.key);
  tlsArgs = ["--ads-tls-cert", join(served, "tls.crt"), "--ads-tls-key", join(served, "tls.key"), "--ads-client-ca", pki.caFile];
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "ads-mtls-test", log);
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  nc.subscribe("lb.xds.>", {
    callback: (_err, m) => {
      const ev: AnyCloudEvent = decodeEvent(m.data);
      if (ev.type === "io.sharedlb.xds.v1") xdsEvents.push(ev.data);
    },
  });
  const pub = new Publisher(conn.js);
  nodePort = await freePort();
  await pub.node(node("a", "n2", BACKEND));
  for (const s of [greeter(), web]) {
    await pub.service(s);
    await pub.allocation(allocation(s, "203.0.113.30"));
  }
  gw = await startGateway(nats.url, writeFleetFile(FLEETS), "gw-mtls", [...tlsArgs, "--ads-tls-refresh", "200ms"]);
});

afterAll(async () => {
  for (const c of closers) c();
  await gw?.stop();
  await nc?.close();
  await nats?.dispose();
});

let nodePort: number;
const web = service("a", "shop", "web", { ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }] });
const greeter = () =>
  service("a", "shop", "greeter", { ports: [{ name: "grpc", protocol: "TCP", port: 50051, nodePort, appProtocol: "grpc" }] });

let versions = 0;
/**
 * Writes a certificate and key as the kubelet updates a Secret volume: a new directory,
 * then one atomic rename of the `served` symlink, so both files change at once.
 */
function serve(cert: string, key: string): string {
  const version = join(dir, `v${++versions}`);
  mkdirSync(version);
  writeFileSync(join(version, "tls.crt"), cert);
  writeFileSync(join(version, "tls.key"), key);
  const link = join(dir, `served.${versions}`);
  symlinkSync(version, link);
  renameSync(link, join(dir, "served"));
  return join(dir, "served");
}

const refusals = async (reason: string) => metricValue(await gw.metrics(), "sharedlb_xds_refused_streams_total", { protocol: "sotw", reason });

describe("ADS over mutual TLS", () => {
  it("serves an Envoy whose certificate names its fleet, SotW and delta", async () => {
    const sotw = new SotwEnvoy(gw.grpc, { id: "envoy-sotw", cluster: "edge" }, creds(edge)).start();
    const delta = new DeltaEnvoy(gw.grpc, { id: "envoy-delta", cluster: "edge" }, creds(edge)).start();
    closers.push(() => sotw.close(), () => delta.close());
    for (const e of [sotw, delta]) {
      await e.waitFor("the web listener", (r) => r.typeUrl === LISTENER_TYPE && r.names.some((n) => n.includes("203.0.113.30")));
      expect(e.errors).toEqual([]);
    }
    await waitFor("connect events", () => xdsEvents.filter((e) => e.event === "connect" && e.fleet === "edge").length >= 2);
  });

  it("refuses a client without a certificate, and one whose certificate another CA issued, with UNAUTHENTICATED", async () => {
    const counted = await refusals("NoClientCertificate");
    const none = await askFor("edge", "envoy-anon", creds(undefined));
    expect(none.status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.status.details).toContain("client certificate issued by the fleet CA");
    expect(none.received).toBe(0);

    const rogueCa = makeTestPki(join(dir, "rogue"), "rogue-ca");
    const rogue = rogueCa.issue("envoy-rogue", { uri: [fleetUri("edge")] });
    const other = await askFor("edge", "envoy-rogue", creds(rogue));
    expect(other.status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(other.received).toBe(0);
    expect(await refusals("NoClientCertificate")).toBe(counted + 2);
    expect(gw.proc.output()).toMatch(/"reason":"NoClientCertificate".*ADS stream refused/);
  });

  it("refuses an edge certificate asking for fleet core with PERMISSION_DENIED, an lb.xds refused event and a metric", async () => {
    const counted = await refusals("FleetNotInCertificate");
    const r = await askFor("core", "envoy-sneaky", creds(edge));
    expect(r.status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.status.details).toContain('does not authorize fleet "core"');
    expect(r.status.details).toContain(fleetUri("core"));
    expect(r.received).toBe(0);
    const ev = await waitFor("the refused event", () => xdsEvents.find((e) => e.event === "refused" && e.node === "envoy-sneaky"));
    expect(ev).toMatchObject({
      fleet: "core",
      stream: "sotw",
      replica: "gw-mtls",
      reason: "FleetNotInCertificate",
      errorDetail: { code: grpc.status.PERMISSION_DENIED },
    });
    // Refused before it was counted as connected.
    expect(xdsEvents.some((e) => e.node === "envoy-sneaky" && e.event === "connect")).toBe(false);
    expect(await refusals("FleetNotInCertificate")).toBe(counted + 1);
  });

  it("fails a plaintext client at the transport: nothing is served to it", async () => {
    const r = await askFor("edge", "envoy-plain", grpc.credentials.createInsecure());
    expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.received).toBe(0);
    expect(xdsEvents.some((e) => e.node === "envoy-plain")).toBe(false);
  });

  it("serves proxyless gRPC (@grpc/grpc-js-xds) through a sidecar that presents the fleet certificate", async () => {
    // grpc-js-xds 1.14 offers only insecure and google_default channel credentials for
    // its xDS server, so a local TLS-originating relay carries the fleet certificate, as
    // a sidecar would in production.
    const relay = await tlsRelay(gw.grpc, edge);
    closers.push(() => relay.close());
    const backend = await startEchoServer(BACKEND, nodePort, [WHO], BACKEND);
    closers.push(() => backend.forceShutdown());
    useGrpcXds(relay.address, "proxyless-mtls");
    const client = new grpc.Client("xds:///grpc.greeter.shop.a", grpc.credentials.createInsecure());
    closers.push(() => client.close());
    const who = await callEcho(client, WHO, 15_000);
    expect(who).toBe(BACKEND);
    expect(xdsEvents.some((e) => e.node === "proxyless-mtls" && e.event === "connect" && e.fleet === "edge")).toBe(true);
  });

  it("picks up a rotated certificate without a restart, and keeps the last good one when the new files do not load", async () => {
    const reloads = async (outcome: string) => metricValue(await gw.metrics(), "sharedlb_xds_tls_reloads_total", { outcome });
    const [before, reloaded, failed] = [await servedSerial(), await reloads("reloaded"), await reloads("failed")];
    const next = pki.issue("gateway-next", { dns: ["localhost"], ip: ["127.0.0.1"] });
    serve(next.cert, next.key);
    const after = await waitFor("the rotated certificate", async () => {
      const s = await servedSerial();
      return s !== before ? s : undefined;
    });
    expect(after).toBe(new X509Certificate(next.cert).serialNumber);
    expect(await reloads("reloaded")).toBe(reloaded + 1);
    expect(await reloads("failed")).toBe(failed);

    // A key that does not fit: logged, counted, and the rotated certificate stays served.
    serve(next.cert, readFileSync(edge.keyFile, "utf8"));
    await waitFor("the failed reload", async () => (await reloads("failed")) > failed);
    expect(await servedSerial()).toBe(after);
    expect(gw.proc.output()).toContain("do not load; still serving the previous certificate");
    const e = new SotwEnvoy(gw.grpc, { id: "envoy-after-rotation", cluster: "edge" }, creds(edge)).start();
    closers.push(() => e.close());
    await e.waitFor("the web listener", (r) => r.typeUrl === LISTENER_TYPE && r.names.length > 0);
  });
});

describe("ADS transport flags", () => {
  const run = async (args: string[]) => {
    const p = startProcess(process.execPath, [MAIN, "--config", writeFleetFile(FLEETS), "--nats-url", nats.url, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", ...args]);
    return { code: await p.exited, output: p.output() };
  };

  it("will not start without mutual TLS unless plaintext is asked for, naming what is missing", async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.output).toContain("--ads-tls-cert, --ads-tls-key and --ads-client-ca (or --ads-insecure");
    const partial = await run([tlsArgs[0] ?? "", tlsArgs[1] ?? ""]);
    expect(partial.code).toBe(2);
    expect(partial.output).toContain("also needs --ads-tls-key and --ads-client-ca");
    const both = await run(["--ads-insecure", ...tlsArgs]);
    expect(both.code).toBe(2);
    expect(both.output).toContain("--ads-insecure contradicts");
  });

  it("will not start with a key that does not fit the certificate, naming the files and not the key", async () => {
    const r = await run(["--ads-tls-cert", server.certFile, "--ads-tls-key", edge.keyFile, "--ads-client-ca", pki.caFile]);
    expect(r.code).toBe(2);
    expect(r.output).toContain(`ADS private key ${edge.keyFile} does not fit certificate ${server.certFile}`);
    expect(r.output).not.toContain(edge.key.split("\n")[1] ?? "PRIVATE");
  });
});

/** A TCP listener that forwards each connection over TLS with `cert` (a sidecar). */
async function tlsRelay(target: string, cert: IssuedCert): Promise<{ address: string; close: () => void }> {
  const [host, port] = target.split(":");
  const relay: Server = createServer((inbound) => {
    const out = tlsConnect({ host, port: Number(port), ca: pki.ca, cert: cert.cert, key: cert.key, ALPNProtocols: ["h2"], servername: "localhost" });
    inbound.pipe(out).pipe(inbound);
    const end = () => {
      inbound.destroy();
      out.destroy();
    };
    inbound.on("error", end);
    out.on("error", end);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const a = relay.address();
  if (!a || typeof a === "string") throw new Error("relay has no address");
  return { address: `127.0.0.1:${a.port}`, close: () => relay.close() };
}
