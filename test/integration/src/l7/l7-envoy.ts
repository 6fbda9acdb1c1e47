// A delta ADS client that subscribes the way Envoy does for L7: wildcard CDS and LDS,
// EDS for every cluster received, RDS for every route configuration an HTTP connection
// manager of a listener names, SDS for every secret a DownstreamTlsContext names. It ACKs
// what it accepts (or NACKs on demand), keeps the raw resources (for Envoy's own
// validation rules) and decodes them for assertions.
import {
  CLUSTER_TYPE,
  type DeltaDiscoveryResponse,
  ENDPOINT_TYPE,
  encodeAny,
  envoy,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  unpackAny,
} from "@sharedlb/envoy-api";
import type { EnvoyAny } from "@sharedlb/testing";
import { type AdsCall, AdsClient } from "../../../../services/xds-gateway/src/client/ads-client.js";

type Listener = envoy.config.listener.v3.Listener;
type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
type Cluster = envoy.config.cluster.v3.Cluster;
type Assignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
type Secret = envoy.extensions.transport_sockets.tls.v3.Secret;

const Hcm = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
const DownstreamTls = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;

export const L7_TYPES = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SECRET_TYPE] as const;
export type L7TypeUrl = (typeof L7_TYPES)[number];

interface Held {
  version: string;
  bytes: Uint8Array;
}

/** One response as received, for waiting on the next one of a kind. */
export interface L7Received {
  typeUrl: string;
  names: string[];
  removed: string[];
  nacked: boolean;
}

type DeltaCall = AdsCall<envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties, DeltaDiscoveryResponse>;

export class L7Envoy {
  readonly state = new Map<string, Map<string, Held>>();
  readonly log: L7Received[] = [];
  /** Return Envoy's error text to NACK a response instead of applying it. */
  nackIf: ((r: L7Received, decoded: () => unknown[]) => string | undefined) | undefined;
  private readonly client: AdsClient;
  private readonly call: DeltaCall;
  private readonly subscribed = new Map<string, Set<string>>();

  constructor(
    address: string,
    private readonly node: { id: string; cluster: string },
  ) {
    this.client = new AdsClient(address, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
    this.call = this.client.delta({ onResponse: (res) => this.onResponse(res) });
  }

  start(): this {
    this.call.send({ node: this.node, typeUrl: CLUSTER_TYPE });
    this.call.send({ typeUrl: LISTENER_TYPE });
    return this;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  names(typeUrl: L7TypeUrl): string[] {
    return [...(this.state.get(typeUrl)?.keys() ?? [])].sort();
  }

  listeners(): Map<string, Listener> {
    return this.decoded(LISTENER_TYPE, (b) => envoy.config.listener.v3.Listener.decode(b));
  }

  routes(): Map<string, RouteConfiguration> {
    return this.decoded(ROUTE_TYPE, (b) => envoy.config.route.v3.RouteConfiguration.decode(b));
  }

  clusters(): Map<string, Cluster> {
    return this.decoded(CLUSTER_TYPE, (b) => envoy.config.cluster.v3.Cluster.decode(b));
  }

  assignments(): Map<string, Assignment> {
    return this.decoded(ENDPOINT_TYPE, (b) => envoy.config.endpoint.v3.ClusterLoadAssignment.decode(b));
  }

  secrets(): Map<string, Secret> {
    return this.decoded(SECRET_TYPE, (b) => envoy.extensions.transport_sockets.tls.v3.Secret.decode(b));
  }

  /** Every resource held, as Anys, for validateEnvoyResources(). */
  anys(): EnvoyAny[] {
    const out: EnvoyAny[] = [];
    for (const [typeUrl, held] of this.state) for (const h of held.values()) out.push(encodeAny(typeUrl, h.bytes));
    return out;
  }

  /** `host:port` endpoints of a cluster's assignment, sorted. */
  endpointsOf(cluster: string): string[] {
    const cla = this.assignments().get(cluster);
    const out: string[] = [];
    for (const group of cla?.endpoints ?? []) {
      for (const e of group.lbEndpoints ?? []) {
        const sa = e.endpoint?.address?.socketAddress;
        if (sa) out.push(`${sa.address}:${sa.portValue}`);
      }
    }
    return out.sort();
  }

  private decoded<T>(typeUrl: string, decode: (b: Uint8Array) => T): Map<string, T> {
    const out = new Map<string, T>();
    for (const [name, h] of this.state.get(typeUrl) ?? []) out.set(name, decode(h.bytes));
    return out;
  }

  private onResponse(res: DeltaDiscoveryResponse): void {
    const typeUrl = res.typeUrl;
    const items = res.resources.map((x) => ({
      name: x.name ?? "",
      version: x.version ?? "",
      bytes: x.resource?.value ?? new Uint8Array(),
    }));
    const r: L7Received = { typeUrl, names: items.map((i) => i.name), removed: res.removedResources.map(String), nacked: false };
    const nack = this.nackIf?.(r, () => items.map((i) => decodeAny(typeUrl, i.bytes)));
    if (nack) {
      r.nacked = true;
      this.call.send({ typeUrl, responseNonce: res.nonce, errorDetail: { code: 3, message: nack } });
      this.log.push(r);
      return;
    }
    const held = this.state.get(typeUrl) ?? new Map<string, Held>();
    for (const i of items) held.set(i.name, { version: i.version, bytes: i.bytes });
    for (const n of r.removed) held.delete(n);
    this.state.set(typeUrl, held);
    this.call.send({ typeUrl, responseNonce: res.nonce });
    if (typeUrl === CLUSTER_TYPE) this.follow(ENDPOINT_TYPE, new Set(held.keys()));
    if (typeUrl === LISTENER_TYPE) {
      const rds = new Set<string>();
      const sds = new Set<string>();
      for (const l of this.listeners().values()) referencesOf(l, rds, sds);
      this.follow(ROUTE_TYPE, rds);
      this.follow(SECRET_TYPE, sds);
    }
    this.log.push(r);
  }

  /** Subscribes to what is newly referenced and unsubscribes from what no longer is, as Envoy does. */
  private follow(typeUrl: string, wanted: Set<string>): void {
    const have = this.subscribed.get(typeUrl) ?? new Set<string>();
    const subscribe = [...wanted].filter((n) => !have.has(n));
    const unsubscribe = [...have].filter((n) => !wanted.has(n));
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    this.subscribed.set(typeUrl, wanted);
    for (const n of unsubscribe) this.state.get(typeUrl)?.delete(n);
    this.call.send({ typeUrl, resourceNamesSubscribe: subscribe, resourceNamesUnsubscribe: unsubscribe });
  }
}

function decodeAny(typeUrl: string, bytes: Uint8Array): unknown {
  switch (typeUrl) {
    case LISTENER_TYPE:
      return envoy.config.listener.v3.Listener.decode(bytes);
    case ROUTE_TYPE:
      return envoy.config.route.v3.RouteConfiguration.decode(bytes);
    case CLUSTER_TYPE:
      return envoy.config.cluster.v3.Cluster.decode(bytes);
    case ENDPOINT_TYPE:
      return envoy.config.endpoint.v3.ClusterLoadAssignment.decode(bytes);
    default:
      return undefined;
  }
}

/** The RDS and SDS names a listener refers to. */
export function referencesOf(l: Listener, rds: Set<string>, sds: Set<string>): void {
  for (const chain of l.filterChains ?? []) {
    for (const f of chain.filters ?? []) {
      const hcm = unpackAny(Hcm, f.typedConfig);
      const name = hcm?.rds?.routeConfigName;
      if (name) rds.add(name);
    }
    const tls = unpackAny(DownstreamTls, chain.transportSocket?.typedConfig);
    for (const s of tls?.commonTlsContext?.tlsCertificateSdsSecretConfigs ?? []) if (s.name) sds.add(s.name);
  }
}

/** The HTTP connection managers of a listener's filter chains, with the chain's server names. */
export function httpChains(l: Listener): { serverNames: string[]; routeConfig: string; sdsSecrets: string[] }[] {
  return (l.filterChains ?? []).map((chain) => {
    const rds = new Set<string>();
    const sds = new Set<string>();
    referencesOf({ ...l, filterChains: [chain] } as Listener, rds, sds);
    return {
      serverNames: [...(chain.filterChainMatch?.serverNames ?? [])],
      routeConfig: [...rds][0] ?? "",
      sdsSecrets: [...sds],
    };
  });
}
