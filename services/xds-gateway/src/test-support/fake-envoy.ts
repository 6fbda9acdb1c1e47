// Envoy-like ADS clients for integration tests: they subscribe the way Envoy does
// (wildcard CDS and LDS, EDS by the names of the clusters received), ACK what they
// accept, NACK on demand, keep the resulting configuration, and validate every
// resource they receive with the Envoy API types.
import type { ChannelCredentials } from "@grpc/grpc-js";
import {
  CLUSTER_TYPE,
  type DeltaDiscoveryResponse,
  type DiscoveryResponse,
  ENDPOINT_TYPE,
  envoy,
  LISTENER_TYPE,
  type ResourceTypeUrl,
  ROUTE_TYPE,
  SECRET_TYPE,
  validateResource,
} from "@sharedlb/envoy-api";
import { type AdsCall, AdsClient } from "../client/ads-client.js";

export const decoders = {
  [LISTENER_TYPE]: envoy.config.listener.v3.Listener,
  [CLUSTER_TYPE]: envoy.config.cluster.v3.Cluster,
  [ENDPOINT_TYPE]: envoy.config.endpoint.v3.ClusterLoadAssignment,
  [ROUTE_TYPE]: envoy.config.route.v3.RouteConfiguration,
  [SECRET_TYPE]: envoy.extensions.transport_sockets.tls.v3.Secret,
} as const;

export type Decoded = {
  [LISTENER_TYPE]: envoy.config.listener.v3.Listener;
  [CLUSTER_TYPE]: envoy.config.cluster.v3.Cluster;
  [ENDPOINT_TYPE]: envoy.config.endpoint.v3.ClusterLoadAssignment;
  [ROUTE_TYPE]: envoy.config.route.v3.RouteConfiguration;
  [SECRET_TYPE]: envoy.extensions.transport_sockets.tls.v3.Secret;
};

export function decodeAs<T extends ResourceTypeUrl>(typeUrl: T, bytes: Uint8Array): Decoded[T] {
  return decoders[typeUrl].decode(bytes) as Decoded[T];
}

function nameOf(typeUrl: ResourceTypeUrl, bytes: Uint8Array): string {
  const d = decodeAs(typeUrl, bytes);
  return "clusterName" in d ? d.clusterName : d.name;
}

/** One response as received. */
export interface Received {
  readonly typeUrl: ResourceTypeUrl;
  readonly version: string;
  readonly nonce: string;
  readonly names: readonly string[];
  readonly removed: readonly string[];
}

export interface Held {
  readonly version: string;
  readonly bytes: Uint8Array;
}

export interface NodeIdentity {
  readonly id: string;
  readonly cluster: string;
}

abstract class FakeEnvoy {
  readonly log: Received[] = [];
  /** Accepted configuration per type. */
  readonly state = new Map<ResourceTypeUrl, Map<string, Held>>();
  /** Envoy API validation errors of anything received. */
  readonly errors: string[] = [];
  /** Return a message to NACK a response instead of applying it. */
  nackIf: ((r: Received) => string | undefined) | undefined;
  private readonly waiters = new Set<{ pred: (r: Received) => boolean; resolve: (r: Received) => void }>();
  protected readonly client: AdsClient;

  constructor(
    address: string,
    protected readonly node: NodeIdentity,
    credentials?: ChannelCredentials,
  ) {
    // Own connection per fake, as separate Envoys would have.
    this.client = new AdsClient(address, {
      channelOptions: { "grpc.use_local_subchannel_pool": 1 },
      ...(credentials ? { credentials } : {}),
    });
  }

  protected abstract cancel(): void;

  /** Subscribes these RouteConfigurations, as Envoy does for the names its listeners' RDS configs give. */
  abstract watchRoutes(names: readonly string[]): this;

  resources<T extends ResourceTypeUrl>(typeUrl: T): Map<string, Decoded[T]> {
    const out = new Map<string, Decoded[T]>();
    for (const [name, held] of this.state.get(typeUrl) ?? []) out.set(name, decodeAs(typeUrl, held.bytes));
    return out;
  }

  names(typeUrl: ResourceTypeUrl): string[] {
    return [...(this.state.get(typeUrl)?.keys() ?? [])].sort();
  }

  /** The first response from log index `from` on satisfying `pred`. */
  waitFor(what: string, pred: (r: Received) => boolean, from = 0, timeoutMs = 20_000): Promise<Received> {
    for (let i = from; i < this.log.length; i++) {
      const r = this.log[i];
      if (r && pred(r)) return Promise.resolve(r);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred: (r: Received) => this.log.indexOf(r) >= from && pred(r),
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(
          new Error(
            `timed out waiting for ${what}; received: ${JSON.stringify(this.log.slice(from).map((r) => [r.typeUrl.split(".").pop(), r.names.length, r.removed.length]))}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  protected received(r: Received): void {
    this.log.push(r);
    for (const w of [...this.waiters]) {
      if (w.pred(r)) {
        this.waiters.delete(w);
        w.resolve(r);
      }
    }
  }

  protected validate(typeUrl: ResourceTypeUrl, items: readonly Uint8Array[], clusters: ReadonlySet<string>): void {
    for (const bytes of items) {
      try {
        const decoded = decodeAs(typeUrl, bytes);
        for (const e of validateResource(typeUrl, decoded, { clusters })) this.errors.push(`${typeUrl}: ${e}`);
      } catch (err) {
        this.errors.push(`${typeUrl}: does not decode: ${String(err)}`);
      }
    }
  }

  close(): void {
    this.cancel();
    this.client.close();
  }
}

type SotwCall = AdsCall<envoy.service.discovery.v3.DiscoveryRequest.$Properties, DiscoveryResponse>;

/** A SotW ADS client behaving like Envoy. */
export class SotwEnvoy extends FakeEnvoy {
  readonly call: SotwCall;
  /** Last accepted version and last nonce seen, per type (what Envoy sends back). */
  readonly acked = new Map<ResourceTypeUrl, string>();
  private readonly nonces = new Map<ResourceTypeUrl, string>();
  private edsNames: string[] = [];
  private rdsNames: string[] = [];

  /** `credentials`: how to reach a gateway serving mutual TLS (plaintext when omitted). */
  constructor(address: string, node: NodeIdentity, credentials?: ChannelCredentials) {
    super(address, node, credentials);
    this.call = this.client.sotw({ onResponse: (res) => this.onResponse(res) });
  }

  watchRoutes(names: readonly string[]): this {
    this.rdsNames = [...names].sort();
    this.call.send({
      typeUrl: ROUTE_TYPE,
      versionInfo: this.acked.get(ROUTE_TYPE) ?? "",
      responseNonce: this.nonces.get(ROUTE_TYPE) ?? "",
      resourceNames: this.rdsNames,
    });
    return this;
  }

  protected cancel(): void {
    this.call.cancel();
  }

  start(): this {
    this.call.send({ node: this.node, typeUrl: CLUSTER_TYPE });
    this.call.send({ typeUrl: LISTENER_TYPE });
    return this;
  }

  /** Reconnect: tell the server what we have, as Envoy does on a new stream. */
  resume(from: SotwEnvoy): this {
    for (const [t, m] of from.state) this.state.set(t, new Map(m));
    for (const [t, v] of from.acked) this.acked.set(t, v);
    this.edsNames = [...from.edsNames];
    this.call.send({ node: this.node, typeUrl: CLUSTER_TYPE, versionInfo: this.acked.get(CLUSTER_TYPE) ?? "" });
    this.call.send({ typeUrl: LISTENER_TYPE, versionInfo: this.acked.get(LISTENER_TYPE) ?? "" });
    this.call.send({ typeUrl: ENDPOINT_TYPE, versionInfo: this.acked.get(ENDPOINT_TYPE) ?? "", resourceNames: this.edsNames });
    return this;
  }

  private onResponse(res: DiscoveryResponse): void {
    const typeUrl = res.typeUrl as ResourceTypeUrl;
    const items = res.resources.map((a) => a.value ?? new Uint8Array());
    const r: Received = { typeUrl, version: res.versionInfo, nonce: res.nonce, names: items.map((b) => nameOf(typeUrl, b)), removed: [] };
    this.nonces.set(typeUrl, res.nonce);
    const clusters = new Set(typeUrl === CLUSTER_TYPE ? r.names : this.names(CLUSTER_TYPE));
    this.validate(typeUrl, items, clusters);
    const nack = this.nackIf?.(r);
    const namesFor = (t: ResourceTypeUrl) => (t === ENDPOINT_TYPE ? this.edsNames : t === ROUTE_TYPE ? this.rdsNames : []);
    if (nack) {
      this.call.send({
        typeUrl,
        versionInfo: this.acked.get(typeUrl) ?? "",
        responseNonce: res.nonce,
        resourceNames: namesFor(typeUrl),
        errorDetail: { code: 3, message: nack },
      });
      this.received(r);
      return;
    }
    // LDS and CDS responses are the whole set; EDS and RDS responses only update.
    const held = typeUrl === LISTENER_TYPE || typeUrl === CLUSTER_TYPE ? new Map<string, Held>() : new Map(this.state.get(typeUrl) ?? []);
    items.forEach((bytes, i) => {
      held.set(r.names[i] ?? "", { version: res.versionInfo, bytes });
    });
    this.state.set(typeUrl, held);
    this.acked.set(typeUrl, res.versionInfo);
    this.call.send({ typeUrl, versionInfo: res.versionInfo, responseNonce: res.nonce, resourceNames: namesFor(typeUrl) });
    if (typeUrl === CLUSTER_TYPE) {
      const names = [...r.names].sort();
      if (names.join("\n") !== this.edsNames.join("\n")) {
        this.edsNames = names;
        const eds = this.state.get(ENDPOINT_TYPE);
        if (eds) for (const n of eds.keys()) if (!names.includes(n)) eds.delete(n);
        this.call.send({
          typeUrl: ENDPOINT_TYPE,
          versionInfo: this.acked.get(ENDPOINT_TYPE) ?? "",
          responseNonce: this.nonces.get(ENDPOINT_TYPE) ?? "",
          resourceNames: names,
        });
      }
    }
    this.received(r);
  }
}

type DeltaCall = AdsCall<envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties, DeltaDiscoveryResponse>;

/** A delta ADS client behaving like Envoy. */
export class DeltaEnvoy extends FakeEnvoy {
  readonly call: DeltaCall;
  private edsNames = new Set<string>();

  /** `credentials`: how to reach a gateway serving mutual TLS (plaintext when omitted). */
  constructor(address: string, node: NodeIdentity, credentials?: ChannelCredentials) {
    super(address, node, credentials);
    this.call = this.client.delta({ onResponse: (res) => this.onResponse(res) });
  }

  protected cancel(): void {
    this.call.cancel();
  }

  start(): this {
    this.call.send({ node: this.node, typeUrl: CLUSTER_TYPE });
    this.call.send({ typeUrl: LISTENER_TYPE });
    return this;
  }

  watchRoutes(names: readonly string[]): this {
    this.call.send({ typeUrl: ROUTE_TYPE, resourceNamesSubscribe: [...names] });
    return this;
  }

  /** Reconnect with initial_resource_versions, as Envoy does. */
  resume(from: DeltaEnvoy): this {
    for (const [t, m] of from.state) this.state.set(t, new Map(m));
    this.edsNames = new Set(from.edsNames);
    const versions = (t: ResourceTypeUrl) => Object.fromEntries([...(this.state.get(t) ?? [])].map(([n, h]) => [n, h.version]));
    this.call.send({ node: this.node, typeUrl: CLUSTER_TYPE, initialResourceVersions: versions(CLUSTER_TYPE) });
    this.call.send({ typeUrl: LISTENER_TYPE, initialResourceVersions: versions(LISTENER_TYPE) });
    this.call.send({
      typeUrl: ENDPOINT_TYPE,
      resourceNamesSubscribe: [...this.edsNames],
      initialResourceVersions: versions(ENDPOINT_TYPE),
    });
    return this;
  }

  private onResponse(res: DeltaDiscoveryResponse): void {
    const typeUrl = res.typeUrl as ResourceTypeUrl;
    const items = res.resources.map((x) => ({
      name: x.name ?? "",
      version: x.version ?? "",
      bytes: x.resource?.value ?? new Uint8Array(),
    }));
    const r: Received = {
      typeUrl,
      version: res.systemVersionInfo,
      nonce: res.nonce,
      names: items.map((i) => i.name),
      removed: res.removedResources.map(String),
    };
    for (const i of items)
      if (nameOf(typeUrl, i.bytes) !== i.name) this.errors.push(`${typeUrl}: Resource.name ${i.name} differs from the resource's own name`);
    const clusters = new Set(this.names(CLUSTER_TYPE));
    if (typeUrl === CLUSTER_TYPE) for (const n of r.names) clusters.add(n);
    this.validate(
      typeUrl,
      items.map((i) => i.bytes),
      clusters,
    );
    const nack = this.nackIf?.(r);
    if (nack) {
      this.call.send({ typeUrl, responseNonce: res.nonce, errorDetail: { code: 3, message: nack } });
      this.received(r);
      return;
    }
    const held = this.state.get(typeUrl) ?? new Map<string, Held>();
    for (const i of items) held.set(i.name, { version: i.version, bytes: i.bytes });
    for (const n of r.removed) held.delete(n);
    this.state.set(typeUrl, held);
    this.call.send({ typeUrl, responseNonce: res.nonce });
    if (typeUrl === CLUSTER_TYPE) {
      const subscribe = [...held.keys()].filter((n) => !this.edsNames.has(n));
      const unsubscribe = [...this.edsNames].filter((n) => !held.has(n));
      if (subscribe.length > 0 || unsubscribe.length > 0) {
        for (const n of subscribe) this.edsNames.add(n);
        for (const n of unsubscribe) {
          this.edsNames.delete(n);
          this.state.get(ENDPOINT_TYPE)?.delete(n);
        }
        this.call.send({ typeUrl: ENDPOINT_TYPE, resourceNamesSubscribe: subscribe, resourceNamesUnsubscribe: unsubscribe });
      }
    }
    this.received(r);
  }
}
