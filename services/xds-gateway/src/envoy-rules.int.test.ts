// Every resource the gateway serves must pass Envoy's own validation rules (the
// protoc-gen-validate annotations of the Envoy API, run by go-control-plane's
// ValidateAll() in tools/envoy-validate, nested Anys included). The hand-written checks
// in libs/envoy-api cover a few rules; this covers all of them, for each shape of
// resource the gateway builds: TCP, UDP, PROXY protocol v1 and v2, Local traffic
// policy, loadBalancerSourceRanges, and the API listeners + routes of proxyless gRPC.
import type { NatsConnection } from "@nats-io/nats-core";
import type { ServiceResource } from "@sharedlb/contracts";
import {
  CLUSTER_TYPE,
  type DiscoveryResponse,
  ENDPOINT_TYPE,
  envoy,
  LISTENER_TYPE,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  ROUTE_TYPE,
  UDP_PROXY_TYPE,
} from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, validateEnvoyResources, waitFor } from "@sharedlb/testing";
import { allocation, endpoints, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdsCall, AdsClient } from "./client/ads-client.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

type Request = envoy.service.discovery.v3.DiscoveryRequest.$Properties;
/** An Any as served: type URL and the encoded resource. */
type ServedAny = { readonly type_url: string; readonly value: Uint8Array };
type Served = Map<string, Map<string, ServedAny>>;

const services = [
  service("a", "shop", "web", {
    ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }],
    annotations: { "sharedlb.io/proxy-protocol": "v2" },
  }),
  service("a", "shop", "legacy", {
    ports: [{ name: "smtp", protocol: "TCP", port: 25, nodePort: 30025 }],
    annotations: { "sharedlb.io/proxy-protocol": "v1" },
  }),
  service("a", "shop", "dns", {
    ports: [
      { name: "dns-udp", protocol: "UDP", port: 53, nodePort: 31053 },
      { name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 31054 },
    ],
  }),
  service("a", "shop", "local", {
    externalTrafficPolicy: "Local",
    healthCheckNodePort: 32000,
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
  }),
  service("a", "shop", "ranged", {
    loadBalancerSourceRanges: ["10.1.0.0/16"],
    ports: [{ name: "admin", protocol: "TCP", port: 8443, nodePort: 30843 }],
  }),
  service("a", "shop", "greeter", { ports: [{ name: "grpc", protocol: "TCP", port: 50051, nodePort: 30051, appProtocol: "grpc" }] }),
  service("a", "shop", "numbered", {
    ports: [{ name: "", protocol: "TCP", port: 9000, nodePort: 30900, appProtocol: "kubernetes.io/h2c" }],
  }),
];
const GRPC_TARGETS = ["grpc.greeter.shop.a", "9000.numbered.shop.a"];

let nats: TestNats;
let nc: NatsConnection;
let gw: GatewayProcess;
let client: AdsClient;

/**
 * A SotW stream that ACKs everything and keeps the latest Any per type and name; EDS
 * follows CDS as Envoy's does. `subscribe` lists the first requests (empty names =
 * wildcard).
 */
function follow(
  ads: AdsClient,
  nodeId: string,
  subscribe: [string, string[]][],
): { call: AdsCall<Request, DiscoveryResponse>; served: Served } {
  const served: Served = new Map();
  const names = new Map(subscribe);
  const call = ads.sotw({
    keep: false,
    onResponse: (res) => {
      const full = res.typeUrl === LISTENER_TYPE || res.typeUrl === CLUSTER_TYPE;
      const byName = full ? new Map<string, ServedAny>() : new Map(served.get(res.typeUrl));
      for (const any of res.resources) {
        const held = { type_url: any.type_url ?? "", value: any.value ?? new Uint8Array() };
        byName.set(resourceName(res.typeUrl, held.value), held);
      }
      served.set(res.typeUrl, byName);
      call.send({
        typeUrl: res.typeUrl,
        versionInfo: res.versionInfo,
        responseNonce: res.nonce,
        resourceNames: names.get(res.typeUrl) ?? [],
      });
      const clusters = [...byName.keys()].sort();
      if (res.typeUrl === CLUSTER_TYPE && clusters.join() !== names.get(ENDPOINT_TYPE)?.join()) {
        names.set(ENDPOINT_TYPE, clusters);
        call.send({ typeUrl: ENDPOINT_TYPE, resourceNames: clusters });
      }
    },
  });
  subscribe.forEach(([typeUrl, resourceNames], i) => {
    call.send({ ...(i === 0 ? { node: { id: nodeId, cluster: "edge" } } : {}), typeUrl, resourceNames });
  });
  return { call, served };
}

function resourceName(typeUrl: string, bytes: Uint8Array): string {
  switch (typeUrl) {
    case LISTENER_TYPE:
      return envoy.config.listener.v3.Listener.decode(bytes).name;
    case CLUSTER_TYPE:
      return envoy.config.cluster.v3.Cluster.decode(bytes).name;
    case ENDPOINT_TYPE:
      return envoy.config.endpoint.v3.ClusterLoadAssignment.decode(bytes).clusterName;
    case ROUTE_TYPE:
      return envoy.config.route.v3.RouteConfiguration.decode(bytes).name;
    default:
      throw new Error(`unexpected type ${typeUrl}`);
  }
}

const namesOf = (s: Served, typeUrl: string) => [...(s.get(typeUrl)?.keys() ?? [])].sort();
const anysOf = (s: Served) => [...s.values()].flatMap((m) => [...m.values()]);

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "envoy-rules-test", log);
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  const pub = new Publisher(conn.js);
  for (const n of [node("a", "w1", "10.0.0.1"), node("a", "w2", "10.0.0.2"), node("a", "w3", "10.0.0.3", { ready: false })]) {
    await pub.node(n);
  }
  for (const s of services) {
    await pub.service(s);
    await pub.allocation(allocation(s, "203.0.113.10"));
  }
  await pub.endpoints(endpoints("a", "shop", "local", ["w2"]));
  gw = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "gw-rules");
  client = new AdsClient(gw.grpc);
});

afterAll(async () => {
  client?.close();
  await gw?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe("what the gateway serves passes Envoy's own validation rules", () => {
  it("every Listener, Cluster and ClusterLoadAssignment served to an Envoy (wildcard LDS/CDS)", async () => {
    const { call, served } = follow(client, "envoy-rules", [
      [CLUSTER_TYPE, []],
      [LISTENER_TYPE, []],
    ]);
    const clusters = services
      .flatMap((s) => s.ports.map((p: ServiceResource["ports"][number]) => `a/shop/${s.name}/${p.protocol.toLowerCase()}-${p.port}`))
      .sort();
    await waitFor("all clusters and their endpoints", () => namesOf(served, ENDPOINT_TYPE).join() === clusters.join());
    expect(namesOf(served, CLUSTER_TYPE)).toEqual(clusters);
    expect(namesOf(served, LISTENER_TYPE)).toContain("udp-203.0.113.10-53");
    // The fixture really exercises the shapes named above.
    const listeners = [...(served.get(LISTENER_TYPE)?.values() ?? [])].map((a) => envoy.config.listener.v3.Listener.decode(a.value));
    expect(listeners.some((l) => l.listenerFilters.some((f) => f.typedConfig?.type_url === UDP_PROXY_TYPE))).toBe(true);
    const proxyVersions = [...(served.get(CLUSTER_TYPE)?.values() ?? [])]
      .map((a) => envoy.config.cluster.v3.Cluster.decode(a.value).transportSocket?.typedConfig)
      .filter((t) => t?.type_url === PROXY_PROTOCOL_UPSTREAM_TYPE)
      .map((t) => envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport.decode(t?.value ?? new Uint8Array()))
      .map((p) => p.config?.version)
      .sort();
    expect(proxyVersions).toEqual([
      envoy.config.core.v3.ProxyProtocolConfig.Version.V1,
      envoy.config.core.v3.ProxyProtocolConfig.Version.V2,
    ]);

    expect(await validateEnvoyResources(anysOf(served))).toEqual([]);
    call.cancel();
  });

  it("a Service's loadBalancerSourceRanges are the only sources its served TCP listener matches", async () => {
    const { call, served } = follow(client, "source-ranges", [[LISTENER_TYPE, []]]);
    const name = "tcp-203.0.113.10-8443";
    const listener = await waitFor(`listener ${name}`, () => {
      const any = served.get(LISTENER_TYPE)?.get(name);
      return any && envoy.config.listener.v3.Listener.decode(any.value);
    });
    const matches = listener.filterChains.map((c) => c.filterChainMatch?.sourcePrefixRanges?.map((r) => `${r.addressPrefix}/${r.prefixLen?.value}`));
    // One chain, and it names the range: a source outside it matches no chain and Envoy closes the connection.
    expect(matches).toEqual([["10.1.0.0/16"]]);
    expect(listener.defaultFilterChain).toBeNull();
    // A Service without ranges keeps accepting any source.
    const open = served.get(LISTENER_TYPE)?.get("tcp-203.0.113.10-443");
    expect(open && envoy.config.listener.v3.Listener.decode(open.value).filterChains.map((c) => c.filterChainMatch)).toEqual([null]);
    call.cancel();
  });

  it("every API listener, RouteConfiguration, Cluster and ClusterLoadAssignment served to proxyless gRPC", async () => {
    const grpcClusters = ["a/shop/greeter/tcp-50051", "a/shop/numbered/tcp-9000"];
    const { call, served } = follow(client, "proxyless-rules", [
      [LISTENER_TYPE, GRPC_TARGETS],
      [ROUTE_TYPE, GRPC_TARGETS],
      [CLUSTER_TYPE, grpcClusters],
    ]);
    await waitFor(
      "API listeners, routes, clusters and endpoints",
      () =>
        namesOf(served, LISTENER_TYPE).join() === [...GRPC_TARGETS].sort().join() &&
        namesOf(served, ROUTE_TYPE).join() === [...GRPC_TARGETS].sort().join() &&
        namesOf(served, ENDPOINT_TYPE).join() === grpcClusters.join(),
    );
    const listeners = [...(served.get(LISTENER_TYPE)?.values() ?? [])].map((a) => envoy.config.listener.v3.Listener.decode(a.value));
    expect(listeners.every((l) => l.apiListener?.apiListener)).toBe(true);

    expect(await validateEnvoyResources(anysOf(served))).toEqual([]);
    call.cancel();
  });
});
