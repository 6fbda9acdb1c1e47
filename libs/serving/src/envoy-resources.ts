import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  envoy,
  LISTENER_TYPE,
  type MessageType,
  PROXY_PROTOCOL_TRANSPORT_SOCKET_NAME,
  packAny,
  RAW_BUFFER_TRANSPORT_SOCKET_NAME,
  type ResourceTypeUrl,
  ROUTE_TYPE,
  ROUTER_FILTER_NAME,
  TCP_PROXY_FILTER_NAME,
  UDP_PROXY_FILTER_NAME,
} from "@sharedlb/envoy-api";
import { encodeAsAny } from "./encode.js";
import type { L7ObjectRef } from "./l7/types.js";
import { statPrefix } from "./naming.js";
import type { NodeEndpoint } from "./node-selection.js";
import type { ListenerPlan, PortPlan, ServicePlan } from "./plan.js";

import core = envoy.config.core.v3;
import Listener = envoy.config.listener.v3.Listener;
import Cluster = envoy.config.cluster.v3.Cluster;
import ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
import RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
import TcpProxy = envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import UdpProxyConfig = envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig;
import UdpRoute = envoy.extensions.filters.udp.udp_proxy.v3.Route;
import HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import Router = envoy.extensions.filters.http.router.v3.Router;
import ProxyProtocolUpstreamTransport = envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport;
import RawBuffer = envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer;

/** One encoded xDS resource, before versioning. */
export interface BuiltResource {
  readonly typeUrl: ResourceTypeUrl;
  readonly name: string;
  /** The encoded google.protobuf.Any holding the resource. */
  readonly any: Uint8Array;
  /**
   * Whether wildcard subscriptions receive it. API listeners are only for proxyless gRPC
   * clients, which ask for them by name; an Envoy's wildcard LDS must not get them
   * (Envoy only accepts an api_listener from its bootstrap).
   */
  readonly wildcard: boolean;
  /** L7: the tenant objects whose content it carries, for `lb.programmed` per object. */
  readonly objects?: readonly L7ObjectRef[];
}

/** What a Cluster is built from: a Service port, or an L7 backend. */
export type ClusterSpec = Pick<PortPlan, "clusterName" | "clientIpAffinity" | "healthCheck" | "proxyProtocol">;
/** What a ClusterLoadAssignment is built from. */
export type LoadAssignmentSpec = Pick<PortPlan, "clusterName" | "nodePort" | "healthCheck">;

/** Every resource comes over the one ADS stream. */
export const ADS_SOURCE: core.ConfigSource.$Properties = { ads: {}, resourceApiVersion: core.ApiVersion.V3 };
const CONNECT_TIMEOUT = { seconds: 5 };

// Encoded once: every TCP listener uses the same router-free filter layout, and these
// nested configs are identical for all Services.
const ROUTER_ANY = packAny(Router, {});
const RAW_BUFFER_SOCKET: core.TransportSocket.$Properties = {
  name: RAW_BUFFER_TRANSPORT_SOCKET_NAME,
  typedConfig: packAny(RawBuffer, {}),
};

/** Every resource of a Service: L4 listeners, clusters, endpoints, and the gRPC ones. */
export function buildServiceResources(plan: ServicePlan): BuiltResource[] {
  const out: BuiltResource[] = [];
  for (const port of plan.ports) {
    for (const listener of port.listeners) out.push(encoded(LISTENER_TYPE, listener.name, Listener, l4Listener(listener, port), true));
    out.push(encoded(CLUSTER_TYPE, port.clusterName, Cluster, edsCluster(port), true));
    if (port.grpcTarget) {
      out.push(encoded(LISTENER_TYPE, port.grpcTarget, Listener, grpcApiListener(port.grpcTarget), false));
      out.push(encoded(ROUTE_TYPE, port.grpcTarget, RouteConfiguration, grpcRoute(port.grpcTarget, port.clusterName), true));
    }
  }
  out.push(...buildLoadAssignments(plan));
  return out;
}

/** Only the endpoints of a Service: what a node or EndpointSlice change touches. */
export function buildLoadAssignments(plan: ServicePlan): BuiltResource[] {
  return plan.ports.map((port) =>
    encoded(ENDPOINT_TYPE, port.clusterName, ClusterLoadAssignment, loadAssignment(port, plan.endpoints), true),
  );
}

/** The Listener of one port on one address; a dual-stack Service has one per family, sharing the port's cluster. */
export function l4Listener(listener: ListenerPlan, port: PortPlan): Listener.$Properties {
  const prefix = statPrefix(listener.name);
  const address: core.Address.$Properties = {
    socketAddress: {
      protocol: port.protocol === "UDP" ? core.SocketAddress.Protocol.UDP : core.SocketAddress.Protocol.TCP,
      address: listener.ip,
      portValue: port.externalPort,
    },
  };
  // freebind: a fleet host may hold only some of the pool IPs at a time (a VIP that moves);
  // a listener whose bind failed would be NACKed for the whole fleet.
  const common = { name: listener.name, address, freebind: { value: true } };
  if (port.protocol === "UDP") {
    return {
      ...common,
      listenerFilters: [
        {
          name: UDP_PROXY_FILTER_NAME,
          typedConfig: packAny(UdpProxyConfig, {
            statPrefix: prefix,
            ...(port.clientIpAffinity ? { hashPolicies: [{ sourceIp: true }] } : {}),
            matcher: {
              onNoMatch: { action: { name: "route", typedConfig: packAny(UdpRoute, { cluster: port.clusterName }) } },
            },
          }),
        },
      ],
    };
  }
  return {
    ...common,
    filterChains: [
      {
        // With loadBalancerSourceRanges no other chain exists: Envoy closes connections
        // from any other source (the proxy is the only place that can, with ipMode Proxy).
        ...(port.sourceRanges.length > 0
          ? {
              filterChainMatch: {
                sourcePrefixRanges: port.sourceRanges.map((r) => ({ addressPrefix: r.addressPrefix, prefixLen: { value: r.prefixLen } })),
              },
            }
          : {}),
        filters: [
          {
            name: TCP_PROXY_FILTER_NAME,
            typedConfig: packAny(TcpProxy, {
              statPrefix: prefix,
              cluster: port.clusterName,
              ...(port.clientIpAffinity ? { hashPolicy: [{ sourceIp: {} }] } : {}),
            }),
          },
        ],
      },
    ],
  };
}

export function edsCluster(port: ClusterSpec): Cluster.$Properties {
  const cluster: Cluster.$Properties = {
    name: port.clusterName,
    type: Cluster.DiscoveryType.EDS,
    edsClusterConfig: { edsConfig: ADS_SOURCE },
    connectTimeout: CONNECT_TIMEOUT,
    // sessionAffinity ClientIP: the proxy's source-IP hash picks the node, consistently.
    lbPolicy: port.clientIpAffinity ? Cluster.LbPolicy.RING_HASH : Cluster.LbPolicy.ROUND_ROBIN,
    // Without this Envoy keeps a host that EDS removed until it fails a health check, so
    // a node going NotReady would keep receiving traffic.
    ignoreHealthOnHostRemoval: true,
  };
  // A TCP connect to a UDP NodePort proves nothing, so UDP clusters are checked only over HTTP.
  if (port.healthCheck) {
    cluster.healthChecks = [
      {
        timeout: { seconds: 2 },
        interval: { seconds: 5 },
        unhealthyThreshold: { value: 3 },
        healthyThreshold: { value: 1 },
        ...(port.healthCheck.kind === "http" ? { httpHealthCheck: { path: port.healthCheck.path } } : { tcpHealthCheck: {} }),
      },
    ];
  }
  if (port.proxyProtocol) {
    cluster.transportSocket = {
      name: PROXY_PROTOCOL_TRANSPORT_SOCKET_NAME,
      typedConfig: packAny(ProxyProtocolUpstreamTransport, {
        config: {
          version: port.proxyProtocol === "v2" ? core.ProxyProtocolConfig.Version.V2 : core.ProxyProtocolConfig.Version.V1,
        },
        transportSocket: RAW_BUFFER_SOCKET,
      }),
    };
  }
  return cluster;
}

export function loadAssignment(port: LoadAssignmentSpec, endpoints: readonly NodeEndpoint[]): ClusterLoadAssignment.$Properties {
  // No NodePort (allocateLoadBalancerNodePorts: false): nothing on the nodes to send to.
  if (port.nodePort === 0 || endpoints.length === 0) return { clusterName: port.clusterName, endpoints: [] };
  return {
    clusterName: port.clusterName,
    endpoints: [
      {
        // gRPC clients reject endpoints without a locality, and weigh localities.
        locality: {},
        loadBalancingWeight: { value: 1 },
        lbEndpoints: endpoints.map((e) => ({
          endpoint: {
            address: { socketAddress: { address: e.address, portValue: port.nodePort } },
            hostname: e.node,
            // The HTTP check goes to kube-proxy's (or the healthCheckNodePort's) port on the node.
            ...(port.healthCheck?.kind === "http" ? { healthCheckConfig: { portValue: port.healthCheck.port } } : {}),
          },
          // The gateway's own probe of the node's kube-proxy signal failed: Envoy combines this
          // with its active check, proxyless gRPC clients (which have none) skip the endpoint.
          ...(e.unhealthy !== undefined ? { healthStatus: core.HealthStatus.UNHEALTHY } : {}),
          loadBalancingWeight: { value: 1 },
        })),
      },
    ],
  };
}

/** An API listener `target` (the `xds:///<target>` of a gRPC client) loading RDS `routeConfigName`. */
export function grpcApiListener(target: string, routeConfigName = target): Listener.$Properties {
  return {
    name: target,
    apiListener: {
      apiListener: packAny(HttpConnectionManager, {
        statPrefix: statPrefix(target),
        rds: { configSource: ADS_SOURCE, routeConfigName },
        // The router must be the last HTTP filter; gRPC clients check it.
        httpFilters: [ROUTER_FILTER],
      }),
    },
  };
}

export function grpcRoute(target: string, cluster: string): RouteConfiguration.$Properties {
  return {
    name: target,
    virtualHosts: [{ name: target, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
  };
}

function encoded<P>(typeUrl: ResourceTypeUrl, name: string, type: MessageType<P>, message: P, wildcard: boolean): BuiltResource {
  return { typeUrl, name, any: encodeAsAny(typeUrl, type, message), wildcard };
}

/** One encoded resource carrying the content of `objects` (L7). */
export function encodedResource<P>(
  typeUrl: ResourceTypeUrl,
  name: string,
  type: MessageType<P>,
  message: P,
  objects: readonly L7ObjectRef[],
  wildcard = true,
): BuiltResource {
  return { typeUrl, name, any: encodeAsAny(typeUrl, type, message), wildcard, objects };
}

/** The router, which must be the last HTTP filter of a connection manager. */
export const ROUTER_FILTER: envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.$Properties = {
  name: ROUTER_FILTER_NAME,
  typedConfig: ROUTER_ANY,
};
