// Checks for the protoc-gen-validate rules (and the cross-resource references)
// that Envoy would NACK in what sharedlb serves. Not a general PGV engine:
// only the messages and fields we emit are covered, so a resource that passes
// here can still be rejected for something we never set.
import { isIP } from "node:net";
import { envoy, type google, xds } from "../generated/envoy.js";
import { type MessageType, typeNameOf } from "./any.js";
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  HTTP_CONNECTION_MANAGER_TYPE,
  LISTENER_TYPE,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  RAW_BUFFER_TYPE,
  ROUTE_TYPE,
  ROUTER_TYPE,
  SECRET_TYPE,
  TCP_PROXY_TYPE,
  UDP_PROXY_TYPE,
} from "./type-urls.js";

import core = envoy.config.core.v3;
import listener = envoy.config.listener.v3;
import cluster = envoy.config.cluster.v3;
import endpoint = envoy.config.endpoint.v3;
import route = envoy.config.route.v3;
import tls = envoy.extensions.transport_sockets.tls.v3;
import TcpProxy = envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import UdpProxyConfig = envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig;
import UdpRoute = envoy.extensions.filters.udp.udp_proxy.v3.Route;
import HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import ProxyProtocolUpstreamTransport = envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport;
import Matcher = xds.type.matcher.v3.Matcher;

/**
 * Names that other resources may reference. A set left undefined disables
 * the existence check for that kind of reference (e.g. when validating one
 * resource in isolation).
 */
export interface KnownNames {
  readonly clusters?: ReadonlySet<string>;
  readonly routeConfigs?: ReadonlySet<string>;
}

export interface ResourceByTypeUrl {
  [LISTENER_TYPE]: listener.Listener.$Properties;
  [CLUSTER_TYPE]: cluster.Cluster.$Properties;
  [ENDPOINT_TYPE]: endpoint.ClusterLoadAssignment.$Properties;
  [ROUTE_TYPE]: route.RouteConfiguration.$Properties;
  /** No hand-written checks: tools/envoy-validate runs Envoy's own rules on Secrets. */
  [SECRET_TYPE]: tls.Secret.$Properties;
}

type Nullable<T> = T | null | undefined;

/** Collects errors with a proto-field path prefix, like Envoy's NACK details. */
class Report {
  readonly errors: string[] = [];
  constructor(private readonly known: KnownNames) {}

  add(path: string, message: string): void {
    this.errors.push(path ? `${path}: ${message}` : message);
  }

  nonEmpty(path: string, value: Nullable<string>): boolean {
    if (value) return true;
    this.add(path, "must be non-empty");
    return false;
  }

  cluster(path: string, name: Nullable<string>): void {
    if (!this.nonEmpty(path, name)) return;
    if (this.known.clusters && !this.known.clusters.has(name as string)) {
      this.add(path, `unknown cluster "${name}"`);
    }
  }

  routeConfig(path: string, name: Nullable<string>): void {
    if (!this.nonEmpty(path, name)) return;
    if (this.known.routeConfigs && !this.known.routeConfigs.has(name as string)) {
      this.add(path, `unknown route configuration "${name}"`);
    }
  }

  /**
   * Decodes a typed_config Any as `type`; reports a missing Any, a type
   * other than `expectedTypeUrl`, or bytes that do not decode.
   */
  unpack<Props, Decoded extends Props>(
    path: string,
    any: Nullable<google.protobuf.Any.$Properties>,
    type: MessageType<Props, Decoded>,
  ): Decoded | undefined {
    if (!any) {
      this.add(path, "is required");
      return undefined;
    }
    if (typeNameOf(any.type_url ?? "") !== typeNameOf(type.getTypeUrl())) {
      this.add(path, `expected ${type.getTypeUrl()}, got "${any.type_url ?? ""}"`);
      return undefined;
    }
    try {
      return type.decode(any.value ?? new Uint8Array(0));
    } catch (err) {
      this.add(path, `does not decode: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }
}

/**
 * Validates one decoded (or about-to-be-encoded) xDS resource and returns
 * human-readable errors; an empty array means valid.
 */
export function validateResource<T extends keyof ResourceByTypeUrl>(
  typeUrl: T,
  resource: ResourceByTypeUrl[T],
  known?: KnownNames,
): string[];
export function validateResource(typeUrl: string, resource: object, known?: KnownNames): string[];
export function validateResource(typeUrl: string, resource: object, known: KnownNames = {}): string[] {
  const r = new Report(known);
  switch (typeUrl) {
    case LISTENER_TYPE:
      checkListener(r, resource as listener.Listener.$Properties);
      break;
    case CLUSTER_TYPE:
      checkCluster(r, resource as cluster.Cluster.$Properties);
      break;
    case ENDPOINT_TYPE:
      checkClusterLoadAssignment(r, resource as endpoint.ClusterLoadAssignment.$Properties);
      break;
    case ROUTE_TYPE:
      checkRouteConfiguration(r, "", resource as route.RouteConfiguration.$Properties);
      break;
    case SECRET_TYPE:
      break;
    default:
      r.add("", `unsupported resource type "${typeUrl}"`);
  }
  return r.errors;
}

const decoders: Record<keyof ResourceByTypeUrl, MessageType<object>> = {
  [LISTENER_TYPE]: listener.Listener,
  [CLUSTER_TYPE]: cluster.Cluster,
  [ENDPOINT_TYPE]: endpoint.ClusterLoadAssignment,
  [ROUTE_TYPE]: route.RouteConfiguration,
  [SECRET_TYPE]: tls.Secret,
};

/**
 * Validates every resource of a SotW DiscoveryResponse: each Any must carry
 * the response's type URL and decode, and each resource must pass
 * `validateResource`. Errors are prefixed with the resource index.
 */
export function validateDiscoveryResponse(
  response: envoy.service.discovery.v3.DiscoveryResponse.$Properties,
  known?: KnownNames,
): string[] {
  const errors: string[] = [];
  const typeUrl = response.typeUrl ?? "";
  const decoder = (decoders as Record<string, MessageType<object> | undefined>)[typeUrl];
  if (!decoder) return [`type_url: unsupported resource type "${typeUrl}"`];
  (response.resources ?? []).forEach((any, i) => {
    if (any.type_url !== typeUrl) {
      errors.push(`resources[${i}]: type_url "${any.type_url ?? ""}" differs from response type_url`);
      return;
    }
    let decoded: object;
    try {
      decoded = decoder.decode(any.value ?? new Uint8Array(0));
    } catch (err) {
      errors.push(`resources[${i}]: does not decode: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    for (const e of validateResource(typeUrl, decoded, known)) errors.push(`resources[${i}]: ${e}`);
  });
  return errors;
}

// ---------------------------------------------------------------------------
// Shared pieces

function durationPositive(d: Nullable<google.protobuf.Duration.$Properties>): boolean {
  return !!d && ((d.seconds ?? 0) > 0 || ((d.seconds ?? 0) === 0 && (d.nanos ?? 0) > 0));
}

/**
 * Only socket addresses are used by sharedlb. `ipOnly` is for places where
 * Envoy does not resolve names (listeners, EDS endpoints); `portRequired`
 * rejects port 0, which Envoy accepts for listeners (ephemeral bind) but is
 * never what a load balancer config means.
 */
function checkAddress(
  r: Report,
  path: string,
  address: Nullable<core.Address.$Properties>,
  opts: { ipOnly: boolean },
): void {
  if (!address) {
    r.add(path, "is required");
    return;
  }
  const sa = address.socketAddress;
  if (!sa) {
    r.add(path, "socket_address is required (pipe and internal addresses are not supported)");
    return;
  }
  if (r.nonEmpty(`${path}.socket_address.address`, sa.address) && opts.ipOnly && isIP(sa.address ?? "") === 0) {
    r.add(`${path}.socket_address.address`, `"${sa.address}" is not an IP address`);
  }
  if (sa.namedPort) {
    r.add(`${path}.socket_address.named_port`, "is not supported, use port_value");
  } else {
    const port = sa.portValue;
    if (port === null || port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      r.add(`${path}.socket_address.port_value`, `must be in 1..65535, got ${port ?? "none"}`);
    }
  }
}

function checkConfigSourceIsAds(r: Report, path: string, source: Nullable<core.ConfigSource.$Properties>): void {
  if (!source) {
    r.add(path, "is required");
    return;
  }
  // sharedlb serves everything over one ADS stream; any other source would
  // make Envoy open a connection we do not serve.
  if (!source.ads) r.add(path, "must use ads");
  if (source.resourceApiVersion !== undefined && source.resourceApiVersion !== null &&
      source.resourceApiVersion !== core.ApiVersion.V3 && source.resourceApiVersion !== core.ApiVersion.AUTO) {
    r.add(`${path}.resource_api_version`, "must be V3");
  }
}

function checkTransportSocket(r: Report, path: string, ts: Nullable<core.TransportSocket.$Properties>): void {
  if (!ts) return;
  r.nonEmpty(`${path}.name`, ts.name);
  const typeUrl = ts.typedConfig?.type_url ?? "";
  const cfgPath = `${path}.typed_config`;
  if (typeNameOf(typeUrl) === typeNameOf(RAW_BUFFER_TYPE)) return;
  if (typeNameOf(typeUrl) === typeNameOf(PROXY_PROTOCOL_UPSTREAM_TYPE)) {
    const pp = r.unpack(cfgPath, ts.typedConfig, ProxyProtocolUpstreamTransport);
    if (!pp) return;
    if (!pp.transportSocket) {
      r.add(`${cfgPath}.transport_socket`, "is required");
    } else {
      checkTransportSocket(r, `${cfgPath}.transport_socket`, pp.transportSocket);
    }
    return;
  }
  r.add(cfgPath, `unsupported transport socket "${typeUrl}"`);
}

// ---------------------------------------------------------------------------
// Listener

function checkListener(r: Report, l: listener.Listener.$Properties): void {
  const name = l.name ?? "";
  r.nonEmpty("name", name);
  const p = `listener "${name}"`;
  if (l.apiListener) {
    checkHcm(r, `${p}.api_listener.api_listener`, l.apiListener.apiListener);
    return;
  }
  checkAddress(r, `${p}.address`, l.address, { ipOnly: true });
  for (const [i, a] of (l.additionalAddresses ?? []).entries()) {
    checkAddress(r, `${p}.additional_addresses[${i}].address`, a.address, { ipOnly: true });
  }
  const isUdp = l.address?.socketAddress?.protocol === core.SocketAddress.Protocol.UDP;
  (l.listenerFilters ?? []).forEach((f, i) => {
    const fp = `${p}.listener_filters[${i}]`;
    r.nonEmpty(`${fp}.name`, f.name);
    // Other listener filters (proxy_protocol, tls_inspector, ...) are not
    // modelled here; only the UDP proxy config is checked.
    if (typeNameOf(f.typedConfig?.type_url ?? "") === typeNameOf(UDP_PROXY_TYPE)) {
      if (!isUdp) r.add(fp, "udp_proxy on a TCP listener");
      const udp = r.unpack(`${fp}.typed_config`, f.typedConfig, UdpProxyConfig);
      if (udp) checkUdpProxy(r, `${fp}.typed_config`, udp);
    }
  });
  if (isUdp) {
    const hasUdpProxy = (l.listenerFilters ?? []).some(
      (f) => typeNameOf(f.typedConfig?.type_url ?? "") === typeNameOf(UDP_PROXY_TYPE),
    );
    if (!hasUdpProxy) r.add(`${p}.listener_filters`, "a UDP listener needs a udp_proxy listener filter");
    return;
  }
  const chains = l.filterChains ?? [];
  if (chains.length === 0 && !l.defaultFilterChain) {
    r.add(`${p}.filter_chains`, "a TCP listener needs at least one filter chain");
  }
  for (const [i, c] of chains.entries()) checkFilterChain(r, `${p}.filter_chains[${i}]`, c);
  if (l.defaultFilterChain) checkFilterChain(r, `${p}.default_filter_chain`, l.defaultFilterChain);
}

function checkFilterChain(r: Report, path: string, chain: listener.FilterChain.$Properties): void {
  const filters = chain.filters ?? [];
  if (filters.length === 0) r.add(`${path}.filters`, "must not be empty");
  filters.forEach((f, i) => {
    const fp = `${path}.filters[${i}]`;
    r.nonEmpty(`${fp}.name`, f.name);
    const typeName = typeNameOf(f.typedConfig?.type_url ?? "");
    const terminal = typeName === typeNameOf(TCP_PROXY_TYPE) || typeName === typeNameOf(HTTP_CONNECTION_MANAGER_TYPE);
    if (terminal && i !== filters.length - 1) r.add(fp, "terminal filter must be last in the chain");
    if (!terminal && i === filters.length - 1) r.add(fp, "last filter must be tcp_proxy or http_connection_manager");
    if (typeName === typeNameOf(TCP_PROXY_TYPE)) {
      const tcp = r.unpack(`${fp}.typed_config`, f.typedConfig, TcpProxy);
      if (tcp) checkTcpProxy(r, `${fp}.typed_config`, tcp);
    } else if (typeName === typeNameOf(HTTP_CONNECTION_MANAGER_TYPE)) {
      const hcm = r.unpack(`${fp}.typed_config`, f.typedConfig, HttpConnectionManager);
      if (hcm) checkHcm(r, `${fp}.typed_config`, hcm);
    } else {
      r.add(`${fp}.typed_config`, `unsupported network filter "${f.typedConfig?.type_url ?? ""}"`);
    }
  });
  checkTransportSocket(r, `${path}.transport_socket`, chain.transportSocket);
}

function checkTcpProxy(r: Report, path: string, tcp: TcpProxy.$Properties): void {
  r.nonEmpty(`${path}.stat_prefix`, tcp.statPrefix);
  if (tcp.weightedClusters) {
    const clusters = tcp.weightedClusters.clusters ?? [];
    if (clusters.length === 0) r.add(`${path}.weighted_clusters.clusters`, "must not be empty");
    clusters.forEach((c, i) => {
      r.cluster(`${path}.weighted_clusters.clusters[${i}].name`, c.name);
      if (!c.weight) r.add(`${path}.weighted_clusters.clusters[${i}].weight`, "must be >= 1");
    });
  } else {
    r.cluster(`${path}.cluster`, tcp.cluster);
  }
}

function checkUdpProxy(r: Report, path: string, udp: UdpProxyConfig.$Properties): void {
  r.nonEmpty(`${path}.stat_prefix`, udp.statPrefix);
  if (udp.matcher) {
    checkUdpMatcher(r, `${path}.matcher`, udp.matcher);
  } else if (udp.cluster) {
    r.cluster(`${path}.cluster`, udp.cluster);
  } else {
    r.add(path, "one of matcher or cluster is required");
  }
}

function checkUdpMatcher(r: Report, path: string, m: Matcher.$Properties): void {
  if (!m.matcherList && !m.matcherTree && !m.onNoMatch) {
    r.add(path, "needs matcher_list, matcher_tree or on_no_match");
  }
  for (const [i, fm] of (m.matcherList?.matchers ?? []).entries()) {
    checkUdpOnMatch(r, `${path}.matcher_list.matchers[${i}].on_match`, fm.onMatch);
  }
  const tree = m.matcherTree;
  for (const [kind, mm] of [
    ["exact_match_map", tree?.exactMatchMap],
    ["prefix_match_map", tree?.prefixMatchMap],
  ] as const) {
    for (const [key, onMatch] of Object.entries(mm?.map ?? {})) {
      checkUdpOnMatch(r, `${path}.matcher_tree.${kind}["${key}"]`, onMatch);
    }
  }
  if (m.onNoMatch) checkUdpOnMatch(r, `${path}.on_no_match`, m.onNoMatch);
}

function checkUdpOnMatch(r: Report, path: string, onMatch: Nullable<Matcher.OnMatch.$Properties>): void {
  if (!onMatch) {
    r.add(path, "is required");
  } else if (onMatch.matcher) {
    checkUdpMatcher(r, `${path}.matcher`, onMatch.matcher);
  } else if (onMatch.action) {
    r.nonEmpty(`${path}.action.name`, onMatch.action.name);
    const udpRoute = r.unpack(`${path}.action.typed_config`, onMatch.action.typedConfig, UdpRoute);
    if (udpRoute) r.cluster(`${path}.action.typed_config.cluster`, udpRoute.cluster);
  } else {
    r.add(path, "needs matcher or action");
  }
}

function checkHcm(
  r: Report,
  path: string,
  hcmOrAny: Nullable<HttpConnectionManager.$Properties | google.protobuf.Any.$Properties>,
): void {
  // api_listener carries the HCM as an Any; filter chains pass it decoded.
  let hcm: HttpConnectionManager.$Properties | undefined;
  if (hcmOrAny && "type_url" in hcmOrAny) {
    hcm = r.unpack(path, hcmOrAny, HttpConnectionManager);
  } else if (hcmOrAny) {
    hcm = hcmOrAny as HttpConnectionManager.$Properties;
  } else {
    r.add(path, "is required");
  }
  if (!hcm) return;
  r.nonEmpty(`${path}.stat_prefix`, hcm.statPrefix);
  if (hcm.rds) {
    checkConfigSourceIsAds(r, `${path}.rds.config_source`, hcm.rds.configSource);
    r.routeConfig(`${path}.rds.route_config_name`, hcm.rds.routeConfigName);
  } else if (hcm.routeConfig) {
    checkRouteConfiguration(r, `${path}.route_config`, hcm.routeConfig);
  } else {
    r.add(path, "one of rds or route_config is required");
  }
  const filters = hcm.httpFilters ?? [];
  for (const [i, f] of filters.entries()) r.nonEmpty(`${path}.http_filters[${i}].name`, f.name);
  const last = filters[filters.length - 1];
  if (!last || typeNameOf(last.typedConfig?.type_url ?? "") !== typeNameOf(ROUTER_TYPE)) {
    r.add(`${path}.http_filters`, "must end with the router filter");
  }
}

// ---------------------------------------------------------------------------
// Route configuration

function checkRouteConfiguration(r: Report, path: string, rc: route.RouteConfiguration.$Properties): void {
  const p = path || `route_configuration "${rc.name ?? ""}"`;
  if (!path) r.nonEmpty("name", rc.name);
  (rc.virtualHosts ?? []).forEach((vh, i) => {
    const vp = `${p}.virtual_hosts[${i}]`;
    r.nonEmpty(`${vp}.name`, vh.name);
    const domains = vh.domains ?? [];
    if (domains.length === 0) r.add(`${vp}.domains`, "must not be empty");
    for (const [j, d] of domains.entries()) r.nonEmpty(`${vp}.domains[${j}]`, d);
    (vh.routes ?? []).forEach((rt, j) => {
      const rp = `${vp}.routes[${j}]`;
      if (!rt.match) r.add(`${rp}.match`, "is required");
      const action = rt.route;
      if (!action) {
        // redirect / direct_response need no cluster.
        if (!rt.redirect && !rt.directResponse) r.add(rp, "needs an action (route, redirect or direct_response)");
        return;
      }
      if (action.weightedClusters) {
        const clusters = action.weightedClusters.clusters ?? [];
        if (clusters.length === 0) r.add(`${rp}.route.weighted_clusters.clusters`, "must not be empty");
        for (const [k, c] of clusters.entries()) r.cluster(`${rp}.route.weighted_clusters.clusters[${k}].name`, c.name);
      } else if (action.clusterHeader) {
        // Resolved per request; nothing to check statically.
      } else {
        r.cluster(`${rp}.route.cluster`, action.cluster);
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Cluster

function checkCluster(r: Report, c: cluster.Cluster.$Properties): void {
  const name = c.name ?? "";
  r.nonEmpty("name", name);
  const p = `cluster "${name}"`;
  if (c.connectTimeout && !durationPositive(c.connectTimeout)) {
    r.add(`${p}.connect_timeout`, "must be > 0");
  }
  const type = c.type ?? cluster.Cluster.DiscoveryType.STATIC;
  if (c.clusterType) {
    r.add(`${p}.cluster_type`, "custom cluster types are not supported");
  } else if (type === cluster.Cluster.DiscoveryType.EDS) {
    if (!c.edsClusterConfig) {
      r.add(`${p}.eds_cluster_config`, "is required for EDS clusters");
    } else {
      checkConfigSourceIsAds(r, `${p}.eds_cluster_config.eds_config`, c.edsClusterConfig.edsConfig);
    }
    if (c.loadAssignment) r.add(`${p}.load_assignment`, "must be unset for EDS clusters (served via EDS)");
  } else {
    if (!c.loadAssignment) {
      r.add(`${p}.load_assignment`, "is required for non-EDS clusters");
    } else {
      const ipOnly = type === cluster.Cluster.DiscoveryType.STATIC;
      checkEndpoints(r, `${p}.load_assignment`, c.loadAssignment, ipOnly);
    }
  }
  for (const [i, hc] of (c.healthChecks ?? []).entries()) checkHealthCheck(r, `${p}.health_checks[${i}]`, hc);
  checkTransportSocket(r, `${p}.transport_socket`, c.transportSocket);
}

function checkHealthCheck(r: Report, path: string, hc: core.HealthCheck.$Properties): void {
  if (!durationPositive(hc.timeout)) r.add(`${path}.timeout`, "is required and must be > 0");
  if (!durationPositive(hc.interval)) r.add(`${path}.interval`, "is required and must be > 0");
  if (!hc.unhealthyThreshold) r.add(`${path}.unhealthy_threshold`, "is required");
  if (!hc.healthyThreshold) r.add(`${path}.healthy_threshold`, "is required");
  if (!hc.tcpHealthCheck && !hc.httpHealthCheck && !hc.grpcHealthCheck && !hc.customHealthCheck) {
    r.add(path, "one of tcp/http/grpc/custom health check is required");
  }
  if (hc.httpHealthCheck) {
    r.nonEmpty(`${path}.http_health_check.path`, hc.httpHealthCheck.path);
  }
}

// ---------------------------------------------------------------------------
// ClusterLoadAssignment

function checkClusterLoadAssignment(r: Report, cla: endpoint.ClusterLoadAssignment.$Properties): void {
  r.cluster("cluster_name", cla.clusterName);
  // EDS only carries addresses Envoy connects to directly: no DNS.
  checkEndpoints(r, `cluster_load_assignment "${cla.clusterName ?? ""}"`, cla, true);
}

function checkEndpoints(
  r: Report,
  path: string,
  cla: endpoint.ClusterLoadAssignment.$Properties,
  ipOnly: boolean,
): void {
  (cla.endpoints ?? []).forEach((lle, i) => {
    const lp = `${path}.endpoints[${i}]`;
    if (lle.loadBalancingWeight && !lle.loadBalancingWeight.value) {
      r.add(`${lp}.load_balancing_weight`, "must be >= 1");
    }
    if ((lle.priority ?? 0) > 128) r.add(`${lp}.priority`, "must be <= 128");
    (lle.lbEndpoints ?? []).forEach((lb, j) => {
      const ep = `${lp}.lb_endpoints[${j}]`;
      if (!lb.endpoint) {
        r.add(`${ep}.endpoint`, "is required (endpoint_name is not supported)");
        return;
      }
      checkAddress(r, `${ep}.endpoint.address`, lb.endpoint.address, { ipOnly });
      if (lb.loadBalancingWeight && !lb.loadBalancingWeight.value) {
        r.add(`${ep}.load_balancing_weight`, "must be >= 1");
      }
    });
  });
}
