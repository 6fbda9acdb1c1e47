import * as grpc from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyCloudEvent, decodeEvent, makeEvent, STREAM_NAMES, subjects, type XdsActivity } from "@sharedlb/contracts";
import {
  CLUSTER_TYPE,
  DELTA_AGGREGATED_RESOURCES_PATH,
  ENDPOINT_TYPE,
  envoy,
  HTTP_CONNECTION_MANAGER_TYPE,
  LISTENER_TYPE,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  type RESOURCE_TYPES,
  ROUTE_TYPE,
  STREAM_AGGREGATED_RESOURCES_PATH,
  TCP_PROXY_TYPE,
  UDP_PROXY_TYPE,
  unpackAny,
  validateDiscoveryResponse,
  validateResource,
} from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsClient } from "./client/ads-client.js";
import { DeltaEnvoy, type DeltaEnvoy as DeltaEnvoyT, decoders, type Received, SotwEnvoy } from "./test-support/fake-envoy.js";
import { allocation, endpoints, node, service } from "@sharedlb/testing/resources";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

import core = envoy.config.core.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const { UdpProxyConfig, Route: UdpRoute } = envoy.extensions.filters.udp.udp_proxy.v3;
const { ProxyProtocolUpstreamTransport } = envoy.extensions.transport_sockets.proxy_protocol.v3;

const FLEETS = writeFleetFile("fleets:\n  - name: edge\n    pools: [public]\n  - name: internal\n    pools: [private]\n");

// Tenant cluster "a": two ready nodes, one NotReady, one excluded.
const NODES = [
  node("a", "w1", "10.0.0.1"),
  node("a", "w2", "10.0.0.2"),
  node("a", "w3", "10.0.0.3", { ready: false }),
  node("a", "w4", "10.0.0.4", { excluded: true }),
];
const web = service("a", "shop", "web", {
  ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }],
  annotations: { "sharedlb.io/proxy-protocol": "v2" },
});
// The same Service shapes in whichever tenant cluster an it owns.
const dnsIn = (cluster: string) =>
  service(cluster, "shop", "dns", {
    ports: [
      { name: "dns-udp", protocol: "UDP", port: 53, nodePort: 31053 },
      { name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 31054 },
    ],
  });
const localIn = (cluster: string) =>
  service(cluster, "shop", "local", {
    externalTrafficPolicy: "Local",
    healthCheckNodePort: 32000,
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
  });
const dns = dnsIn("a");
const local = localIn("a");
const other = service("b", "ops", "admin", { ports: [{ name: "admin", protocol: "TCP", port: 8443, nodePort: 31844 }] });
const waiting = service("a", "shop", "waiting");

let nats: TestNats;
let nc: NatsConnection;
let pub: Publisher;
let gw1: GatewayProcess;
const closers: (() => void)[] = [];
const xdsEvents: XdsActivity[] = [];

interface EnvoyPair {
  sotw: SotwEnvoy;
  delta: DeltaEnvoyT;
}

function hasFullConfig(e: SotwEnvoy | DeltaEnvoyT): boolean {
  const clusters = e.names(CLUSTER_TYPE);
  return e.log.some((r) => r.typeUrl === LISTENER_TYPE) && clusters.length > 0 && e.names(ENDPOINT_TYPE).join() === clusters.join();
}

/**
 * A SotW and a delta Envoy of the edge fleet, with node ids of their own, once both hold
 * a complete configuration: each it gets streams no other it has touched.
 */
async function connectPair(tag: string, address = gw1.grpc): Promise<EnvoyPair> {
  const sotw = new SotwEnvoy(address, { id: `envoy-sotw-${tag}`, cluster: "edge" }).start();
  const delta = new DeltaEnvoy(address, { id: `envoy-delta-${tag}`, cluster: "edge" }).start();
  closers.push(
    () => sotw.close(),
    () => delta.close(),
  );
  for (const e of [sotw, delta]) await waitFor(`${tag}: first full configuration`, () => hasFullConfig(e));
  return { sotw, delta };
}

function endpointsOf(e: SotwEnvoy | DeltaEnvoyT, cluster: string): string[] {
  const cla = e.resources(ENDPOINT_TYPE).get(cluster);
  return (cla?.endpoints ?? []).flatMap((l) =>
    (l.lbEndpoints ?? []).map((lb) => `${lb.endpoint?.address?.socketAddress?.address}:${lb.endpoint?.address?.socketAddress?.portValue}`),
  );
}

beforeAll(async () => {
  nats = await startNats();
  const conn = await connectNats(nats.url, "xds-test", createRootLogger("test", "warn"));
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, createRootLogger("test", "warn"));
  pub = new Publisher(conn.js);
  nc.subscribe("lb.xds.>", {
    callback: (_err, m) => {
      const ev: AnyCloudEvent = decodeEvent(m.data);
      if (ev.type === "io.sharedlb.xds.v1") xdsEvents.push(ev.data);
    },
  });
  // Replayed at start: nodes, two Services in the edge pool, one in another pool, one
  // Pending, and a message that breaks the contract.
  for (const n of NODES) await pub.node(n);
  for (const s of [web, dns, other, waiting]) await pub.service(s);
  await pub.allocation(allocation(web, "203.0.113.10"));
  await pub.allocation(allocation(dns, "203.0.113.10"));
  await pub.allocation(allocation(other, "10.9.0.1", { pool: "private" }));
  await pub.allocation(allocation(waiting, "", { state: "Pending", ports: [], reason: "PoolExhausted", message: "no free port" }));
  await pub.raw("lb.resource.a.service.shop.broken", "{ not json");
  gw1 = await startGateway(nats.url, FLEETS, "gw-1");
});

afterAll(async () => {
  for (const c of closers) c();
  await gw1?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe("xds-gateway over ADS (raw clients, real process, real NATS)", () => {
  it("is ready once it has replayed the streams", async () => {
    const res = await fetch(`http://${gw1.http}/readyz`);
    expect(res.status).toBe(200);
    expect(gw1.proc.output()).toMatch(/"services":4,"allocations":4/);
  });

  it("serves listeners, clusters and endpoints matching the allocations field by field (SotW and delta)", async () => {
    const { sotw, delta } = await connectPair("serve");
    // This it's names: the replayed Services of cluster a and its own on 203.0.113.11.
    const ownListener = (n: string) => n.includes("-203.0.113.10-") || n.includes("-203.0.113.11-");
    const ownCluster = (n: string) => n.startsWith("a/");
    const own = (e: SotwEnvoy | DeltaEnvoyT, t: typeof LISTENER_TYPE | typeof CLUSTER_TYPE | typeof ENDPOINT_TYPE) =>
      e.names(t).filter(t === LISTENER_TYPE ? ownListener : ownCluster);
    // Followed live: a Local Service with its EndpointSlice, remapped to port 8080.
    await pub.service(local);
    await pub.endpoints(endpoints("a", "shop", "local", ["w2", "w3"]));
    await pub.allocation(allocation(local, "203.0.113.11", {}, { 80: 8080 }));

    const listeners = ["tcp-203.0.113.10-443", "tcp-203.0.113.10-53", "tcp-203.0.113.11-8080", "udp-203.0.113.10-53"];
    const clusters = ["a/shop/dns/tcp-53", "a/shop/dns/udp-53", "a/shop/local/tcp-80", "a/shop/web/tcp-443"];
    for (const e of [sotw, delta]) {
      await waitFor(
        "full configuration",
        () =>
          own(e, LISTENER_TYPE).join() === listeners.join() &&
          own(e, ENDPOINT_TYPE).join() === clusters.join() &&
          endpointsOf(e, "a/shop/local/tcp-80").length > 0,
      );
      expect(own(e, CLUSTER_TYPE)).toEqual(clusters);

      const l = e.resources(LISTENER_TYPE);
      const tcp = l.get("tcp-203.0.113.10-443");
      expect(tcp?.address?.socketAddress).toMatchObject({
        address: "203.0.113.10",
        portValue: 443,
        protocol: core.SocketAddress.Protocol.TCP,
      });
      const tcpFilter = tcp?.filterChains?.[0]?.filters?.[0];
      expect(tcpFilter?.typedConfig?.type_url).toBe(TCP_PROXY_TYPE);
      expect(unpackAny(TcpProxy, tcpFilter?.typedConfig)?.cluster).toBe("a/shop/web/tcp-443");
      expect(unpackAny(TcpProxy, l.get("tcp-203.0.113.11-8080")?.filterChains?.[0]?.filters?.[0]?.typedConfig)?.cluster).toBe(
        "a/shop/local/tcp-80",
      );
      expect(l.get("tcp-203.0.113.11-8080")?.address?.socketAddress?.portValue).toBe(8080);
      const udp = l.get("udp-203.0.113.10-53");
      expect(udp?.address?.socketAddress).toMatchObject({
        address: "203.0.113.10",
        portValue: 53,
        protocol: core.SocketAddress.Protocol.UDP,
      });
      expect(udp?.listenerFilters?.[0]?.typedConfig?.type_url).toBe(UDP_PROXY_TYPE);
      const udpCfg = unpackAny(UdpProxyConfig, udp?.listenerFilters?.[0]?.typedConfig);
      expect(unpackAny(UdpRoute, udpCfg?.matcher?.onNoMatch?.action?.typedConfig)?.cluster).toBe("a/shop/dns/udp-53");

      const c = e.resources(CLUSTER_TYPE);
      const webCluster = c.get("a/shop/web/tcp-443");
      expect(webCluster?.type).toBe(envoy.config.cluster.v3.Cluster.DiscoveryType.EDS);
      expect(webCluster?.edsClusterConfig?.edsConfig?.ads).toBeTruthy();
      expect(webCluster?.healthChecks?.[0]?.tcpHealthCheck).toBeTruthy();
      expect(webCluster?.transportSocket?.typedConfig?.type_url).toBe(PROXY_PROTOCOL_UPSTREAM_TYPE);
      expect(unpackAny(ProxyProtocolUpstreamTransport, webCluster?.transportSocket?.typedConfig)?.config?.version).toBe(
        core.ProxyProtocolConfig.Version.V2,
      );
      expect(c.get("a/shop/dns/tcp-53")?.transportSocket).toBeFalsy();
      expect(c.get("a/shop/dns/udp-53")?.healthChecks ?? []).toEqual([]);

      // Ready, non-excluded nodes at the NodePort; Local: only nodes with ready endpoints.
      expect(endpointsOf(e, "a/shop/web/tcp-443")).toEqual(["10.0.0.1:31443", "10.0.0.2:31443"]);
      expect(endpointsOf(e, "a/shop/dns/udp-53")).toEqual(["10.0.0.1:31053", "10.0.0.2:31053"]);
      expect(endpointsOf(e, "a/shop/dns/tcp-53")).toEqual(["10.0.0.1:31054", "10.0.0.2:31054"]);
      expect(endpointsOf(e, "a/shop/local/tcp-80")).toEqual(["10.0.0.2:30080"]);
      expect(e.errors).toEqual([]);
    }
    // Both protocols carry the very same resource bytes.
    for (const t of [LISTENER_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE] as const) {
      for (const [name, held] of sotw.state.get(t) ?? []) {
        if (!(t === LISTENER_TYPE ? ownListener : ownCluster)(name)) continue;
        expect(Buffer.from(delta.state.get(t)?.get(name)?.bytes ?? []).equals(Buffer.from(held.bytes)), name).toBe(true);
      }
    }
  });

  it("a node going NotReady changes only EDS", async () => {
    // Tenant cluster n1 of its own: its node change touches no other it's endpoints.
    const w1 = node("n1", "w1", "10.1.1.1");
    for (const n of [w1, node("n1", "w2", "10.1.1.2")]) await pub.node(n);
    const web1 = service("n1", "shop", "web", { ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }] });
    const dns1 = dnsIn("n1");
    const local1 = localIn("n1");
    for (const svc of [web1, dns1, local1]) await pub.service(svc);
    await pub.endpoints(endpoints("n1", "shop", "local", ["w2"]));
    await pub.allocation(allocation(web1, "203.0.113.21"));
    await pub.allocation(allocation(dns1, "203.0.113.21"));
    await pub.allocation(allocation(local1, "203.0.113.22"));
    const { sotw, delta } = await connectPair("notready");
    for (const e of [sotw, delta])
      await waitFor(
        "n1's endpoints",
        () =>
          endpointsOf(e, "n1/shop/web/tcp-443").join() === "10.1.1.1:31443,10.1.1.2:31443" &&
          endpointsOf(e, "n1/shop/dns/tcp-53").length === 2 &&
          endpointsOf(e, "n1/shop/dns/udp-53").length === 2 &&
          endpointsOf(e, "n1/shop/local/tcp-80").join() === "10.1.1.2:30080",
      );
    const from = { sotw: sotw.log.length, delta: delta.log.length };
    await pub.node({ ...w1, ready: false });
    for (const e of [sotw, delta])
      await waitFor("w1 gone from endpoints", () => endpointsOf(e, "n1/shop/web/tcp-443").join() === "10.1.1.2:31443");
    // Barrier: a new Service changes CDS; anything before its CDS response came from the node change.
    const barrier = service("n1", "shop", "barrier", { ports: [{ name: "x", protocol: "TCP", port: 7000, nodePort: 30700 }] });
    await pub.service(barrier);
    await pub.allocation(allocation(barrier, "203.0.113.23"));
    for (const [e, start] of [
      [sotw, from.sotw],
      [delta, from.delta],
    ] as const) {
      const cds = await e.waitFor("barrier CDS", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes("n1/shop/barrier/tcp-7000"), start);
      const between = e.log.slice(start, e.log.indexOf(cds));
      expect(between.length).toBeGreaterThan(0);
      expect(between.map((r) => r.typeUrl)).toEqual(between.map(() => ENDPOINT_TYPE));
      await e.waitFor("barrier LDS", (r) => r.typeUrl === LISTENER_TYPE && e.names(LISTENER_TYPE).includes("tcp-203.0.113.23-7000"), start);
    }
    // Delta sends only the assignments that changed: those of cluster n1's Cluster-policy Services.
    const deltaEds = delta.log.slice(from.delta).find((r) => r.typeUrl === ENDPOINT_TYPE);
    expect([...(deltaEds?.names ?? [])].sort()).toEqual(["n1/shop/dns/tcp-53", "n1/shop/dns/udp-53", "n1/shop/web/tcp-443"]);
  });

  it("a SotW EDS update carries only the changed assignment, and the client keeps the others in force", async () => {
    await pub.node(node("n2", "w2", "10.1.2.2"));
    const part = service("n2", "shop", "partial", {
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 32001,
      ports: [{ name: "p", protocol: "TCP", port: 7400, nodePort: 30740 }],
    });
    await pub.service(part);
    await pub.endpoints(endpoints("n2", "shop", "partial", ["w2"]));
    await pub.allocation(allocation(part, "203.0.113.17"));
    const envoy = new SotwEnvoy(gw1.grpc, { id: "envoy-partial", cluster: "edge" }).start();
    closers.push(() => envoy.close());
    const cluster = "n2/shop/partial/tcp-7400";
    await waitFor("partial's endpoints", () => endpointsOf(envoy, cluster).join() === "10.1.2.2:30740");
    await waitFor("every assignment held", () => envoy.names(ENDPOINT_TYPE).join() === envoy.names(CLUSTER_TYPE).join());
    const others = envoy.names(ENDPOINT_TYPE).filter((n) => n !== cluster);
    expect(others.length).toBeGreaterThan(1);
    const before = new Map(others.map((n) => [n, envoy.state.get(ENDPOINT_TYPE)?.get(n)?.bytes]));
    const from = envoy.log.length;
    await pub.endpoints(endpoints("n2", "shop", "partial", []));
    const update = await envoy.waitFor("partial's update", (r) => r.typeUrl === ENDPOINT_TYPE && r.names.includes(cluster), from);
    expect(update.names).toEqual([cluster]);
    await waitFor("partial emptied", () => endpointsOf(envoy, cluster).length === 0);
    // Applied as an update, the response left every other assignment as it was.
    for (const [name, bytes] of before) expect(envoy.state.get(ENDPOINT_TYPE)?.get(name)?.bytes, name).toBe(bytes);
    expect(envoy.names(ENDPOINT_TYPE)).toEqual([...others, cluster].sort());
    // Its version names the complete set: a fresh client of the same names gets that version.
    const fresh = new AdsClient(gw1.grpc).sotw();
    closers.push(() => fresh.cancel());
    fresh.send({ node: { id: "envoy-fresh", cluster: "edge" }, typeUrl: ENDPOINT_TYPE, resourceNames: envoy.names(ENDPOINT_TYPE) });
    const complete = await fresh.waitFor((r) => r.typeUrl === ENDPOINT_TYPE, 10_000, 0);
    expect(complete.resources).toHaveLength(others.length + 1);
    expect(complete.versionInfo).toBe(update.version);
    expect(envoy.errors).toEqual([]);
    await pub.allocation(allocation(part, "", { state: "Released", ports: [] }));
    // Settled before the it ends, so no later stream sees this change arrive.
    await waitFor("partial released", () => !envoy.names(CLUSTER_TYPE).includes(cluster));
  });

  it("a request that is not valid protobuf ends the stream with INVALID_ARGUMENT naming the problem", async () => {
    const raw = new grpc.Client(gw1.grpc, grpc.credentials.createInsecure());
    closers.push(() => raw.close());
    const send = (path: string, bytes: Buffer) =>
      new Promise<grpc.StatusObject>((resolve) => {
        const call = raw.makeBidiStreamRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
        );
        call.on("status", resolve);
        call.on("error", () => undefined);
        call.on("data", () => undefined);
        call.write(bytes);
      });
    // Field 1 (version_info) claims 100 bytes; 3 follow.
    const truncated = Buffer.from([0x0a, 0x64, 0x61, 0x62, 0x63]);
    const sotwStatus = await send(STREAM_AGGREGATED_RESOURCES_PATH, truncated);
    expect(sotwStatus.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(sotwStatus.details).toMatch(/malformed DiscoveryRequest: version_info claims 100 bytes/);
    const deltaStatus = await send(DELTA_AGGREGATED_RESOURCES_PATH, truncated);
    expect(deltaStatus.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(deltaStatus.details).toMatch(/malformed DeltaDiscoveryRequest: node claims 100 bytes/);
    const metrics = await gw1.metrics();
    expect(metricValue(metrics, "sharedlb_xds_invalid_requests_total", { protocol: "sotw", reason: "MalformedMessage" })).toBe(1);
    expect(metricValue(metrics, "sharedlb_xds_invalid_requests_total", { protocol: "delta", reason: "MalformedMessage" })).toBe(1);
    expect(gw1.proc.child.exitCode).toBeNull();
  });

  it("deleting a Service (Released allocation, or a tombstone) removes its listener and cluster", async () => {
    await pub.node(node("n3", "w1", "10.1.3.1"));
    const web3 = service("n3", "shop", "web", { ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }] });
    const dns3 = dnsIn("n3");
    const keep = service("n3", "shop", "keep", { ports: [{ name: "k", protocol: "TCP", port: 7000, nodePort: 30700 }] });
    for (const svc of [web3, dns3, keep]) await pub.service(svc);
    await pub.allocation(allocation(web3, "203.0.113.31"));
    await pub.allocation(allocation(dns3, "203.0.113.31"));
    await pub.allocation(allocation(keep, "203.0.113.32"));
    const { sotw, delta } = await connectPair("delete");
    // This it's names: cluster n3's clusters, listeners on its two addresses.
    const ownListeners = (e: SotwEnvoy | DeltaEnvoyT) =>
      e.names(LISTENER_TYPE).filter((n) => n.includes("-203.0.113.31-") || n.includes("-203.0.113.32-"));
    const ownClusters = (e: SotwEnvoy | DeltaEnvoyT) => e.names(CLUSTER_TYPE).filter((n) => n.startsWith("n3/"));
    for (const e of [sotw, delta]) await waitFor("n3's Services served", () => ownListeners(e).length === 4 && ownClusters(e).length === 4);
    const from = delta.log.length;
    await pub.allocation(allocation(web3, "", { state: "Released", ports: [] }));
    await pub.tombstone("service", "n3", "shop", "dns", dns3.uid);
    for (const e of [sotw, delta]) {
      await waitFor(
        "web and dns gone",
        () => !ownListeners(e).some((n) => n.includes("-203.0.113.31-")) && ownClusters(e).every((n) => !/web|dns/.test(n)),
      );
      expect(ownListeners(e)).toEqual(["tcp-203.0.113.32-7000"]);
      expect(ownClusters(e)).toEqual(["n3/shop/keep/tcp-7000"]);
    }
    const removed = delta.log.slice(from).flatMap((r) => r.removed.map((n) => `${r.typeUrl.split(".").pop()} ${n}`));
    expect(removed).toEqual(
      expect.arrayContaining([
        "Listener tcp-203.0.113.31-443",
        "Listener tcp-203.0.113.31-53",
        "Listener udp-203.0.113.31-53",
        "Cluster n3/shop/web/tcp-443",
        "Cluster n3/shop/dns/tcp-53",
        "Cluster n3/shop/dns/udp-53",
      ]),
    );
  });

  it("a NACKed version is never sent again, the client keeps its config, and the next change goes through", async () => {
    const { sotw, delta } = await connectPair("nack");
    const rejectFirst = service("n4", "shop", "rejected", { ports: [{ name: "r", protocol: "TCP", port: 7100, nodePort: 30710 }] });
    const next = service("n4", "shop", "next", { ports: [{ name: "n", protocol: "TCP", port: 7200, nodePort: 30720 }] });
    const nacked = new Map<string, Received>();
    for (const [e, label] of [
      [sotw, "sotw"],
      [delta, "delta"],
    ] as const) {
      e.nackIf = (r) => (r.typeUrl === CLUSTER_TYPE && r.names.includes("n4/shop/rejected/tcp-7100") ? `test rejects ${label}` : undefined);
    }
    const from = { sotw: sotw.log.length, delta: delta.log.length };
    await pub.service(rejectFirst);
    await pub.allocation(allocation(rejectFirst, "203.0.113.13"));
    for (const [e, start, label] of [
      [sotw, from.sotw, "sotw"],
      [delta, from.delta, "delta"],
    ] as const) {
      nacked.set(
        label,
        await e.waitFor("rejected CDS", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes("n4/shop/rejected/tcp-7100"), start),
      );
      e.nackIf = undefined;
      // Kept its last good clusters.
      expect(e.names(CLUSTER_TYPE)).not.toContain("n4/shop/rejected/tcp-7100");
    }
    await pub.service(next);
    await pub.allocation(allocation(next, "203.0.113.14"));
    for (const [e, label] of [
      [sotw, "sotw"],
      [delta, "delta"],
    ] as const) {
      const bad = nacked.get(label);
      if (!bad) throw new Error("no nacked response");
      const good = await e.waitFor(
        "next CDS",
        (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes("n4/shop/next/tcp-7200"),
        e.log.indexOf(bad) + 1,
      );
      const cdsAfterNack = e.log.slice(e.log.indexOf(bad) + 1, e.log.indexOf(good) + 1).filter((r) => r.typeUrl === CLUSTER_TYPE);
      expect(cdsAfterNack).toEqual([good]);
      if (label === "sotw") expect(good.version).not.toBe(bad.version);
      // Delta never resends the rejected resource version; SotW's full set necessarily
      // carries the Service again, in a new version.
      else expect(good.names).not.toContain("n4/shop/rejected/tcp-7100");
      expect(e.names(CLUSTER_TYPE)).toContain("n4/shop/next/tcp-7200");
    }
    await waitFor("nack events", () => xdsEvents.filter((x) => x.event === "nack" && x.node.endsWith("-nack")).length >= 2);
    const sotwNack = xdsEvents.find((x) => x.event === "nack" && x.node === "envoy-sotw-nack");
    expect(sotwNack).toMatchObject({
      fleet: "edge",
      stream: "sotw",
      typeUrl: CLUSTER_TYPE,
      version: nacked.get("sotw")?.version,
      errorDetail: { code: 3, message: "test rejects sotw" },
      replica: "gw-1",
    });
    expect(xdsEvents.find((x) => x.event === "nack" && x.node === "envoy-delta-nack")).toMatchObject({
      stream: "delta",
      errorDetail: { message: "test rejects delta" },
    });
    expect(xdsEvents.some((x) => x.event === "connect" && x.node === "envoy-sotw-nack")).toBe(true);
    expect(xdsEvents.some((x) => x.event === "ack" && x.node === "envoy-delta-nack" && x.typeUrl === ENDPOINT_TYPE)).toBe(true);
    const metrics = await gw1.metrics();
    expect(metricValue(metrics, "sharedlb_xds_nacks_total", { protocol: "sotw", type: "cds", fleet: "edge" })).toBe(1);
    expect(metricValue(metrics, "sharedlb_xds_nacks_total", { protocol: "delta", type: "cds", fleet: "edge" })).toBe(1);
    // Leave no rejected configuration behind for the next test: a new stream would offer it again.
    await pub.allocation(allocation(rejectFirst, "", { state: "Released", ports: [] }));
    for (const e of [sotw, delta]) {
      await waitFor("rejected gone", () => !e.names(LISTENER_TYPE).includes("tcp-203.0.113.13-7100"));
      // Meanwhile the listener arrived, pointing at the cluster the client had rejected:
      // the one thing validation may have found, and what Envoy itself would live with.
      expect(e.errors.filter((x) => !x.includes('unknown cluster "n4/shop/rejected/tcp-7100"'))).toEqual([]);
      e.errors.length = 0;
    }
  });

  it("a client reconnecting to a second replica with its versions gets nothing it already has", async () => {
    const w1 = node("n5", "w1", "10.1.5.1");
    for (const n of [w1, node("n5", "w2", "10.1.5.2")]) await pub.node(n);
    const svc = service("n5", "shop", "svc", { ports: [{ name: "x", protocol: "TCP", port: 7000, nodePort: 30700 }] });
    await pub.service(svc);
    await pub.allocation(allocation(svc, "203.0.113.51"));
    const cluster = "n5/shop/svc/tcp-7000";
    const { sotw, delta } = await connectPair("reconnect");
    // The first replica's clients last saw w1 NotReady.
    await pub.node({ ...w1, ready: false });
    for (const e of [sotw, delta]) await waitFor("only w2 in endpoints", () => endpointsOf(e, cluster).join() === "10.1.5.2:30700");
    const gw2 = await startGateway(nats.url, FLEETS, "gw-2", ["--drain-grace", "1s"]);
    try {
      const sotw2 = new SotwEnvoy(gw2.grpc, { id: "envoy-sotw-reconnect", cluster: "edge" }).resume(sotw);
      const delta2 = new DeltaEnvoy(gw2.grpc, { id: "envoy-delta-reconnect", cluster: "edge" }).resume(delta);
      closers.push(
        () => sotw2.close(),
        () => delta2.close(),
      );
      // Barrier: w1 comes back, an EDS-only change; it must be the first thing either stream gets.
      await pub.node(w1);
      for (const e of [sotw2, delta2]) {
        const first = await e.waitFor("w1 back", (r) => r.typeUrl === ENDPOINT_TYPE);
        expect(e.log.indexOf(first), JSON.stringify(e.log.map((r) => [r.typeUrl.split(".").pop(), r.version, r.names, r.removed]))).toBe(0);
        await waitFor("w1 in endpoints", () => endpointsOf(e, cluster).includes("10.1.5.1:30700"));
        expect(e.errors).toEqual([]);
      }
      expect(delta2.log[0]?.names.length).toBeLessThan(delta2.names(ENDPOINT_TYPE).length);
      // Same content, same versions, whichever replica serves it.
      expect(sotw2.acked.get(CLUSTER_TYPE)).toBe(sotw.acked.get(CLUSTER_TYPE));
      await waitFor("first replica sends the same EDS", () => endpointsOf(sotw, cluster).includes("10.1.5.1:30700"));
      expect(sotw2.acked.get(ENDPOINT_TYPE)).toBe(sotw.acked.get(ENDPOINT_TYPE));
    } finally {
      await gw2.stop();
    }
  });

  it("a delta client reconnecting after its cluster changed gets the unchanged assignment again, after the cluster", async () => {
    await pub.node(node("n6", "w1", "10.1.6.1"));
    const svc = service("n6", "shop", "svc", { ports: [{ name: "x", protocol: "TCP", port: 7300, nodePort: 30730 }] });
    await pub.service(svc);
    await pub.allocation(allocation(svc, "203.0.113.53"));
    const cluster = "n6/shop/svc/tcp-7300";
    const away = new DeltaEnvoy(gw1.grpc, { id: "envoy-delta-away", cluster: "edge" }).start();
    const observer = new DeltaEnvoy(gw1.grpc, { id: "envoy-delta-observer", cluster: "edge" }).start();
    closers.push(
      () => away.close(),
      () => observer.close(),
    );
    for (const e of [away, observer]) await waitFor("the Service's endpoints", () => endpointsOf(e, cluster).join() === "10.1.6.1:30730");
    away.close();
    const held = away.state.get(ENDPOINT_TYPE)?.get(cluster)?.version;
    // While it is away the cluster changes (PROXY protocol to the upstream), its endpoints do not.
    const from = observer.log.length;
    await pub.service({ ...svc, annotations: { "sharedlb.io/proxy-protocol": "v2" } });
    await observer.waitFor("the changed cluster", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes(cluster), from);
    expect(observer.state.get(ENDPOINT_TYPE)?.get(cluster)?.version).toBe(held);
    const back = new DeltaEnvoy(gw1.grpc, { id: "envoy-delta-back", cluster: "edge" }).resume(away);
    closers.push(() => back.close());
    const cds = await back.waitFor("the changed cluster", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes(cluster));
    // Envoy keeps a changed cluster warming until its assignment comes, even an unchanged one.
    const eds = await back.waitFor("its assignment", (r) => r.typeUrl === ENDPOINT_TYPE && r.names.includes(cluster));
    expect(back.log.indexOf(eds)).toBeGreaterThan(back.log.indexOf(cds));
    expect(back.state.get(ENDPOINT_TYPE)?.get(cluster)?.version).toBe(held);
    expect(back.errors).toEqual([]);
  });

  it("rejects malformed requests with INVALID_ARGUMENT, serves nothing to unknown fleets, and keeps running", async () => {
    const client = new AdsClient(gw1.grpc);
    closers.push(() => client.close());
    const badType = client.sotw();
    badType.send({ node: { id: "envoy-bad-type", cluster: "edge" }, typeUrl: "type.googleapis.com/envoy.service.runtime.v3.Runtime" });
    const s1 = await badType.status;
    expect(s1.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(s1.details).toMatch(/type_url .* is not served/);
    const noNode = client.delta();
    noNode.send({ typeUrl: CLUSTER_TYPE });
    const s2 = await noNode.status;
    expect(s2.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(s2.details).toMatch(/must carry node/);

    const stranger = new SotwEnvoy(gw1.grpc, { id: "lost", cluster: "no-such-fleet" }).start();
    closers.push(() => stranger.close());
    await waitFor(
      "unknown fleet stream counted",
      async () => metricValue(await gw1.metrics(), "sharedlb_xds_streams", { protocol: "sotw", fleet: "_unknown" }) === 1,
    );
    await gw1.proc.waitForOutput(/unknown fleet/);
    const sotw = new SotwEnvoy(gw1.grpc, { id: "envoy-sotw-late", cluster: "edge" }).start();
    closers.push(() => sotw.close());
    await waitFor("first full configuration", () => hasFullConfig(sotw));
    const from = sotw.log.length;
    const late = service("n6", "shop", "late", { ports: [{ name: "l", protocol: "TCP", port: 7300, nodePort: 30730 }] });
    await pub.service(late);
    await pub.allocation(allocation(late, "203.0.113.15"));
    await sotw.waitFor("late listener", (r) => r.typeUrl === LISTENER_TYPE && r.names.includes("tcp-203.0.113.15-7300"), from);
    expect(stranger.log).toEqual([]);
    expect(xdsEvents.some((x) => x.event === "connect" && x.fleet === "no-such-fleet")).toBe(true);
  });

  it("dead-letters messages that break the contract and applies the rest", async () => {
    // A subject of its own: a replica starting later replays the last message per subject,
    // and must not find this one in place of a Service other its are served.
    await pub.raw("lb.allocation.n8.shop.web", JSON.stringify({ specversion: "1.0", type: "io.sharedlb.allocation.v1" }));
    await waitFor(
      "two dead letters counted",
      async () =>
        metricValue(await gw1.metrics(), "sharedlb_xds_view_messages_total", { stream: STREAM_NAMES.resources, outcome: "deadletter" }) ===
          1 &&
        metricValue(await gw1.metrics(), "sharedlb_xds_view_messages_total", {
          stream: STREAM_NAMES.allocations,
          outcome: "deadletter",
        }) === 1,
    );
    const conn = await connectNats(nats.url, "xds-test-dl", createRootLogger("test", "warn"));
    try {
      const dl = await conn.jsm.streams.getMessage(STREAM_NAMES.events, { last_by_subj: "lb.deadletter.xds-gateway" });
      const ev = decodeEvent(dl?.data ?? new Uint8Array());
      expect(ev.type).toBe("io.sharedlb.deadletter.v1");
      if (ev.type === "io.sharedlb.deadletter.v1")
        expect(ev.data).toMatchObject({ service: "xds-gateway", subject: "lb.allocation.n8.shop.web" });
    } finally {
      await conn.nc.close();
    }
    expect(gw1.proc.child.exitCode).toBeNull();
  });

  it("applies L7 allocations (a Pending one serves nothing) without dead-lettering them", async () => {
    const count = async (outcome: string) =>
      metricValue(await gw1.metrics(), "sharedlb_xds_view_messages_total", { stream: STREAM_NAMES.allocations, outcome });
    const deadBefore = await count("deadletter");
    const appliedBefore = await count("applied");
    const l7 = makeEvent({
      type: "io.sharedlb.l7allocation.v1",
      source: "sharedlb/allocator/test",
      subject: "n9/shop/edge",
      data: {
        cluster: "n9",
        namespace: "shop",
        name: "edge",
        kind: "gateway",
        uid: "g",
        state: "Pending",
        listeners: [],
        reason: "PoolExhausted",
        message: "no free slot",
        resourceSequence: 1,
      },
    });
    await pub.raw(subjects.l7Allocation("n9", "shop", "edge", "gateway"), JSON.stringify(l7));
    await waitFor("the L7 allocation applied", async () => (await count("applied")) === appliedBefore + 1);
    expect(await count("deadletter")).toBe(deadBefore);
  });

  it("every served resource (incl. an API listener asked for before it existed) decodes with the Envoy API types, re-encodes to the same bytes and validates", async () => {
    // A proxyless client asks for the API listener and its route by name, before the
    // Service exists: it gets them when they appear.
    const { sotw, delta } = await connectPair("decode");
    const named = new AdsClient(gw1.grpc).sotw();
    closers.push(() => named.cancel());
    named.send({ node: { id: "proxyless", cluster: "edge" }, typeUrl: LISTENER_TYPE, resourceNames: ["grpc.greeter.shop.n7"] });
    const empty = await named.waitFor((r) => r.typeUrl === LISTENER_TYPE, 10_000, 0);
    expect(empty.resources).toEqual([]);
    named.send({
      typeUrl: LISTENER_TYPE,
      versionInfo: empty.versionInfo,
      responseNonce: empty.nonce,
      resourceNames: ["grpc.greeter.shop.n7"],
    });
    named.send({ typeUrl: ROUTE_TYPE, resourceNames: ["grpc.greeter.shop.n7"] });
    const grpcSvc = service("n7", "shop", "greeter", {
      ports: [{ name: "grpc", protocol: "TCP", port: 50051, nodePort: 30051, appProtocol: "grpc" }],
    });
    await pub.service(grpcSvc);
    await pub.allocation(allocation(grpcSvc, "203.0.113.16"));
    const lds = await named.waitFor((r) => r.typeUrl === LISTENER_TYPE && r.resources.length === 1, 10_000, 0);
    const rds = await named.waitFor((r) => r.typeUrl === ROUTE_TYPE && r.resources.length === 1, 10_000, 0);
    for (const e of [sotw, delta]) await waitFor("greeter cluster", () => e.names(CLUSTER_TYPE).includes("n7/shop/greeter/tcp-50051"));

    const clusters = new Set(sotw.names(CLUSTER_TYPE));
    const routeConfigs = new Set(["grpc.greeter.shop.n7"]);
    let checked = 0;
    const check = (typeUrl: (typeof RESOURCE_TYPES)[number], bytes: Uint8Array, what: string) => {
      const decoded = decoders[typeUrl].decode(bytes);
      expect(Buffer.from(decoders[typeUrl].encode(decoded as never).finish()).equals(Buffer.from(bytes)), `${what} re-encodes`).toBe(true);
      expect(validateResource(typeUrl, decoded, { clusters, routeConfigs }), what).toEqual([]);
      checked++;
    };
    for (const e of [sotw, delta]) {
      for (const [typeUrl, held] of e.state) for (const [name, h] of held) check(typeUrl, h.bytes, `${typeUrl} ${name}`);
      expect(e.errors).toEqual([]);
    }
    for (const r of [lds, rds]) {
      expect(validateDiscoveryResponse(r, { clusters, routeConfigs })).toEqual([]);
      for (const a of r.resources) check(r.typeUrl as (typeof RESOURCE_TYPES)[number], a.value ?? new Uint8Array(), `named ${r.typeUrl}`);
    }
    const api = decoders[LISTENER_TYPE].decode(lds.resources[0]?.value ?? new Uint8Array());
    expect(api.apiListener?.apiListener?.type_url).toBe(HTTP_CONNECTION_MANAGER_TYPE);
    expect(checked).toBeGreaterThan(20);
    // The API listener is for named subscribers only: Envoy's wildcard LDS never gets it.
    expect(sotw.names(LISTENER_TYPE)).not.toContain("grpc.greeter.shop.n7");
  });

  it("drains on SIGTERM: streams end, the process exits 0", async () => {
    const second = await startGateway(nats.url, FLEETS, "gw-3", ["--drain-grace", "1s"]);
    try {
      const e = new DeltaEnvoy(second.grpc, { id: "drained", cluster: "edge" }).start();
      closers.push(() => e.close());
      await waitFor("connected", () => e.log.length > 0);
      const code = await second.stop();
      expect(code).toBe(0);
      const ended = await e.call.status;
      expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED]).toContain(ended.code);
      expect(second.proc.output()).toMatch(/"msg":"stopped"/);
      await waitFor("disconnect event", () =>
        xdsEvents.some((x) => x.event === "disconnect" && x.node === "drained" && x.replica === "gw-3"),
      );
    } finally {
      // A no-op once the drain above has run; stops the replica if an assertion failed first.
      await second.stop();
    }
  });
});
