// L7 end to end through the gateway: contract messages as the watcher and the allocator
// publish them (two tenant clusters on one shared IP), a real gateway process, real NATS,
// an Envoy-like delta client that follows RDS and SDS, Envoy's own validation rules, and
// @grpc/grpc-js-xds evaluating the GRPCRoute against real gRPC servers.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/nats-core";
import { decodeProgrammedMessage, generateSealingKeyPair, type Programmed } from "@sharedlb/contracts";
import {
  CLUSTER_TYPE,
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  ENDPOINT_TYPE,
  envoy,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  unpackAny,
} from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { callEcho, freePort, makeTestPki, startEchoServer, startNats, type TestNats, validateEnvoyResources, waitFor } from "@sharedlb/testing";
import { node } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { useGrpcXds } from "./test-support/grpc-xds-client.js";
import {
  allocatedListener,
  backend,
  gateway,
  httpListener,
  httpsListener,
  l7Allocation,
  prefixRule,
  route,
  sealedSecret,
} from "./test-support/l7-fixtures.js";
import { L7Envoy } from "./test-support/l7-envoy.js";
import { Publisher } from "./test-support/publisher.js";

const { DownstreamTlsContext } = envoy.extensions.transport_sockets.tls.v3;

const IP = "203.0.113.50";
const WEB = "web.a.example.com";
const ECHO = "echo.a.example.com";
const SITE = "site.b.example.com";
const ECHO_SERVICE = "sharedlb.test.Echo";

let nats: TestNats;
let nc: NatsConnection;
let pub: Publisher;
let gw: GatewayProcess;
let envoyClient: L7Envoy;
let keyPem: string;
const echoPorts: number[] = [];
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
/** Every message on lb.> while the test runs, as text. */
const wire: string[] = [];
const programmed: Programmed[] = [];

/** A gRPC server answering every method of the Echo service with its own label. */
const echoServer = (label: string, port: number) =>
  startEchoServer("127.0.0.2", port, ["Who", "Which"].map((m) => `/${ECHO_SERVICE}/${m}`), label);
const call = (client: grpc.Client, method: string) => callEcho(client, `/${ECHO_SERVICE}/${method}`);

const webRoute = (generation: number, path = "/") =>
  route("HTTPRoute", "a", "shop", "web", generation, {
    parentRefs: [{ namespace: "shop", name: "gw" }],
    hostnames: [WEB],
    rules: [prefixRule(path, [backend("shop", "web", 8080, 30080)])],
  });

function latest(kind: Programmed["kind"], name: string, version: number): Programmed | undefined {
  return programmed.filter((p) => p.kind === kind && p.name === name && p.allocationVersion === version).at(-1);
}

beforeAll(async () => {
  for (const label of ["v1", "v2"]) {
    const port = await freePort();
    servers.push(await echoServer(label, port));
    echoPorts.push(port);
  }
  const [v1Port = 0, v2Port = 0] = echoPorts;
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "l7-test", log);
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  nc.subscribe("lb.>", {
    callback: (_err, m) => {
      wire.push(new TextDecoder().decode(m.data));
      if (m.subject.startsWith("lb.programmed.")) programmed.push(decodeProgrammedMessage(m.subject, m.data).event.data);
    },
  });

  // The gateways' sealing key pair; the watcher seals to its public half.
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-l7-"));
  const sealing = generateSealingKeyPair();
  const sealingFile = join(dir, "sealing.pem");
  writeFileSync(sealingFile, sealing.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const cert = makeTestPki(join(dir, "pki")).issue("web", { dns: [WEB] });
  keyPem = cert.key;

  await pub.node(node("a", "n2", "127.0.0.2"));
  await pub.node(node("b", "m1", "127.0.0.3"));
  await pub.secret(sealedSecret("a", "shop", "web-tls", cert.cert, cert.key, sealing.publicKey, [WEB]));
  const gw1 = gateway("a", "shop", "gw", 3, [
    httpListener("http", 80, WEB),
    httpListener("grpc", 80, ECHO),
    httpsListener("https", 443, WEB, [{ namespace: "shop", name: "web-tls" }]),
  ]);
  await pub.gateway(gw1);
  await pub.route(webRoute(2));
  await pub.route(
    route("GRPCRoute", "a", "shop", "echo", 1, {
      parentRefs: [{ namespace: "shop", name: "gw", sectionName: "grpc" }],
      hostnames: [ECHO],
      rules: [
        {
          matches: [{ grpc: { type: "Exact", service: ECHO_SERVICE, method: "Which" } }],
          filters: [],
          backends: [backend("shop", "echo-v2", 50051, v2Port)],
        },
        {
          matches: [{ grpc: { type: "Exact", service: ECHO_SERVICE } }],
          filters: [],
          backends: [backend("shop", "echo-v1", 50051, v1Port, 80), backend("shop", "echo-v2", 50051, v2Port, 20)],
        },
      ],
    }),
  );
  // Tenant b's certificate is sealed to a key this gateway does not hold (another
  // environment's): its chain is left out, everything else is served.
  const siteCert = makeTestPki(join(dir, "pki-b")).issue("site", { dns: [SITE] });
  await pub.secret(sealedSecret("b", "ops", "site-tls", siteCert.cert, siteCert.key, generateSealingKeyPair().publicKey, [SITE]));
  const site = route("Ingress", "b", "ops", "site", 1, {
    hostnames: [SITE],
    rules: [{ ...prefixRule("/", [backend("ops", "site", 80, 30081)]), hostnames: [SITE] }],
    tls: [{ hosts: [SITE], secret: { namespace: "ops", name: "site-tls" } }],
  });
  await pub.route(site);
  await pub.l7Allocation(
    l7Allocation(gw1, "gateway", [
      allocatedListener("http", "HTTP", IP, 80, [WEB]),
      allocatedListener("grpc", "HTTP", IP, 80, [ECHO]),
      allocatedListener("https", "HTTPS", IP, 443, [WEB]),
    ]),
  );
  await pub.l7Allocation(
    l7Allocation(site, "ingress", [
      allocatedListener("http", "HTTP", IP, 80, [SITE]),
      allocatedListener("https", "HTTPS", IP, 443, [SITE]),
    ]),
  );

  gw = await startGateway(
    nats.url,
    writeFleetFile("fleets: [{ name: edge, pools: [public] }]\nnodeAddresses: { allowLoopback: true }\n"),
    "gw-l7",
    ["--sealing-keys", sealingFile, "--programmed-interval", "50ms"],
  );
  envoyClient = new L7Envoy(gw.grpc, { id: "envoy-l7", cluster: "edge" });
  useGrpcXds(gw.grpc, "proxyless-l7");
});

afterAll(async () => {
  for (const c of clients) c.close();
  envoyClient?.close();
  for (const s of servers) s.forceShutdown();
  await gw?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe("L7 through the xds-gateway (two tenants on one shared IP)", () => {
  it("serves one HTTP and one HTTPS listener on the shared IP, a virtual host and a chain per hostname, SDS and backends at NodePorts", async () => {
    const chainRoute = `https-${IP}-443/${WEB}`;
    await waitFor(
      "the L7 configuration",
      () =>
        envoyClient.names(LISTENER_TYPE).join() === `http-${IP}-80,https-${IP}-443` &&
        envoyClient.names(ROUTE_TYPE).join() === [`http-${IP}-80`, chainRoute].sort().join() &&
        envoyClient.names(SECRET_TYPE).join() === "a/shop/web-tls" &&
        envoyClient.names(ENDPOINT_TYPE).length === envoyClient.names(CLUSTER_TYPE).length &&
        envoyClient.names(CLUSTER_TYPE).length >= 4,
    );
    const http = envoyClient.resources(ROUTE_TYPE).get(`http-${IP}-80`);
    expect((http?.virtualHosts ?? []).flatMap((v) => v.domains ?? []).sort()).toEqual([ECHO, SITE, WEB].sort());

    // b's chain is left out (its key does not open here), reported once.
    expect(metricValue(await gw.metrics(), "sharedlb_xds_sealed_key_failures_total", { reason: "UnknownKey" })).toBe(1);
    const logged = gw.proc
      .output()
      .split("\n")
      .filter((l) => l.includes("TLS private key not opened"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("b/ops/site-tls");
    const https = envoyClient.resources(LISTENER_TYPE).get(`https-${IP}-443`);
    expect(https?.address?.socketAddress).toMatchObject({ address: IP, portValue: 443 });
    expect(https?.filterChains?.map((c) => c.filterChainMatch?.serverNames)).toEqual([[WEB]]);
    const socket = https?.filterChains?.[0]?.transportSocket?.typedConfig;
    expect(socket?.type_url).toBe(DOWNSTREAM_TLS_CONTEXT_TYPE);
    expect(unpackAny(DownstreamTlsContext, socket)?.commonTlsContext?.tlsCertificateSdsSecretConfigs?.map((s) => s.name)).toEqual([
      "a/shop/web-tls",
    ]);
    // The chain's own routes, and 421 for a Host of another chain.
    const chain = envoyClient.resources(ROUTE_TYPE).get(chainRoute);
    expect(chain?.virtualHosts?.map((v) => v.domains)).toEqual(expect.arrayContaining([[WEB], ["*"]]));

    const secret = envoyClient.resources(SECRET_TYPE).get("a/shop/web-tls");
    expect(secret?.tlsCertificate?.privateKey?.inlineString).toBe(keyPem);

    expect(envoyClient.names(CLUSTER_TYPE)).toEqual(
      expect.arrayContaining(["a/shop/web/http-8080", "b/ops/site/http-80", "a/shop/echo-v1/h2-50051", "a/shop/echo-v2/h2-50051"]),
    );
    const at = (cluster: string) =>
      (envoyClient.resources(ENDPOINT_TYPE).get(cluster)?.endpoints ?? []).flatMap((l) =>
        (l.lbEndpoints ?? []).map((e) => `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`),
      );
    expect(at("a/shop/web/http-8080")).toEqual(["127.0.0.2:30080"]);
    expect(at("b/ops/site/http-80")).toEqual(["127.0.0.3:30081"]);

    expect(await validateEnvoyResources(envoyClient.anys())).toEqual([]);
  });

  it("never has the private key in clear on lb.> or in the gateway's log", async () => {
    await waitFor("the secret served", () => envoyClient.names(SECRET_TYPE).length === 1);
    // The body of the PEM (what a leak would carry, whatever the framing).
    const body = keyPem
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("-----"))
      .join("");
    expect(body.length).toBeGreaterThan(40);
    const flat = (s: string) => s.replace(/\\n|\s/g, "");
    expect(wire.length).toBeGreaterThan(0);
    for (const m of wire) expect(flat(m)).not.toContain(body);
    expect(flat(gw.proc.output())).not.toContain(body);
  });

  it("@grpc/grpc-js-xds reaches the backends through the GRPCRoute: the method match, and 80/20 weights", async () => {
    const client = new grpc.Client(`xds:///${ECHO}`, grpc.credentials.createInsecure());
    clients.push(client);
    await waitFor("the GRPCRoute resolves", async () => (await call(client, "Who")) !== "");
    for (let i = 0; i < 20; i++) expect(await call(client, "Which")).toBe("v2");
    const calls = 400;
    let v1 = 0;
    for (let i = 0; i < calls; i++) if ((await call(client, "Who")) === "v1") v1++;
    // 80% of 400 is 320; a binomial standard deviation is 8: ±40 is five of them.
    expect(v1).toBeGreaterThanOrEqual(280);
    expect(v1).toBeLessThanOrEqual(360);
  });

  it("a NACK of a route's configuration turns its lb.programmed nacked with Envoy's text, and the fix acked", async () => {
    await waitFor("the route acked", () => (latest("httproute", "web", 2)?.acked ?? 0) >= 1);
    envoyClient.nackIf = (typeUrl, names) =>
      typeUrl === ROUTE_TYPE && names.includes(`http-${IP}-80`) ? "route configuration rejected by the test" : undefined;
    await pub.route(webRoute(3, "/v3"));
    const nacked = await waitFor("nacked", () => {
      const p = latest("httproute", "web", 3);
      return p && p.nacked === 1 ? p : undefined;
    });
    expect(nacked.errorDetail).toEqual({ typeUrl: ROUTE_TYPE, node: "envoy-l7", message: "route configuration rejected by the test" });
    // The other tenant's Ingress shares that RouteConfiguration, unchanged: Envoy keeps
    // serving it, and the rejection (with its text) is not reported on it.
    expect(programmed.filter((p) => p.kind === "ingress" && p.nacked > 0)).toEqual([]);
    envoyClient.nackIf = undefined;
    await pub.route(webRoute(4, "/v4"));
    const fixed = await waitFor("acked", () => {
      const p = latest("httproute", "web", 4);
      return p && p.acked >= 1 && p.nacked === 0 && p.pending === 0 ? p : undefined;
    });
    expect(fixed.errorDetail).toBeUndefined();
    // The Gateway and the other tenant's Ingress are reported too, at their generations.
    expect(latest("gateway", "gw", 3)).toBeDefined();
    expect(latest("ingress", "site", 1)).toBeDefined();
  });
});
