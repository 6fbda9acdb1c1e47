import { createRequire } from "node:module";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AggregatedDiscoveryService,
  type AggregatedDiscoveryServiceHandlers,
  CLUSTER_TYPE,
  type DiscoveryResponse,
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  ENDPOINT_TYPE,
  encodeAny,
  encodeDeltaDiscoveryResponse,
  encodeDeltaResource,
  encodeDiscoveryResponse,
  encodeMessage,
  envoy,
  google,
  HTTP_CONNECTION_MANAGER_TYPE,
  HTTP_PROTOCOL_OPTIONS_KEY,
  HTTP_PROTOCOL_OPTIONS_TYPE,
  LISTENER_TYPE,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  packAny,
  RAW_BUFFER_TYPE,
  ROUTE_TYPE,
  ROUTER_TYPE,
  SECRET_TYPE,
  TCP_PROXY_TYPE,
  TLS_INSPECTOR_TYPE,
  toAny,
  UDP_PROXY_ROUTE_TYPE,
  UDP_PROXY_TYPE,
  unpackAny,
  xds,
} from "./index.js";
import { edsCluster, loadAssignment, tcpListener, udpListener } from "./test-fixtures.js";

const v3 = envoy.service.discovery.v3;
const core = envoy.config.core.v3;
const { Listener } = envoy.config.listener.v3;
const { Cluster } = envoy.config.cluster.v3;
const { ClusterLoadAssignment } = envoy.config.endpoint.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const { UdpProxyConfig, Route: UdpRoute } = envoy.extensions.filters.udp.udp_proxy.v3;
const { ProxyProtocolUpstreamTransport } = envoy.extensions.transport_sockets.proxy_protocol.v3;
const { RawBuffer } = envoy.extensions.transport_sockets.raw_buffer.v3;

function response(typeUrl: string, resources: Uint8Array[]): Uint8Array {
  return encodeMessage(v3.DiscoveryResponse, {
    versionInfo: "v1",
    typeUrl,
    nonce: "n1",
    resources: resources.map((bytes) => toAny(typeUrl, bytes)),
  });
}

// ---------------------------------------------------------------------------
// Independent decoder: reflection over the .proto files, through
// @grpc/proto-loader's own protobufjs (a different major than ours).

const require = createRequire(import.meta.url);
const depsDir = path.join(path.dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const includeDirs = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => path.join(depsDir, d));

interface ReflectionType {
  decode(bytes: Uint8Array): object;
  toObject(message: object, options: object): Record<string, unknown>;
}
interface ReflectionRoot {
  resolvePath: (origin: string, target: string) => string | null;
  loadSync(files: string[], options: object): ReflectionRoot;
  lookupType(name: string): ReflectionType;
}
const protobuf7 = createRequire(require.resolve("@grpc/proto-loader"))("protobufjs") as {
  Root: new () => ReflectionRoot;
};

const PROTO_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.proto",
  "envoy/extensions/filters/udp/udp_proxy/v3/route.proto",
  "envoy/extensions/transport_sockets/proxy_protocol/v3/upstream_proxy_protocol.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
];

let reflection: ReflectionRoot;
let packageDefinition: protoLoader.PackageDefinition;

function reflect(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = reflection.lookupType(typeName);
  return type.toObject(type.decode(bytes), { keepCase: true, enums: String, defaults: false, longs: Number });
}

/** Decodes an Any (as a keepCase plain object) with the reflection root. */
function reflectAny(any: unknown): Record<string, unknown> {
  const { type_url, value } = any as { type_url: string; value: Uint8Array };
  return reflect(type_url.slice(type_url.lastIndexOf("/") + 1), value);
}

beforeAll(() => {
  const root = new protobuf7.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (require("node:fs").existsSync(candidate)) return candidate;
    }
    return target; // google/protobuf/* come from protobufjs' bundled definitions
  };
  reflection = root.loadSync(PROTO_FILES, { keepCase: true });
  packageDefinition = protoLoader.loadSync("envoy/service/discovery/v3/ads.proto", {
    includeDirs,
    keepCase: true,
    defaults: false,
    enums: String,
    longs: Number,
  });
}, 60_000);

// ---------------------------------------------------------------------------

describe("type URLs", () => {
  it("match the generated classes", () => {
    expect(Listener.getTypeUrl()).toBe(LISTENER_TYPE);
    expect(Cluster.getTypeUrl()).toBe(CLUSTER_TYPE);
    expect(ClusterLoadAssignment.getTypeUrl()).toBe(ENDPOINT_TYPE);
    expect(envoy.config.route.v3.RouteConfiguration.getTypeUrl()).toBe(ROUTE_TYPE);
    expect(TcpProxy.getTypeUrl()).toBe(TCP_PROXY_TYPE);
    expect(UdpProxyConfig.getTypeUrl()).toBe(UDP_PROXY_TYPE);
    expect(UdpRoute.getTypeUrl()).toBe(UDP_PROXY_ROUTE_TYPE);
    expect(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.getTypeUrl()).toBe(
      HTTP_CONNECTION_MANAGER_TYPE,
    );
    expect(envoy.extensions.filters.http.router.v3.Router.getTypeUrl()).toBe(ROUTER_TYPE);
    expect(ProxyProtocolUpstreamTransport.getTypeUrl()).toBe(PROXY_PROTOCOL_UPSTREAM_TYPE);
    expect(RawBuffer.getTypeUrl()).toBe(RAW_BUFFER_TYPE);
    const tls = envoy.extensions.transport_sockets.tls.v3;
    expect(tls.Secret.getTypeUrl()).toBe(SECRET_TYPE);
    expect(tls.DownstreamTlsContext.getTypeUrl()).toBe(DOWNSTREAM_TLS_CONTEXT_TYPE);
    expect(envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector.getTypeUrl()).toBe(TLS_INSPECTOR_TYPE);
    expect(envoy.extensions.upstreams.http.v3.HttpProtocolOptions.getTypeUrl()).toBe(HTTP_PROTOCOL_OPTIONS_TYPE);
    expect(HTTP_PROTOCOL_OPTIONS_KEY).toBe(HTTP_PROTOCOL_OPTIONS_TYPE.slice("type.googleapis.com/".length));
  });
});

describe("google.protobuf.Any", () => {
  it("keeps the snake_case type_url field: camelCase typeUrl is silently dropped", () => {
    const value = encodeMessage(UdpRoute, { cluster: "c" });
    const good = google.protobuf.Any.decode(encodeMessage(google.protobuf.Any, toAny(UDP_PROXY_ROUTE_TYPE, value)));
    expect(good.type_url).toBe(UDP_PROXY_ROUTE_TYPE);

    // What a hand-built `{ typeUrl }` does: compiles via a widened object and
    // loses the type URL on the wire. This is why toAny/packAny exist.
    const wrong: object = { typeUrl: UDP_PROXY_ROUTE_TYPE, value };
    const bad = google.protobuf.Any.decode(encodeMessage(google.protobuf.Any, wrong));
    expect(bad.type_url).toBe("");
  });

  it("unpackAny decodes matching types and refuses others", () => {
    const any = packAny(UdpRoute, { cluster: "dns" });
    expect(unpackAny(UdpRoute, any)?.cluster).toBe("dns");
    expect(unpackAny(TcpProxy, any)).toBeUndefined();
    expect(
      unpackAny(UdpRoute, { type_url: "example.com/envoy.extensions.filters.udp.udp_proxy.v3.Route", value: any.value })?.cluster,
    ).toBe("dns");
  });
});

describe("round trip through a DiscoveryResponse", () => {
  it("listeners: tcp_proxy and udp_proxy with matcher", () => {
    const bytes = response(LISTENER_TYPE, [encodeMessage(Listener, tcpListener()), encodeMessage(Listener, udpListener())]);
    const res = v3.DiscoveryResponse.decode(bytes);
    expect(res.versionInfo).toBe("v1");
    expect(res.typeUrl).toBe(LISTENER_TYPE);
    expect(res.nonce).toBe("n1");
    expect(res.resources).toHaveLength(2);
    expect(res.resources.map((r) => r.type_url)).toEqual([LISTENER_TYPE, LISTENER_TYPE]);

    const tcp = unpackAny(Listener, res.resources[0]);
    expect(tcp?.name).toBe("tcp-443");
    expect(tcp?.address?.socketAddress?.address).toBe("0.0.0.0");
    expect(tcp?.address?.socketAddress?.portValue).toBe(443);
    expect(tcp?.address?.socketAddress?.protocol ?? 0).toBe(core.SocketAddress.Protocol.TCP);
    const filter = tcp?.filterChains?.[0]?.filters?.[0];
    expect(filter?.name).toBe("envoy.filters.network.tcp_proxy");
    expect(filter?.typedConfig?.type_url).toBe(TCP_PROXY_TYPE);
    const tcpProxy = unpackAny(TcpProxy, filter?.typedConfig);
    expect(tcpProxy?.statPrefix).toBe("tcp-443");
    expect(tcpProxy?.cluster).toBe("backend-a");
    expect(tcpProxy?.clusterSpecifier).toBe("cluster");
    expect(tcpProxy?.idleTimeout?.seconds).toBe(3600);

    const udp = unpackAny(Listener, res.resources[1]);
    expect(udp?.name).toBe("udp-53");
    expect(udp?.address?.socketAddress?.protocol).toBe(core.SocketAddress.Protocol.UDP);
    expect(udp?.address?.socketAddress?.portValue).toBe(53);
    const lf = udp?.listenerFilters?.[0];
    expect(lf?.typedConfig?.type_url).toBe(UDP_PROXY_TYPE);
    const udpProxy = unpackAny(UdpProxyConfig, lf?.typedConfig);
    expect(udpProxy?.statPrefix).toBe("udp-53");
    expect(udpProxy?.idleTimeout?.seconds).toBe(30);
    const action = udpProxy?.matcher?.onNoMatch?.action;
    expect(action?.name).toBe("route");
    expect(action?.typedConfig?.type_url).toBe(UDP_PROXY_ROUTE_TYPE);
    expect(unpackAny(UdpRoute, action?.typedConfig)?.cluster).toBe("dns");
    expect(xds.type.matcher.v3.Matcher.getTypeUrl()).toContain("xds.type.matcher.v3.Matcher");

    // Independent decoder sees the same Envoy message.
    const outer = reflect("envoy.service.discovery.v3.DiscoveryResponse", bytes);
    expect(outer.type_url).toBe(LISTENER_TYPE);
    expect(outer.version_info).toBe("v1");
    const [l0, l1] = (outer.resources as unknown[]).map(reflectAny);
    expect(l0).toMatchObject({
      name: "tcp-443",
      address: { socket_address: { address: "0.0.0.0", port_value: 443 } },
      filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy" }] }],
    });
    const tcpChains = l0?.filter_chains as Array<{ filters: Array<{ typed_config: unknown }> }>;
    const reflectedTcp = reflectAny(tcpChains[0]?.filters[0]?.typed_config);
    expect(reflectedTcp).toEqual({ stat_prefix: "tcp-443", cluster: "backend-a", idle_timeout: { seconds: 3600 } });
    expect(l1).toMatchObject({
      name: "udp-53",
      address: { socket_address: { protocol: "UDP", address: "0.0.0.0", port_value: 53 } },
    });
    const udpFilters = l1?.listener_filters as Array<{ typed_config: unknown }>;
    const reflectedUdp = reflectAny(udpFilters[0]?.typed_config);
    expect(reflectedUdp).toMatchObject({ stat_prefix: "udp-53", idle_timeout: { seconds: 30 } });
    const onNoMatch = (reflectedUdp.matcher as { on_no_match: { action: { name: string; typed_config: unknown } } }).on_no_match;
    expect(onNoMatch.action.name).toBe("route");
    expect(reflectAny(onNoMatch.action.typed_config)).toEqual({ cluster: "dns" });
  });

  it("EDS cluster with TCP health check and proxy-protocol transport socket", () => {
    const bytes = response(CLUSTER_TYPE, [encodeMessage(Cluster, edsCluster())]);
    const res = v3.DiscoveryResponse.decode(bytes);
    expect(res.resources[0]?.type_url).toBe(CLUSTER_TYPE);
    const c = unpackAny(Cluster, res.resources[0]);
    expect(c?.name).toBe("backend-a");
    expect(c?.type).toBe(Cluster.DiscoveryType.EDS);
    expect(c?.clusterDiscoveryType).toBe("type");
    expect(c?.connectTimeout?.seconds).toBe(5);
    expect(c?.connectTimeout?.nanos).toBe(500_000_000);
    expect(c?.edsClusterConfig?.edsConfig?.ads).toBeDefined();
    expect(c?.edsClusterConfig?.edsConfig?.resourceApiVersion).toBe(core.ApiVersion.V3);
    const hc = c?.healthChecks?.[0];
    expect(hc?.timeout?.seconds).toBe(2);
    expect(hc?.interval?.seconds).toBe(10);
    expect(hc?.unhealthyThreshold?.value).toBe(3);
    expect(hc?.healthyThreshold?.value).toBe(2);
    expect(hc?.tcpHealthCheck).toBeDefined();
    expect(c?.transportSocket?.name).toBe("envoy.transport_sockets.upstream_proxy_protocol");
    expect(c?.transportSocket?.typedConfig?.type_url).toBe(PROXY_PROTOCOL_UPSTREAM_TYPE);
    const pp = unpackAny(ProxyProtocolUpstreamTransport, c?.transportSocket?.typedConfig);
    expect(pp?.config?.version).toBe(core.ProxyProtocolConfig.Version.V2);
    expect(pp?.transportSocket?.typedConfig?.type_url).toBe(RAW_BUFFER_TYPE);

    const reflected = reflectAny((reflect("envoy.service.discovery.v3.DiscoveryResponse", bytes).resources as unknown[])[0]);
    expect(reflected).toMatchObject({
      name: "backend-a",
      type: "EDS",
      connect_timeout: { seconds: 5, nanos: 500_000_000 },
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
      health_checks: [
        {
          timeout: { seconds: 2 },
          interval: { seconds: 10 },
          unhealthy_threshold: { value: 3 },
          healthy_threshold: { value: 2 },
          tcp_health_check: {},
        },
      ],
      transport_socket: { name: "envoy.transport_sockets.upstream_proxy_protocol" },
    });
    const reflectedPp = reflectAny((reflected.transport_socket as { typed_config: unknown }).typed_config);
    expect(reflectedPp).toMatchObject({
      config: { version: "V2" },
      transport_socket: { name: "envoy.transport_sockets.raw_buffer" },
    });
  });

  it("ClusterLoadAssignment", () => {
    const bytes = response(ENDPOINT_TYPE, [encodeMessage(ClusterLoadAssignment, loadAssignment())]);
    const cla = unpackAny(ClusterLoadAssignment, v3.DiscoveryResponse.decode(bytes).resources[0]);
    expect(cla?.clusterName).toBe("backend-a");
    const lle = cla?.endpoints?.[0];
    expect(lle?.locality).toMatchObject({ region: "eu-west", zone: "a" });
    expect(lle?.lbEndpoints?.map((e) => e.endpoint?.address?.socketAddress?.address)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(lle?.lbEndpoints?.map((e) => e.endpoint?.address?.socketAddress?.portValue)).toEqual([8443, 8443]);
    expect(lle?.lbEndpoints?.[1]?.loadBalancingWeight?.value).toBe(5);

    const reflected = reflectAny((reflect("envoy.service.discovery.v3.DiscoveryResponse", bytes).resources as unknown[])[0]);
    expect(reflected).toEqual({
      cluster_name: "backend-a",
      endpoints: [
        {
          locality: { region: "eu-west", zone: "a" },
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 8443 } } } },
            {
              endpoint: { address: { socket_address: { address: "10.0.0.2", port_value: 8443 } } },
              load_balancing_weight: { value: 5 },
            },
          ],
        },
      ],
    });
  });

  it("pre-encoded resources produce the same bytes a full encode does", () => {
    const resources = [encodeMessage(ClusterLoadAssignment, loadAssignment())];
    const head = { versionInfo: "v1", typeUrl: ENDPOINT_TYPE, nonce: "n1" };
    const pre = encodeDiscoveryResponse(
      head,
      resources.map((r) => encodeAny(ENDPOINT_TYPE, r)),
    );
    // Same fields, but resources come after the head fields instead of in
    // field-number order, so compare decoded rather than raw bytes.
    const a = v3.DiscoveryResponse.decode(pre);
    const b = v3.DiscoveryResponse.decode(response(ENDPOINT_TYPE, resources));
    expect(v3.DiscoveryResponse.toObject(a)).toEqual(v3.DiscoveryResponse.toObject(b));
    expect(reflect("envoy.service.discovery.v3.DiscoveryResponse", pre)).toEqual(
      reflect("envoy.service.discovery.v3.DiscoveryResponse", response(ENDPOINT_TYPE, resources)),
    );
  });

  it("delta responses with pre-encoded Resource messages", () => {
    const value = encodeMessage(ClusterLoadAssignment, loadAssignment());
    const bytes = encodeDeltaDiscoveryResponse(
      { systemVersionInfo: "s1", typeUrl: ENDPOINT_TYPE, nonce: "d1", removedResources: ["gone"] },
      [encodeDeltaResource({ name: "backend-a", version: "7", resource: toAny(ENDPOINT_TYPE, value) })],
    );
    const res = v3.DeltaDiscoveryResponse.decode(bytes);
    expect(res.systemVersionInfo).toBe("s1");
    expect(res.removedResources).toEqual(["gone"]);
    expect(res.resources[0]?.name).toBe("backend-a");
    expect(res.resources[0]?.version).toBe("7");
    expect(unpackAny(ClusterLoadAssignment, res.resources[0]?.resource)?.clusterName).toBe("backend-a");
    const reflected = reflect("envoy.service.discovery.v3.DeltaDiscoveryResponse", bytes);
    expect(reflected).toMatchObject({
      system_version_info: "s1",
      type_url: ENDPOINT_TYPE,
      nonce: "d1",
      removed_resources: ["gone"],
      resources: [{ name: "backend-a", version: "7" }],
    });
  });
});

describe("AggregatedDiscoveryService", () => {
  it("matches the service @grpc/proto-loader builds from ads.proto", () => {
    const fromProto = packageDefinition["envoy.service.discovery.v3.AggregatedDiscoveryService"] as Record<
      string,
      grpc.MethodDefinition<unknown, unknown>
    >;
    for (const name of ["StreamAggregatedResources", "DeltaAggregatedResources"] as const) {
      const ours = AggregatedDiscoveryService[name];
      const theirs = fromProto[name];
      expect(theirs).toBeDefined();
      expect(ours.path).toBe(theirs?.path);
      expect(ours.requestStream).toBe(theirs?.requestStream);
      expect(ours.responseStream).toBe(theirs?.responseStream);
      expect(ours.originalName).toBe(theirs?.originalName);
    }
    // Our serializer's output is what proto-loader's deserializer reads.
    const bytes = AggregatedDiscoveryService.StreamAggregatedResources.responseSerialize({
      versionInfo: "v9",
      typeUrl: CLUSTER_TYPE,
      resources: [packAny(Cluster, edsCluster())],
    });
    const decoded = fromProto.StreamAggregatedResources?.responseDeserialize(bytes) as Record<string, unknown>;
    expect(decoded).toMatchObject({ version_info: "v9", type_url: CLUSTER_TYPE });
    // Pre-encoded bytes pass through untouched.
    const pre = encodeDiscoveryResponse({ versionInfo: "v9", typeUrl: CLUSTER_TYPE }, []);
    expect(AggregatedDiscoveryService.StreamAggregatedResources.responseSerialize(pre)).toBe(pre);
  });

  it("encoded responses carry their gRPC-framed bytes, and the patched grpc-js writes those instead of a copy per call", () => {
    // Resources whose lengths take 1, 2 and 3 varint bytes.
    const anys = [10, 200, 20_000].map((n) => encodeAny(ENDPOINT_TYPE, new Uint8Array(n).fill(7)));
    const pre = encodeDiscoveryResponse({ versionInfo: "v1", typeUrl: ENDPOINT_TYPE, nonce: "n" }, anys);
    const framed = (pre as unknown as Record<symbol, Buffer | undefined>)[Symbol.for("@grpc/grpc-js.framedMessage")];
    expect(framed?.byteLength).toBe(pre.byteLength + 5);
    expect([framed?.[0], framed?.readUInt32BE(1)]).toEqual([0, pre.byteLength]);
    expect(Buffer.compare(framed?.subarray(5) ?? Buffer.alloc(0), pre)).toBe(0);
    expect(v3.DiscoveryResponse.decode(pre).resources.map((r) => r.value?.length)).toEqual([10, 200, 20_000]);
    expect(reflect("envoy.service.discovery.v3.DiscoveryResponse", pre)).toMatchObject({ version_info: "v1", nonce: "n" });
    // patches/@grpc__grpc-js@1.14.7.patch: without it (a grpc-js upgrade) this fails.
    const require = createRequire(import.meta.url);
    const { BaseServerInterceptingCall } = require("@grpc/grpc-js/build/src/server-interceptors.js") as {
      BaseServerInterceptingCall: { prototype: { serializeMessage(this: unknown, v: unknown): Buffer } };
    };
    const handler = { serialize: AggregatedDiscoveryService.StreamAggregatedResources.responseSerialize };
    expect(BaseServerInterceptingCall.prototype.serializeMessage.call({ handler }, pre)).toBe(framed);
    // Any other message is framed as before.
    const other = BaseServerInterceptingCall.prototype.serializeMessage.call({ handler }, { versionInfo: "v2" });
    expect(v3.DiscoveryResponse.decode(other.subarray(5)).versionInfo).toBe("v2");
  });

  describe("over a real grpc-js server", () => {
    let server: grpc.Server;
    let port = 0;

    beforeAll(async () => {
      server = new grpc.Server();
      const handlers: AggregatedDiscoveryServiceHandlers = {
        StreamAggregatedResources: (call) => {
          call.on("data", (req) => {
            // Reply with pre-encoded bytes, as the xDS server will.
            const anys = [encodeAny(ENDPOINT_TYPE, encodeMessage(ClusterLoadAssignment, loadAssignment()))];
            call.write(encodeDiscoveryResponse({ versionInfo: "v1", typeUrl: req.typeUrl, nonce: `for-${req.node?.id}` }, anys));
          });
          call.on("end", () => call.end());
        },
        DeltaAggregatedResources: (call) => {
          call.on("data", () => call.write({ systemVersionInfo: "delta", typeUrl: ENDPOINT_TYPE }));
          call.on("end", () => call.end());
        },
      };
      server.addService(AggregatedDiscoveryService, handlers);
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
    });

    afterAll(() => {
      server?.forceShutdown();
    });

    it("serves a client built from ads.proto by @grpc/proto-loader", async () => {
      const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
        envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
      };
      const Client = loaded.envoy.service.discovery.v3.AggregatedDiscoveryService;
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      try {
        const stream = (client.StreamAggregatedResources as () => grpc.ClientDuplexStream<object, Record<string, unknown>>)();
        const got = new Promise<Record<string, unknown>>((resolve, reject) => {
          stream.once("data", resolve);
          stream.once("error", reject);
        });
        stream.write({ node: { id: "envoy-1" }, type_url: ENDPOINT_TYPE });
        const res = await got;
        stream.end();
        expect(res).toMatchObject({ version_info: "v1", type_url: ENDPOINT_TYPE, nonce: "for-envoy-1" });
        const resources = res.resources as Array<{ type_url: string; value: Uint8Array }>;
        expect(resources).toHaveLength(1);
        expect(reflectAny(resources[0])).toMatchObject({ cluster_name: "backend-a" });
      } finally {
        client.close();
      }
    });

    it("works with a generic client from our own definition", async () => {
      const Client = grpc.makeGenericClientConstructor(AggregatedDiscoveryService, "AggregatedDiscoveryService");
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      try {
        const stream = (
          client.DeltaAggregatedResources as () => grpc.ClientDuplexStream<
            envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties,
            DiscoveryResponse
          >
        )();
        const got = new Promise<unknown>((resolve, reject) => {
          stream.once("data", resolve);
          stream.once("error", reject);
        });
        stream.write({ typeUrl: ENDPOINT_TYPE, resourceNamesSubscribe: ["backend-a"] });
        const res = (await got) as envoy.service.discovery.v3.DeltaDiscoveryResponse;
        stream.end();
        expect(res.systemVersionInfo).toBe("delta");
        expect(res.typeUrl).toBe(ENDPOINT_TYPE);
      } finally {
        client.close();
      }
    });
  });
});
