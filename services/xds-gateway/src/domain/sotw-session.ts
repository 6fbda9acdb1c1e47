import { CLUSTER_TYPE, ENDPOINT_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { ResolvedSet } from "./fleet-snapshot.js";
import { PUSH_ORDER } from "./order.js";
import { type ErrorDetail, type RequestOutcome, remember } from "./protocol.js";
import type { Subscription, SubscriptionRegistry } from "./subscription.js";

export interface SotwRequest {
  readonly typeUrl: ResourceTypeUrl;
  readonly versionInfo: string;
  readonly resourceNames: readonly string[];
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | undefined;
}

interface TypeState {
  sub: Subscription;
  /** The last version the client reported having (ACKed, or sent on its first request). */
  acked: string;
  /** The latest response sent and not yet answered. */
  inflight: ResolvedSet | undefined;
  lastNonce: string | undefined;
  nacked: string[];
  dirty: boolean;
  /** Send even if the version is what the client has (EDS after a cluster change). */
  force: boolean;
}

/**
 * State-of-the-world ADS for one stream, without I/O: requests go in, the next response
 * to send comes out. Versions are per type; a response is sent when the client's
 * subscription resolves to a version it neither has nor has rejected.
 */
export class SotwSession {
  private readonly types = new Map<ResourceTypeUrl, TypeState>();

  constructor(private readonly registry: SubscriptionRegistry) {}

  subscription(typeUrl: ResourceTypeUrl): Subscription | undefined {
    return this.types.get(typeUrl)?.sub;
  }

  onRequest(req: SotwRequest): RequestOutcome {
    const typeUrl = req.typeUrl;
    const st = this.types.get(typeUrl);
    if (!st) {
      // The first request per type is initial whatever its nonce: Envoy may carry a
      // nonce over from its previous stream (envoy#30155).
      const sub = this.registry.acquire(this.registry.fromRequest(typeUrl, req.resourceNames, undefined));
      this.types.set(typeUrl, {
        sub,
        acked: req.versionInfo,
        inflight: undefined,
        lastNonce: undefined,
        nacked: [],
        dirty: true,
        force: false,
      });
      return { kind: "initial", typeUrl };
    }
    if (req.responseNonce !== "" && req.responseNonce !== st.lastNonce) return { kind: "stale", typeUrl };
    let outcome: RequestOutcome;
    if (req.responseNonce === "") {
      outcome = { kind: "update", typeUrl };
    } else if (req.errorDetail) {
      const rejected = st.inflight?.version ?? "";
      if (rejected !== "") remember(st.nacked, rejected);
      outcome = { kind: "nack", typeUrl, version: rejected, error: req.errorDetail };
      st.acked = req.versionInfo;
      st.inflight = undefined;
    } else {
      outcome = { kind: "ack", typeUrl, version: req.versionInfo };
      st.acked = req.versionInfo;
      st.inflight = undefined;
    }
    const next = this.registry.fromRequest(typeUrl, req.resourceNames, st.sub);
    if (next !== st.sub) {
      this.registry.release(st.sub);
      st.sub = this.registry.acquire(next);
      st.dirty = true;
    }
    return outcome;
  }

  /** A type's resources changed; returns whether this stream subscribes to it. */
  markDirty(typeUrl: ResourceTypeUrl): boolean {
    const st = this.types.get(typeUrl);
    if (!st) return false;
    st.dirty = true;
    return true;
  }

  hasWork(): boolean {
    for (const st of this.types.values()) if (st.dirty) return true;
    return false;
  }

  /**
   * The next response to send, in make-before-break order, or undefined when the client
   * has everything. `resolve` gives the current resources of a subscription.
   */
  next(resolve: (typeUrl: ResourceTypeUrl, sub: Subscription, notNonce?: string) => ResolvedSet): ResolvedSet | undefined {
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl);
      if (!st?.dirty) continue;
      st.dirty = false;
      const force = st.force;
      st.force = false;
      const resolved = resolve(typeUrl, st.sub, force ? st.lastNonce : undefined);
      if (st.nacked.includes(resolved.version)) continue;
      const expected = st.inflight?.version ?? st.acked;
      if (resolved.version === expected && !force) continue;
      st.inflight = resolved;
      st.lastNonce = resolved.nonce;
      if (typeUrl === CLUSTER_TYPE) {
        // A changed cluster is rebuilt by Envoy and stays warming until a
        // ClusterLoadAssignment arrives, even an unchanged one.
        const eds = this.types.get(ENDPOINT_TYPE);
        if (eds) {
          eds.dirty = true;
          eds.force = true;
        }
      }
      return resolved;
    }
    return undefined;
  }

  close(): void {
    for (const st of this.types.values()) this.registry.release(st.sub);
    this.types.clear();
  }
}
