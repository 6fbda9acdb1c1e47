// Shared by the tests in this package; excluded from the build (tsconfig).
import { envoy, packAny } from "./index.js";

const core = envoy.config.core.v3;
const { Cluster } = envoy.config.cluster.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const { UdpProxyConfig, Route: UdpRoute } = envoy.extensions.filters.udp.udp_proxy.v3;
const { ProxyProtocolUpstreamTransport } = envoy.extensions.transport_sockets.proxy_protocol.v3;
const { RawBuffer } = envoy.extensions.transport_sockets.raw_buffer.v3;

export function tcpListener(): envoy.config.listener.v3.Listener.$Properties {
  return {
    name: "tcp-443",
    address: { socketAddress: { protocol: core.SocketAddress.Protocol.TCP, address: "0.0.0.0", portValue: 443 } },
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.tcp_proxy",
            typedConfig: packAny(TcpProxy, {
              statPrefix: "tcp-443",
              cluster: "backend-a",
              idleTimeout: { seconds: 3600 },
            }),
          },
        ],
      },
    ],
  };
}

export function udpListener(): envoy.config.listener.v3.Listener.$Properties {
  return {
    name: "udp-53",
    address: { socketAddress: { protocol: core.SocketAddress.Protocol.UDP, address: "0.0.0.0", portValue: 53 } },
    listenerFilters: [
      {
        name: "envoy.filters.udp_listener.udp_proxy",
        typedConfig: packAny(UdpProxyConfig, {
          statPrefix: "udp-53",
          matcher: {
            onNoMatch: {
              action: {
                name: "route",
                typedConfig: packAny(UdpRoute, { cluster: "dns" }),
              },
            },
          },
          idleTimeout: { seconds: 30 },
        }),
      },
    ],
  };
}

export function edsCluster(): envoy.config.cluster.v3.Cluster.$Properties {
  return {
    name: "backend-a",
    type: Cluster.DiscoveryType.EDS,
    connectTimeout: { seconds: 5, nanos: 500_000_000 },
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: core.ApiVersion.V3 } },
    healthChecks: [
      {
        timeout: { seconds: 2 },
        interval: { seconds: 10 },
        unhealthyThreshold: { value: 3 },
        healthyThreshold: { value: 2 },
        tcpHealthCheck: {},
      },
    ],
    transportSocket: {
      name: "envoy.transport_sockets.upstream_proxy_protocol",
      typedConfig: packAny(ProxyProtocolUpstreamTransport, {
        config: { version: core.ProxyProtocolConfig.Version.V2 },
        transportSocket: { name: "envoy.transport_sockets.raw_buffer", typedConfig: packAny(RawBuffer, {}) },
      }),
    },
  };
}

export function loadAssignment(): envoy.config.endpoint.v3.ClusterLoadAssignment.$Properties {
  return {
    clusterName: "backend-a",
    endpoints: [
      {
        locality: { region: "eu-west", zone: "a" },
        lbEndpoints: [
          { endpoint: { address: { socketAddress: { address: "10.0.0.1", portValue: 8443 } } } },
          {
            endpoint: { address: { socketAddress: { address: "10.0.0.2", portValue: 8443 } } },
            loadBalancingWeight: { value: 5 },
          },
        ],
      },
    ],
  };
}
