import {
  CLUSTER_TYPE,
  type DeltaDiscoveryResponse,
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  ENDPOINT_TYPE,
  envoy,
  HTTP_CONNECTION_MANAGER_TYPE,
  LISTENER_TYPE,
  type ResourceTypeUrl,
  ROUTE_TYPE,
  SECRET_TYPE,
  unpackAny,
} from "@sharedlb/envoy-api";
import { type AdsCall, AdsClient } from "../client/ads-client.js";
import { decodeAs, type Decoded, type NodeIdentity } from "./fake-envoy.js";

const { HttpConnectionManager } = envoy.extensions.filters.network.http_connection_manager.v3;
const { DownstreamTlsContext } = envoy.extensions.transport_sockets.tls.v3;

/** One resource as held: its Any (for Envoy's validation) and its bytes. */
export interface HeldAny {
  readonly type_url: string;
  readonly value: Uint8Array;
}

type DeltaCall = AdsCall<envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties, DeltaDiscoveryResponse>;

/**
 * A delta ADS client that follows references the way Envoy does with L7 listeners:
 * wildcard LDS and CDS, EDS by the clusters received, RDS by the route configurations
 * the listeners' HTTP connection managers name, SDS by the certificates their TLS
 * contexts name. ACKs what it accepts, NACKs on demand.
 */
export class L7Envoy {
  readonly held = new Map<ResourceTypeUrl, Map<string, HeldAny>>();
  /** Return a message to NACK a response instead of applying it. */
  nackIf: ((typeUrl: ResourceTypeUrl, names: readonly string[]) => string | undefined) | undefined;
  private readonly client: AdsClient;
  private readonly call: DeltaCall;
  private readonly subscribed = new Map<ResourceTypeUrl, Set<string>>();

  constructor(address: string, node: NodeIdentity) {
    this.client = new AdsClient(address, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
    this.call = this.client.delta({ onResponse: (res) => this.onResponse(res) });
    this.call.send({ node, typeUrl: CLUSTER_TYPE });
    this.call.send({ typeUrl: LISTENER_TYPE });
  }

  resources<T extends ResourceTypeUrl>(typeUrl: T): Map<string, Decoded[T]> {
    const out = new Map<string, Decoded[T]>();
    for (const [name, h] of this.held.get(typeUrl) ?? []) out.set(name, decodeAs(typeUrl, h.value));
    return out;
  }

  names(typeUrl: ResourceTypeUrl): string[] {
    return [...(this.held.get(typeUrl)?.keys() ?? [])].sort();
  }

  /** Every resource held, as Anys. */
  anys(): HeldAny[] {
    return [...this.held.values()].flatMap((m) => [...m.values()]);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private onResponse(res: DeltaDiscoveryResponse): void {
    const typeUrl = res.typeUrl as ResourceTypeUrl;
    const names = res.resources.map((r) => r.name ?? "");
    const nack = this.nackIf?.(typeUrl, names);
    if (nack) {
      this.call.send({ typeUrl, responseNonce: res.nonce, errorDetail: { code: 3, message: nack } });
      return;
    }
    let held = this.held.get(typeUrl);
    if (!held) {
      held = new Map();
      this.held.set(typeUrl, held);
    }
    for (const r of res.resources) held.set(r.name ?? "", { type_url: typeUrl, value: r.resource?.value ?? new Uint8Array() });
    for (const n of res.removedResources) held.delete(String(n));
    this.call.send({ typeUrl, responseNonce: res.nonce });
    if (typeUrl === CLUSTER_TYPE) this.follow(ENDPOINT_TYPE, this.names(CLUSTER_TYPE));
    if (typeUrl === LISTENER_TYPE) {
      const listeners = [...this.resources(LISTENER_TYPE).values()];
      this.follow(ROUTE_TYPE, listeners.flatMap(routeNames));
      this.follow(SECRET_TYPE, listeners.flatMap(secretNames));
    }
  }

  /** Subscribes what is referenced now and unsubscribes what no longer is. */
  private follow(typeUrl: ResourceTypeUrl, wanted: readonly string[]): void {
    const had = this.subscribed.get(typeUrl) ?? new Set<string>();
    const next = new Set(wanted);
    const subscribe = [...next].filter((n) => !had.has(n));
    const unsubscribe = [...had].filter((n) => !next.has(n));
    this.subscribed.set(typeUrl, next);
    for (const n of unsubscribe) this.held.get(typeUrl)?.delete(n);
    if (subscribe.length > 0 || unsubscribe.length > 0) {
      this.call.send({ typeUrl, resourceNamesSubscribe: subscribe, resourceNamesUnsubscribe: unsubscribe });
    }
  }
}

function routeNames(l: envoy.config.listener.v3.Listener): string[] {
  return (l.filterChains ?? []).flatMap((c) =>
    (c.filters ?? [])
      .filter((f) => f.typedConfig?.type_url === HTTP_CONNECTION_MANAGER_TYPE)
      .map((f) => unpackAny(HttpConnectionManager, f.typedConfig)?.rds?.routeConfigName ?? "")
      .filter((n) => n !== ""),
  );
}

function secretNames(l: envoy.config.listener.v3.Listener): string[] {
  return (l.filterChains ?? []).flatMap((c) => {
    const socket = c.transportSocket?.typedConfig;
    if (socket?.type_url !== DOWNSTREAM_TLS_CONTEXT_TYPE) return [];
    const tls = unpackAny(DownstreamTlsContext, socket);
    return (tls?.commonTlsContext?.tlsCertificateSdsSecretConfigs ?? []).map((s) => s.name ?? "").filter((n) => n !== "");
  });
}
