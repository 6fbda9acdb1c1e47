import { describe, expect, it } from "vitest";
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  envoy,
  LISTENER_TYPE,
  packAny,
  ROUTE_TYPE,
  toAny,
  encodeMessage,
  validateDiscoveryResponse,
  validateResource,
} from "./index.js";
import { edsCluster, loadAssignment, tcpListener, udpListener } from "./test-fixtures.js";

const core = envoy.config.core.v3;
const { Listener } = envoy.config.listener.v3;
const { Cluster } = envoy.config.cluster.v3;
const { ClusterLoadAssignment } = envoy.config.endpoint.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const { UdpProxyConfig, Route: UdpRoute } = envoy.extensions.filters.udp.udp_proxy.v3;
const { HttpConnectionManager } = envoy.extensions.filters.network.http_connection_manager.v3;
const { Router } = envoy.extensions.filters.http.router.v3;
const { ProxyProtocolUpstreamTransport } = envoy.extensions.transport_sockets.proxy_protocol.v3;

const known = { clusters: new Set(["backend-a", "dns"]), routeConfigs: new Set(["web"]) };

/** Round-trips through the wire so validation sees what Envoy would decode. */
function decoded<P extends object>(
  type: { encode(m: P): { finish(): Uint8Array }; decode(b: Uint8Array): P },
  message: P,
): P {
  return type.decode(type.encode(message).finish());
}

function hcmListener(routeConfigName: string): envoy.config.listener.v3.Listener.$Properties {
  return {
    name: "http-80",
    address: { socketAddress: { address: "::", portValue: 80 } },
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: packAny(HttpConnectionManager, {
              statPrefix: "http-80",
              rds: { configSource: { ads: {} }, routeConfigName },
              httpFilters: [{ name: "envoy.filters.http.router", typedConfig: packAny(Router, {}) }],
            }),
          },
        ],
      },
    ],
  };
}

describe("validateResource: valid resources", () => {
  it.each([
    ["tcp listener", LISTENER_TYPE, () => decoded(Listener, tcpListener())],
    ["udp listener", LISTENER_TYPE, () => decoded(Listener, udpListener())],
    ["http listener", LISTENER_TYPE, () => decoded(Listener, hcmListener("web"))],
    ["eds cluster", CLUSTER_TYPE, () => decoded(Cluster, edsCluster())],
    ["load assignment", ENDPOINT_TYPE, () => decoded(ClusterLoadAssignment, loadAssignment())],
  ] as const)("%s", (_name, typeUrl, build) => {
    expect(validateResource(typeUrl, build(), known)).toEqual([]);
  });

  it("accepts un-encoded messages too", () => {
    expect(validateResource(LISTENER_TYPE, tcpListener(), known)).toEqual([]);
  });

  it("skips reference checks when no known names are given", () => {
    const l = tcpListener();
    l.filterChains = [
      { filters: [{ name: "tcp", typedConfig: packAny(TcpProxy, { statPrefix: "s", cluster: "anything" }) }] },
    ];
    expect(validateResource(LISTENER_TYPE, l)).toEqual([]);
  });

  it("route configuration", () => {
    const rc: envoy.config.route.v3.RouteConfiguration.$Properties = {
      name: "web",
      virtualHosts: [
        {
          name: "all",
          domains: ["*"],
          routes: [
            { match: { prefix: "/" }, route: { cluster: "backend-a" } },
            { match: { prefix: "/old" }, redirect: { pathRedirect: "/new" } },
          ],
        },
      ],
    };
    expect(validateResource(ROUTE_TYPE, decoded(envoy.config.route.v3.RouteConfiguration, rc), known)).toEqual([]);
  });
});

describe("validateResource: listeners", () => {
  it("requires a name and an address", () => {
    const l = tcpListener();
    l.name = "";
    delete l.address;
    const errors = validateResource(LISTENER_TYPE, l, known);
    expect(errors).toContain("name: must be non-empty");
    expect(errors).toContain('listener "".address: is required');
  });

  it.each([0, 65536, -1])("rejects port %i", (port) => {
    const l = tcpListener();
    l.address = { socketAddress: { address: "0.0.0.0", portValue: port } };
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      `listener "tcp-443".address.socket_address.port_value: must be in 1..65535, got ${port}`,
    ]);
  });

  it("rejects a missing port, a hostname and named ports", () => {
    const l = tcpListener();
    l.address = { socketAddress: { address: "example.com" } };
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".address.socket_address.address: "example.com" is not an IP address',
      'listener "tcp-443".address.socket_address.port_value: must be in 1..65535, got none',
    ]);
    l.address = { socketAddress: { address: "10.1.1.1", namedPort: "https" } };
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".address.socket_address.named_port: is not supported, use port_value',
    ]);
  });

  it("checks tcp_proxy cluster name and existence", () => {
    const l = tcpListener();
    const filter = { name: "tcp", typedConfig: packAny(TcpProxy, { statPrefix: "", cluster: "nope" }) };
    l.filterChains = [{ filters: [filter] }];
    expect(validateResource(LISTENER_TYPE, decoded(Listener, l), known)).toEqual([
      'listener "tcp-443".filter_chains[0].filters[0].typed_config.stat_prefix: must be non-empty',
      'listener "tcp-443".filter_chains[0].filters[0].typed_config.cluster: unknown cluster "nope"',
    ]);
    filter.typedConfig = packAny(TcpProxy, { statPrefix: "s" });
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".filter_chains[0].filters[0].typed_config.cluster: must be non-empty',
    ]);
  });

  it("checks weighted tcp_proxy clusters", () => {
    const l = tcpListener();
    l.filterChains = [
      {
        filters: [
          {
            name: "tcp",
            typedConfig: packAny(TcpProxy, {
              statPrefix: "s",
              weightedClusters: { clusters: [{ name: "backend-a", weight: 1 }, { name: "zzz", weight: 0 }] },
            }),
          },
        ],
      },
    ];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[1].name: unknown cluster "zzz"',
      'listener "tcp-443".filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[1].weight: must be >= 1',
    ]);
  });

  it("requires filter chains on TCP listeners and a terminal filter", () => {
    const l = tcpListener();
    l.filterChains = [];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".filter_chains: a TCP listener needs at least one filter chain',
    ]);
    l.filterChains = [{ filters: [{ name: "x", typedConfig: packAny(Router, {}) }] }];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "tcp-443".filter_chains[0].filters[0]: last filter must be tcp_proxy or http_connection_manager',
      'listener "tcp-443".filter_chains[0].filters[0].typed_config: unsupported network filter "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"',
    ]);
  });

  it("flags an Any built with camelCase typeUrl", () => {
    const l = tcpListener();
    const sneaky: object = { typeUrl: TcpProxy.getTypeUrl(), value: encodeMessage(TcpProxy, { statPrefix: "s", cluster: "backend-a" }) };
    l.filterChains = [{ filters: [{ name: "tcp", typedConfig: sneaky }] }];
    const errors = validateResource(LISTENER_TYPE, decoded(Listener, l), known);
    expect(errors).toContain('listener "tcp-443".filter_chains[0].filters[0]: last filter must be tcp_proxy or http_connection_manager');
  });

  it("checks the UDP route cluster behind the matcher", () => {
    const l = udpListener();
    l.listenerFilters = [
      {
        name: "udp",
        typedConfig: packAny(UdpProxyConfig, {
          statPrefix: "udp",
          matcher: { onNoMatch: { action: { name: "route", typedConfig: packAny(UdpRoute, { cluster: "missing" }) } } },
        }),
      },
    ];
    expect(validateResource(LISTENER_TYPE, decoded(Listener, l), known)).toEqual([
      'listener "udp-53".listener_filters[0].typed_config.matcher.on_no_match.action.typed_config.cluster: unknown cluster "missing"',
    ]);
    l.listenerFilters = [
      {
        name: "udp",
        typedConfig: packAny(UdpProxyConfig, {
          statPrefix: "udp",
          matcher: { onNoMatch: { action: { name: "route", typedConfig: packAny(UdpRoute, {}) } } },
        }),
      },
    ];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "udp-53".listener_filters[0].typed_config.matcher.on_no_match.action.typed_config.cluster: must be non-empty',
    ]);
  });

  it("requires udp_proxy on UDP listeners", () => {
    const l = udpListener();
    l.listenerFilters = [];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "udp-53".listener_filters: a UDP listener needs a udp_proxy listener filter',
    ]);
  });

  it("checks RDS references and the router filter", () => {
    const l = hcmListener("nope");
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "http-80".filter_chains[0].filters[0].typed_config.rds.route_config_name: unknown route configuration "nope"',
    ]);
    const chain = l.filterChains?.[0];
    if (!chain) throw new Error("fixture");
    chain.filters = [
      {
        name: "hcm",
        typedConfig: packAny(HttpConnectionManager, { statPrefix: "h", rds: { configSource: { path: "/etc/x" }, routeConfigName: "web" } }),
      },
    ];
    expect(validateResource(LISTENER_TYPE, l, known)).toEqual([
      'listener "http-80".filter_chains[0].filters[0].typed_config.rds.config_source: must use ads',
      'listener "http-80".filter_chains[0].filters[0].typed_config.http_filters: must end with the router filter',
    ]);
  });
});

describe("validateResource: clusters", () => {
  it("EDS clusters need eds_cluster_config with an ADS source", () => {
    const c = edsCluster();
    delete c.edsClusterConfig;
    expect(validateResource(CLUSTER_TYPE, c, known)).toEqual([
      'cluster "backend-a".eds_cluster_config: is required for EDS clusters',
    ]);
    c.edsClusterConfig = { edsConfig: { path: "/etc/eds.yaml" } };
    expect(validateResource(CLUSTER_TYPE, c, known)).toEqual([
      'cluster "backend-a".eds_cluster_config.eds_config: must use ads',
    ]);
    c.edsClusterConfig = {};
    expect(validateResource(CLUSTER_TYPE, c, known)).toEqual([
      'cluster "backend-a".eds_cluster_config.eds_config: is required',
    ]);
  });

  it("checks health checks and connect timeout", () => {
    const c = edsCluster();
    c.name = "";
    c.connectTimeout = { seconds: 0 };
    c.healthChecks = [{ timeout: { seconds: 1 } }];
    expect(validateResource(CLUSTER_TYPE, decoded(Cluster, c), known)).toEqual([
      "name: must be non-empty",
      'cluster "".connect_timeout: must be > 0',
      'cluster "".health_checks[0].interval: is required and must be > 0',
      'cluster "".health_checks[0].unhealthy_threshold: is required',
      'cluster "".health_checks[0].healthy_threshold: is required',
      'cluster "".health_checks[0]: one of tcp/http/grpc/custom health check is required',
    ]);
  });

  it("proxy-protocol transport socket needs an inner transport socket", () => {
    const c = edsCluster();
    c.transportSocket = {
      name: "pp",
      typedConfig: packAny(ProxyProtocolUpstreamTransport, { config: { version: core.ProxyProtocolConfig.Version.V1 } }),
    };
    expect(validateResource(CLUSTER_TYPE, decoded(Cluster, c), known)).toEqual([
      'cluster "backend-a".transport_socket.typed_config.transport_socket: is required',
    ]);
  });

  it("static clusters need IP endpoints", () => {
    const c: envoy.config.cluster.v3.Cluster.$Properties = {
      name: "s",
      type: Cluster.DiscoveryType.STATIC,
      loadAssignment: {
        clusterName: "s",
        endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "db.local", portValue: 5432 } } } }] }],
      },
    };
    expect(validateResource(CLUSTER_TYPE, c, known)).toEqual([
      'cluster "s".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: "db.local" is not an IP address',
    ]);
    c.type = Cluster.DiscoveryType.STRICT_DNS;
    expect(validateResource(CLUSTER_TYPE, c, known)).toEqual([]);
  });
});

describe("validateResource: endpoints and routes", () => {
  it("checks cluster_name, ports and weights", () => {
    const cla = loadAssignment();
    cla.clusterName = "unknown";
    const lle = cla.endpoints?.[0];
    if (!lle?.lbEndpoints?.[0]) throw new Error("fixture");
    lle.lbEndpoints[0] = { endpoint: { address: { socketAddress: { address: "10.0.0.9", portValue: 0 } } }, loadBalancingWeight: { value: 0 } };
    expect(validateResource(ENDPOINT_TYPE, cla, known)).toEqual([
      'cluster_name: unknown cluster "unknown"',
      'cluster_load_assignment "unknown".endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be in 1..65535, got 0',
      'cluster_load_assignment "unknown".endpoints[0].lb_endpoints[0].load_balancing_weight: must be >= 1',
    ]);
  });

  it("checks route clusters and virtual host domains", () => {
    const rc: envoy.config.route.v3.RouteConfiguration.$Properties = {
      name: "web",
      virtualHosts: [{ name: "", domains: [], routes: [{ match: { prefix: "/" }, route: { cluster: "ghost" } }, { route: { cluster: "backend-a" } }] }],
    };
    expect(validateResource(ROUTE_TYPE, rc, known)).toEqual([
      'route_configuration "web".virtual_hosts[0].name: must be non-empty',
      'route_configuration "web".virtual_hosts[0].domains: must not be empty',
      'route_configuration "web".virtual_hosts[0].routes[0].route.cluster: unknown cluster "ghost"',
      'route_configuration "web".virtual_hosts[0].routes[1].match: is required',
    ]);
  });

  it("rejects unknown resource types", () => {
    expect(validateResource("type.googleapis.com/envoy.service.runtime.v3.Runtime", {})).toEqual([
      'unsupported resource type "type.googleapis.com/envoy.service.runtime.v3.Runtime"',
    ]);
  });
});

describe("validateDiscoveryResponse", () => {
  it("validates each resource and its type_url", () => {
    const good = encodeMessage(ClusterLoadAssignment, loadAssignment());
    const bad = encodeMessage(ClusterLoadAssignment, { clusterName: "" });
    const errors = validateDiscoveryResponse(
      {
        typeUrl: ENDPOINT_TYPE,
        resources: [toAny(ENDPOINT_TYPE, good), toAny(ENDPOINT_TYPE, bad), toAny(CLUSTER_TYPE, good)],
      },
      known,
    );
    expect(errors).toEqual([
      "resources[1]: cluster_name: must be non-empty",
      `resources[2]: type_url "${CLUSTER_TYPE}" differs from response type_url`,
    ]);
  });
});
