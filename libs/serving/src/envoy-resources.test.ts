import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  envoy,
  HTTP_CONNECTION_MANAGER_TYPE,
  LISTENER_TYPE,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  ROUTE_TYPE,
  ROUTER_TYPE,
  SECRET_TYPE,
  TCP_PROXY_TYPE,
  UDP_PROXY_TYPE,
  unpackAny,
  validateResource,
} from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { anyValue } from "./encode.js";
import { type BuiltResource, buildLoadAssignments, buildServiceResources } from "./envoy-resources.js";
import { webPlan } from "./test-support/plans.js";

import core = envoy.config.core.v3;
const { Listener } = envoy.config.listener.v3;
const { Cluster } = envoy.config.cluster.v3;
const { ClusterLoadAssignment } = envoy.config.endpoint.v3;
const { RouteConfiguration } = envoy.config.route.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const { UdpProxyConfig, Route: UdpRoute } = envoy.extensions.filters.udp.udp_proxy.v3;
const { HttpConnectionManager } = envoy.extensions.filters.network.http_connection_manager.v3;
const { ProxyProtocolUpstreamTransport } = envoy.extensions.transport_sockets.proxy_protocol.v3;

const plan = webPlan;
const tcp443 = { name: "https", protocol: "TCP" as const, port: 443, nodePort: 31443 };

const find = (built: BuiltResource[], typeUrl: string, name: string) => {
  const r = built.find((b) => b.typeUrl === typeUrl && b.name === name);
  if (!r) throw new Error(`${typeUrl} ${name} not built`);
  return anyValue(r.any);
};

describe("buildServiceResources", () => {
  const built = buildServiceResources(plan());

  it("builds one listener per port, one cluster and CLA per port, and API listener + route for gRPC ports", () => {
    expect(built.map((b) => `${b.typeUrl.split(".").pop()} ${b.name}${b.wildcard ? "" : " (named only)"}`).sort()).toEqual([
      "Cluster a/shop/web/tcp-443",
      "Cluster a/shop/web/tcp-50051",
      "Cluster a/shop/web/udp-53",
      "ClusterLoadAssignment a/shop/web/tcp-443",
      "ClusterLoadAssignment a/shop/web/tcp-50051",
      "ClusterLoadAssignment a/shop/web/udp-53",
      "Listener grpc.web.shop.a (named only)",
      "Listener tcp-203.0.113.10-443",
      "Listener tcp-203.0.113.10-50051",
      "Listener udp-203.0.113.10-53",
      "RouteConfiguration grpc.web.shop.a",
    ]);
  });

  it("every resource decodes and passes validateResource with its references resolved", () => {
    const clusters = new Set(built.filter((b) => b.typeUrl === CLUSTER_TYPE).map((b) => b.name));
    const routeConfigs = new Set(built.filter((b) => b.typeUrl === ROUTE_TYPE).map((b) => b.name));
    const decoders = {
      [LISTENER_TYPE]: Listener,
      [CLUSTER_TYPE]: Cluster,
      [ENDPOINT_TYPE]: ClusterLoadAssignment,
      [ROUTE_TYPE]: RouteConfiguration,
      [SECRET_TYPE]: envoy.extensions.transport_sockets.tls.v3.Secret,
    };
    for (const b of built) {
      const decoded = decoders[b.typeUrl].decode(anyValue(b.any));
      expect(validateResource(b.typeUrl, decoded, { clusters, routeConfigs }), `${b.typeUrl} ${b.name}`).toEqual([]);
    }
  });

  it("TCP listener: bound to the IP and external port, tcp_proxy to the cluster", () => {
    const l = Listener.decode(find(built, LISTENER_TYPE, "tcp-203.0.113.10-443"));
    expect(l.address?.socketAddress).toMatchObject({ address: "203.0.113.10", portValue: 443, protocol: core.SocketAddress.Protocol.TCP });
    expect(l.freebind?.value).toBe(true);
    const filter = l.filterChains[0]?.filters?.[0];
    expect(filter?.typedConfig?.type_url).toBe(TCP_PROXY_TYPE);
    expect(unpackAny(TcpProxy, filter?.typedConfig)?.cluster).toBe("a/shop/web/tcp-443");
  });

  it("dual-stack: one listener per address (IPv6 included) on every port, all to the port's one cluster", () => {
    const dual = buildServiceResources(plan({}, "203.0.113.10", "tcp", undefined, ["203.0.113.10", "2001:db8::10"]));
    const names = (typeUrl: string) => dual.filter((b) => b.typeUrl === typeUrl && b.wildcard).map((b) => b.name).sort();
    expect(names(LISTENER_TYPE)).toEqual([
      "tcp-2001:db8::10-443",
      "tcp-2001:db8::10-50051",
      "tcp-203.0.113.10-443",
      "tcp-203.0.113.10-50051",
      "udp-2001:db8::10-53",
      "udp-203.0.113.10-53",
    ]);
    expect(names(CLUSTER_TYPE)).toEqual(["a/shop/web/tcp-443", "a/shop/web/tcp-50051", "a/shop/web/udp-53"]);
    const v6 = Listener.decode(find(dual, LISTENER_TYPE, "tcp-2001:db8::10-443"));
    expect(v6.address?.socketAddress).toMatchObject({ address: "2001:db8::10", portValue: 443, protocol: core.SocketAddress.Protocol.TCP });
    expect(unpackAny(TcpProxy, v6.filterChains[0]?.filters?.[0]?.typedConfig)?.cluster).toBe("a/shop/web/tcp-443");
    expect(unpackAny(TcpProxy, v6.filterChains[0]?.filters?.[0]?.typedConfig)?.statPrefix).toBe("tcp-2001_db8__10-443");
    const udp6 = Listener.decode(find(dual, LISTENER_TYPE, "udp-2001:db8::10-53"));
    expect(udp6.address?.socketAddress).toMatchObject({ address: "2001:db8::10", portValue: 53, protocol: core.SocketAddress.Protocol.UDP });
  });

  it("UDP listener: udp_proxy listener filter whose matcher routes to the cluster", () => {
    const l = Listener.decode(find(built, LISTENER_TYPE, "udp-203.0.113.10-53"));
    expect(l.address?.socketAddress).toMatchObject({ address: "203.0.113.10", portValue: 53, protocol: core.SocketAddress.Protocol.UDP });
    expect(l.filterChains).toEqual([]);
    const f = l.listenerFilters[0];
    expect(f?.typedConfig?.type_url).toBe(UDP_PROXY_TYPE);
    const udp = unpackAny(UdpProxyConfig, f?.typedConfig);
    expect(unpackAny(UdpRoute, udp?.matcher?.onNoMatch?.action?.typedConfig)?.cluster).toBe("a/shop/web/udp-53");
  });

  it("clusters: EDS over ADS, TCP health checks for TCP only, removal not delayed by health", () => {
    const tcp = Cluster.decode(find(built, CLUSTER_TYPE, "a/shop/web/tcp-443"));
    expect(tcp.type).toBe(Cluster.DiscoveryType.EDS);
    expect(tcp.edsClusterConfig?.edsConfig?.ads).toBeTruthy();
    expect(tcp.edsClusterConfig?.edsConfig?.resourceApiVersion).toBe(core.ApiVersion.V3);
    expect(tcp.ignoreHealthOnHostRemoval).toBe(true);
    expect(tcp.healthChecks).toHaveLength(1);
    expect(tcp.healthChecks[0]?.tcpHealthCheck).toBeTruthy();
    expect(tcp.transportSocket).toBeFalsy();
    const udp = Cluster.decode(find(built, CLUSTER_TYPE, "a/shop/web/udp-53"));
    expect(udp.healthChecks).toEqual([]);
  });

  it("PROXY protocol v1/v2 becomes an upstream transport socket on TCP clusters", () => {
    for (const [annotation, version] of [
      ["v1", core.ProxyProtocolConfig.Version.V1],
      ["v2", core.ProxyProtocolConfig.Version.V2],
    ] as const) {
      const b = buildServiceResources(plan({ annotations: { "sharedlb.io/proxy-protocol": annotation } }));
      const c = Cluster.decode(find(b, CLUSTER_TYPE, "a/shop/web/tcp-443"));
      expect(c.transportSocket?.typedConfig?.type_url).toBe(PROXY_PROTOCOL_UPSTREAM_TYPE);
      const pp = unpackAny(ProxyProtocolUpstreamTransport, c.transportSocket?.typedConfig);
      expect(pp?.config?.version).toBe(version);
      expect(pp?.transportSocket?.name).toBe("envoy.transport_sockets.raw_buffer");
      expect(Cluster.decode(find(b, CLUSTER_TYPE, "a/shop/web/udp-53")).transportSocket).toBeFalsy();
    }
  });

  it("endpoints: node IPs at the NodePort, in one weighted locality (gRPC clients require both)", () => {
    const cla = ClusterLoadAssignment.decode(find(built, ENDPOINT_TYPE, "a/shop/web/tcp-443"));
    expect(cla.endpoints).toHaveLength(1);
    expect(cla.endpoints[0]?.locality).toBeTruthy();
    expect(cla.endpoints[0]?.loadBalancingWeight?.value).toBe(1);
    expect(
      cla.endpoints[0]?.lbEndpoints?.map(
        (e) => `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`,
      ),
    ).toEqual(["10.0.0.1:31443", "10.0.0.2:31443"]);
  });

  it("a port without NodePort gets an empty assignment", () => {
    const p = plan();
    const noNodePort = { ...p, ports: p.ports.map((port) => ({ ...port, nodePort: 0 })) };
    for (const b of buildLoadAssignments(noNodePort)) expect(ClusterLoadAssignment.decode(anyValue(b.any)).endpoints).toEqual([]);
  });

  it("gRPC: API listener with an HCM that loads its route over ADS and ends with the router", () => {
    const l = Listener.decode(find(built, LISTENER_TYPE, "grpc.web.shop.a"));
    expect(l.address).toBeFalsy();
    expect(l.apiListener?.apiListener?.type_url).toBe(HTTP_CONNECTION_MANAGER_TYPE);
    const hcm = unpackAny(HttpConnectionManager, l.apiListener?.apiListener);
    expect(hcm?.rds?.routeConfigName).toBe("grpc.web.shop.a");
    expect(hcm?.rds?.configSource?.ads).toBeTruthy();
    expect(hcm?.httpFilters.at(-1)?.typedConfig?.type_url).toBe(ROUTER_TYPE);
    const rc = RouteConfiguration.decode(find(built, ROUTE_TYPE, "grpc.web.shop.a"));
    expect(rc.virtualHosts[0]?.domains).toEqual(["*"]);
    expect(rc.virtualHosts[0]?.routes?.[0]?.match?.prefix).toBe("/");
    expect(rc.virtualHosts[0]?.routes?.[0]?.route?.cluster).toBe("a/shop/web/tcp-50051");
  });

  it("is deterministic: the same plan gives the same bytes", () => {
    const again = buildServiceResources(plan());
    expect(again.map((b) => Buffer.from(b.any).toString("hex"))).toEqual(built.map((b) => Buffer.from(b.any).toString("hex")));
  });

  it("IPv6 addresses work as listener and endpoint addresses", () => {
    const b = buildServiceResources(plan({}, "2001:db8::10"));
    const l = Listener.decode(find(b, LISTENER_TYPE, "tcp-2001:db8::10-443"));
    expect(validateResource(LISTENER_TYPE, l)).toEqual([]);
  });
});

describe("loadBalancerSourceRanges and sessionAffinity", () => {
  it("a TCP listener accepts only the Service's source ranges; without them, any source", () => {
    const built = buildServiceResources(plan({ loadBalancerSourceRanges: ["10.1.0.0/16", "2001:db8::/32"], ports: [tcp443] }));
    const chains = Listener.decode(find(built, LISTENER_TYPE, "tcp-203.0.113.10-443")).filterChains;
    expect(chains).toHaveLength(1);
    expect(chains[0]?.filterChainMatch?.sourcePrefixRanges?.map((r) => `${r.addressPrefix}/${r.prefixLen?.value}`)).toEqual([
      "10.1.0.0/16",
      "2001:db8::/32",
    ]);
    const open = Listener.decode(find(buildServiceResources(plan({ ports: [tcp443] })), LISTENER_TYPE, "tcp-203.0.113.10-443"));
    expect(open.filterChains[0]?.filterChainMatch).toBeNull();
  });

  it("fails closed: a UDP port with source ranges is not served (Envoy's UDP proxy cannot enforce them), with a warning", () => {
    const p = plan({ loadBalancerSourceRanges: ["10.1.0.0/16"] });
    expect(p.ports.map((x) => `${x.protocol}/${x.servicePort}`)).toEqual(["TCP/443", "TCP/50051"]);
    expect(p.warnings.join()).toMatch(/53\/UDP: loadBalancerSourceRanges cannot be enforced/);
  });

  it("fails closed: an unreadable source range serves no port", () => {
    const p = plan({ loadBalancerSourceRanges: ["10.1.0.0/16", "nonsense"] });
    expect(p.ports).toEqual([]);
    expect(p.warnings.join()).toContain("nonsense");
  });

  it("ClientIP affinity: source-IP hashing in tcp_proxy and udp_proxy, ring-hash clusters; None keeps round robin", () => {
    const built = buildServiceResources(plan({ sessionAffinity: "ClientIP" }));
    const tcp = Listener.decode(find(built, LISTENER_TYPE, "tcp-203.0.113.10-443"));
    expect(unpackAny(TcpProxy, tcp.filterChains[0]?.filters?.[0]?.typedConfig)?.hashPolicy).toEqual([{ sourceIp: {} }]);
    const udp = Listener.decode(find(built, LISTENER_TYPE, "udp-203.0.113.10-53"));
    expect(unpackAny(UdpProxyConfig, udp.listenerFilters[0]?.typedConfig)?.hashPolicies.map((h) => h.sourceIp)).toEqual([true]);
    for (const name of ["a/shop/web/tcp-443", "a/shop/web/udp-53"]) {
      expect(Cluster.decode(find(built, CLUSTER_TYPE, name)).lbPolicy).toBe(Cluster.LbPolicy.RING_HASH);
    }
    const none = buildServiceResources(plan({ sessionAffinity: "None" }));
    expect(Cluster.decode(find(none, CLUSTER_TYPE, "a/shop/web/tcp-443")).lbPolicy).toBe(Cluster.LbPolicy.ROUND_ROBIN);
    expect(
      unpackAny(TcpProxy, Listener.decode(find(none, LISTENER_TYPE, "tcp-203.0.113.10-443")).filterChains[0]?.filters?.[0]?.typedConfig)
        ?.hashPolicy,
    ).toEqual([]);
  });
});

describe("health checks", () => {
  const checks = (b: BuiltResource[], name: string) => Cluster.decode(find(b, CLUSTER_TYPE, name)).healthChecks;
  const hcPorts = (b: BuiltResource[], name: string) =>
    ClusterLoadAssignment.decode(find(b, ENDPOINT_TYPE, name)).endpoints.flatMap((l) =>
      (l.lbEndpoints ?? []).map((e) => e.endpoint?.healthCheckConfig?.portValue ?? 0),
    );

  it("tcp (default): TCP connect to the NodePort for TCP ports, none for UDP", () => {
    const built = buildServiceResources(webPlan());
    expect(checks(built, "a/shop/web/tcp-443")[0]?.tcpHealthCheck).toBeTruthy();
    expect(checks(built, "a/shop/web/udp-53")).toEqual([]);
    expect(hcPorts(built, "a/shop/web/tcp-443")).toEqual([0, 0]);
  });

  it("kubeProxy, Cluster policy: HTTP /healthz on kube-proxy's :10256 for TCP and UDP ports", () => {
    const built = buildServiceResources(webPlan({}, "203.0.113.10", "kubeProxy"));
    for (const name of ["a/shop/web/tcp-443", "a/shop/web/udp-53"]) {
      expect(checks(built, name)[0]?.httpHealthCheck?.path).toBe("/healthz");
      expect(hcPorts(built, name)).toEqual([10256, 10256]);
    }
  });

  it("kubeProxy, Local policy: HTTP /healthz on the Service's healthCheckNodePort (fails on nodes without a local endpoint)", () => {
    const built = buildServiceResources(
      webPlan({ externalTrafficPolicy: "Local", healthCheckNodePort: 32123 }, "203.0.113.10", "kubeProxy", ["w1", "w2"]),
    );
    expect(checks(built, "a/shop/web/tcp-443")[0]?.httpHealthCheck?.path).toBe("/healthz");
    expect(hcPorts(built, "a/shop/web/tcp-443")).toEqual([32123, 32123]);
  });
});
