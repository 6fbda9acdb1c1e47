// Stage 2, listeners, clusters and secrets: L7SlotPlan → Envoy resources.

import type { SecretResource } from "@sharedlb/contracts";
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  envoy,
  HTTP_CONNECTION_MANAGER_FILTER_NAME,
  HTTP_PROTOCOL_OPTIONS_KEY,
  LISTENER_TYPE,
  packAny,
  ROUTE_TYPE,
  SECRET_TYPE,
  TCP_PROXY_FILTER_NAME,
  TLS_INSPECTOR_FILTER_NAME,
  TLS_TRANSPORT_SOCKET_NAME,
} from "@sharedlb/envoy-api";
import { encodeAsAny } from "../encode.js";
import {
  ADS_SOURCE,
  type BuiltResource,
  edsCluster,
  encodedResource,
  grpcApiListener,
  loadAssignment,
  ROUTER_FILTER,
} from "../envoy-resources.js";
import { statPrefix } from "../naming.js";
import {
  encodedGrpcHostRouteConfiguration,
  encodedRouteConfiguration,
  grpcHostRouteConfiguration,
  routeConfiguration,
} from "./envoy-routes.js";
import { chainRouteName, grpcHostRouteName, l7ListenerName } from "./naming.js";
import type { L7SlotCache } from "./slot-cache.js";
import type { ChainPlan, ClusterPlan, L7ObjectRef, L7SlotPlan, RoutePlan, SecretOpener, WeightedCluster } from "./types.js";

import Listener = envoy.config.listener.v3.Listener;
import FilterChain = envoy.config.listener.v3.FilterChain;
import Cluster = envoy.config.cluster.v3.Cluster;
import ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
import RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
import HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import TcpProxy = envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import TlsInspector = envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector;
import DownstreamTlsContext = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import Secret = envoy.extensions.transport_sockets.tls.v3.Secret;
import HttpProtocolOptions = envoy.extensions.upstreams.http.v3.HttpProtocolOptions;

const TLS_INSPECTOR = { name: TLS_INSPECTOR_FILTER_NAME, typedConfig: packAny(TlsInspector, {}) };
const H2_OPTIONS = packAny(HttpProtocolOptions, { explicitHttpConfig: { http2ProtocolOptions: {} } });

export interface L7BuildResult {
  readonly resources: BuiltResource[];
  readonly warnings: string[];
  /**
   * The objects at least one resource carries, sorted: `plan.objects` less those left
   * out here (a chain whose certificate did not open carries nothing to Envoy).
   */
  readonly objects: L7ObjectRef[];
}

/**
 * Every Envoy resource of one L7 slot. Pure: the private keys come from `openSecret`; a
 * certificate it cannot open leaves its chain out with a warning, nothing else.
 * `cache` (the slot's, kept by the caller between builds) keeps the encoded routes,
 * virtual hosts, clusters and assignments that did not change: the same bytes, encoded once.
 */
export function buildL7SlotResources(plan: L7SlotPlan, openSecret: SecretOpener, cache?: L7SlotCache): L7BuildResult {
  cache?.beginBuild();
  const result = build(plan, openSecret, cache);
  cache?.endBuild();
  return result;
}

function build(plan: L7SlotPlan, openSecret: SecretOpener, cache: L7SlotCache | undefined): L7BuildResult {
  const warnings = [...plan.warnings];
  const out: BuiltResource[] = [];
  const unsealed = new Set<string>();
  for (const s of plan.secrets) {
    const opened = openSafely(openSecret, s.secret);
    if (typeof opened === "string") {
      warnings.push(`certificate ${s.name}: its private key cannot be unsealed here (${opened}); its TLS chains are not served`);
      continue;
    }
    const pair = opened;
    unsealed.add(s.name);
    const secret: Secret.$Properties = {
      name: s.name,
      tlsCertificate: { certificateChain: { inlineString: pair.certificateChainPem }, privateKey: { inlineString: pair.privateKeyPem } },
    };
    out.push(encodedResource(SECRET_TYPE, s.name, Secret, secret, s.objects));
  }
  const name = l7ListenerName(plan.listener, plan.ip, plan.port);
  const address = { socketAddress: { address: plan.ip, portValue: plan.port } };
  if (plan.listener === "http") {
    const listener: Listener.$Properties = { name, address, freebind: { value: true }, filterChains: [{ filters: [hcm(name, name)] }] };
    // A Gateway without routes is still served (404 for everything), so it can be Programmed.
    if (plan.listenerOwners.length > 0) {
      out.push(encodedResource(LISTENER_TYPE, name, Listener, listener, plan.listenerOwners));
      out.push(routeResource(name, plan.virtualHosts, false, plan.objects, cache));
    }
  } else {
    const chains = opened(plan, unsealed);
    // The listener carries the chains' hostnames and certificates (their owners) and the
    // passthrough routes; a chain left out carries nothing.
    const owners = new Set(plan.listenerOwners.map(refKey));
    const listenerObjects = chains.flatMap((c) => (c.mode === "Passthrough" ? c.objects : c.objects.filter((o) => owners.has(refKey(o)))));
    const filterChains = chains.map((c) => filterChain(plan, c, unsealed));
    if (filterChains.length > 0) {
      const listener: Listener.$Properties = { name, address, freebind: { value: true }, listenerFilters: [TLS_INSPECTOR], filterChains };
      out.push(encodedResource(LISTENER_TYPE, name, Listener, listener, dedupe(listenerObjects)));
    }
    for (const c of chains) {
      if (c.mode !== "Terminate") continue;
      const rds = chainRouteName(plan.ip, plan.port, c.hostname);
      out.push(routeResource(rds, c.virtualHosts, c.hostname !== "*", c.objects, cache));
    }
  }
  // Only clusters a served route or chain sends to: a chain left out takes its clusters along.
  const used = usedClusters(plan, opened(plan, unsealed));
  for (const c of plan.clusters) {
    if (!used.has(c.name)) continue;
    if (!cache) {
      out.push(encodedResource(CLUSTER_TYPE, c.name, Cluster, l7Cluster(c), c.objects));
      out.push(encodedResource(ENDPOINT_TYPE, c.name, ClusterLoadAssignment, l7LoadAssignment(c), c.objects));
      continue;
    }
    const { cluster, assignment } = cache.cluster(
      c,
      () => ({
        cluster: encodeAsAny(CLUSTER_TYPE, Cluster, l7Cluster(c)),
        assignment: encodeAsAny(ENDPOINT_TYPE, ClusterLoadAssignment, l7LoadAssignment(c)),
      }),
      (bytes) => ({
        cluster: { typeUrl: CLUSTER_TYPE, name: c.name, any: bytes.cluster, wildcard: true, objects: c.objects },
        assignment: { typeUrl: ENDPOINT_TYPE, name: c.name, any: bytes.assignment, wildcard: true, objects: c.objects },
      }),
    );
    out.push(cluster, assignment);
  }
  for (const a of plan.apiListeners) {
    const rds = grpcHostRouteName(a.hostname);
    out.push(encodedResource(LISTENER_TYPE, a.hostname, Listener, grpcApiListener(a.hostname, rds), a.objects, false));
    out.push(
      cache
        ? {
            typeUrl: ROUTE_TYPE,
            name: rds,
            any: encodedGrpcHostRouteConfiguration(rds, a.routes, cache),
            wildcard: true,
            objects: a.objects,
          }
        : encodedResource(ROUTE_TYPE, rds, RouteConfiguration, grpcHostRouteConfiguration(rds, a.routes), a.objects),
    );
  }
  // Made when asked for (the golden files): the gateway reads every resource's own objects.
  let objects: L7ObjectRef[] | undefined;
  return {
    resources: out,
    warnings,
    get objects() {
      objects ??= dedupe(out.flatMap((r) => r.objects ?? []));
      return objects;
    },
  };
}

/** A RouteConfiguration: spliced from the cache's encoded pieces, or encoded whole without one. */
function routeResource(
  name: string,
  vhosts: L7SlotPlan["virtualHosts"],
  misdirected: boolean,
  objects: readonly L7ObjectRef[],
  cache: L7SlotCache | undefined,
): BuiltResource {
  if (!cache) return encodedResource(ROUTE_TYPE, name, RouteConfiguration, routeConfiguration(name, vhosts, misdirected), objects);
  return { typeUrl: ROUTE_TYPE, name, any: encodedRouteConfiguration(name, vhosts, misdirected, cache), wildcard: true, objects };
}

/** The chains that can be served: passthrough ones, and those with a certificate that opened. */
function opened(plan: L7SlotPlan, unsealed: ReadonlySet<string>): ChainPlan[] {
  return plan.chains.filter((c) => c.mode === "Passthrough" || c.secrets.some((s) => unsealed.has(s)));
}

function usedClusters(plan: L7SlotPlan, chains: readonly ChainPlan[]): Set<string> {
  const used = new Set<string>();
  const addRoutes = (routes: readonly RoutePlan[]) => {
    for (const r of routes) {
      for (const b of r.backends) used.add(b.cluster);
      for (const m of r.mirrors) used.add(m.cluster);
    }
  };
  if (plan.listener === "http") for (const v of plan.virtualHosts) addRoutes(v.routes);
  for (const c of chains) {
    if (c.mode === "Passthrough") for (const b of c.backends) used.add(b.cluster);
    else for (const v of c.virtualHosts) addRoutes(v.routes);
  }
  for (const a of plan.apiListeners) addRoutes(a.routes);
  return used;
}

/** The pair, or why there is none: an opener that throws must not stop the other chains. */
function openSafely(openSecret: SecretOpener, secret: SecretResource): { certificateChainPem: string; privateKeyPem: string } | string {
  try {
    return openSecret(secret) ?? "no key opens it";
  } catch (err) {
    return err instanceof Error ? err.message : "the opener failed";
  }
}

function hcm(statName: string, routeConfigName: string) {
  return {
    name: HTTP_CONNECTION_MANAGER_FILTER_NAME,
    typedConfig: packAny(HttpConnectionManager, {
      statPrefix: statPrefix(statName),
      rds: { configSource: ADS_SOURCE, routeConfigName },
      // `Host: example.com:8080` must find the virtual host of example.com.
      stripAnyHostPort: true,
      useRemoteAddress: { value: true },
      httpFilters: [ROUTER_FILTER],
    }),
  };
}

function filterChain(plan: L7SlotPlan, c: ChainPlan, opened: ReadonlySet<string>): FilterChain.$Properties {
  // `*` (an exclusive listener without a hostname) is the default chain: no SNI match.
  const match = c.hostname === "*" ? {} : { filterChainMatch: { serverNames: [c.hostname] } };
  if (c.mode === "Passthrough") {
    const cluster = statPrefix(`${l7ListenerName("https", plan.ip, plan.port)}/${c.hostname}`);
    return {
      ...match,
      filters: [
        { name: TCP_PROXY_FILTER_NAME, typedConfig: packAny(TcpProxy, { statPrefix: cluster, ...tcpClusterSpecifier(c.backends) }) },
      ],
    };
  }
  const rds = chainRouteName(plan.ip, plan.port, c.hostname);
  const tls: DownstreamTlsContext.$Properties = {
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: c.secrets.filter((s) => opened.has(s)).map((s) => ({ name: s, sdsConfig: ADS_SOURCE })),
      alpnProtocols: ["h2", "http/1.1"],
    },
  };
  return {
    ...match,
    transportSocket: { name: TLS_TRANSPORT_SOCKET_NAME, typedConfig: packAny(DownstreamTlsContext, tls) },
    filters: [hcm(rds, rds)],
  };
}

function tcpClusterSpecifier(backends: readonly WeightedCluster[]): TcpProxy.$Properties {
  const [only] = backends;
  if (backends.length === 1 && only) return { cluster: only.cluster };
  return { weightedClusters: { clusters: backends.map((b) => ({ name: b.cluster, weight: b.weight })) } };
}

function l7Cluster(c: ClusterPlan): Cluster.$Properties {
  const cluster = edsCluster({ clusterName: c.name, clientIpAffinity: false, healthCheck: { kind: "tcp" }, proxyProtocol: undefined });
  if (c.protocol === "h2") cluster.typedExtensionProtocolOptions = { [HTTP_PROTOCOL_OPTIONS_KEY]: H2_OPTIONS };
  return cluster;
}

function l7LoadAssignment(c: ClusterPlan): ClusterLoadAssignment.$Properties {
  return loadAssignment({ clusterName: c.name, nodePort: c.nodePort, healthCheck: { kind: "tcp" } }, c.endpoints);
}

function refKey(r: L7ObjectRef): string {
  return `${r.kind}/${r.cluster}/${r.namespace}/${r.name}`;
}

function dedupe(refs: readonly L7ObjectRef[]): L7ObjectRef[] {
  const seen = new Map<string, L7ObjectRef>();
  for (const r of refs) seen.set(refKey(r), r);
  // Sorted by key, each key made once (not twice per comparison).
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}
