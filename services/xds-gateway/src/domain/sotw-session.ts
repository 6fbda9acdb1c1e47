import { CLUSTER_TYPE, ENDPOINT_TYPE, type ResourceTypeUrl, ROUTE_TYPE } from "@sharedlb/envoy-api";
import type { ResolvedSet } from "./fleet-snapshot.js";
import { PUSH_ORDER } from "./order.js";
import { type ErrorDetail, type HeldListener, type RequestOutcome, remember } from "./protocol.js";
import { type RequestedNames, StreamSubscription, type Subscription, type SubscriptionRegistry } from "./subscription.js";

export interface SotwRequest {
  readonly typeUrl: ResourceTypeUrl;
  readonly versionInfo: string;
  readonly resourceNames: RequestedNames;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | undefined;
}

/** The resources of one type as a SotW session reads them (TypeTable). */
export interface SotwTable {
  readonly generation: number;
  resolve(sub: Subscription, notNonce?: string): ResolvedSet;
  resolveUpdate(sub: Subscription, since: number, extra: readonly string[], notNonce?: string): ResolvedSet | undefined;
  changedSince(since: number): ReadonlySet<string> | undefined;
}

/**
 * Types whose SotW responses may carry only what changed: "all resource types except
 * for Listener and Cluster are grouped into responses in the same way as in the
 * incremental protocol variants" (xds_protocol, "Grouping resources into responses").
 */
const UPDATED_BY_PARTS: ReadonlySet<ResourceTypeUrl> = new Set([ENDPOINT_TYPE, ROUTE_TYPE]);

interface TypeState {
  readonly subscription: StreamSubscription;
  /** The last version the client reported having (ACKed, or sent on its first request). */
  acked: string;
  /**
   * EDS/RDS: the table generation whose resources (of `sub`) the client holds, once
   * known; until then it gets the complete set.
   */
  holds: number | undefined;
  /** The latest response sent and not yet answered, and the `extra` names it carried. */
  inflight: ResolvedSet | undefined;
  inflightExtra: readonly string[];
  lastNonce: string | undefined;
  nacked: string[];
  dirty: boolean;
  /** EDS/RDS: names to send whatever their age (newly subscribed; clusters that changed). */
  readonly extra: Set<string>;
  /** Send the complete set even if the client has its version (EDS after a cluster change). */
  forceComplete: boolean;
  /** CDS: the generation of the last response sent, to tell which clusters changed since. */
  sentGeneration: number | undefined;
}

/**
 * State-of-the-world ADS for one stream, without I/O: requests go in, the next response
 * to send comes out. Versions are per type and always name the subscription's complete
 * set; a response is sent when the client's subscription resolves to a version it
 * neither has nor has rejected. LDS and CDS responses carry the complete set; EDS and
 * RDS responses carry it only the first time (and for names newly asked for), and
 * afterwards only what changed since the generation the client last ACKed.
 */
export class SotwSession {
  private readonly types = new Map<ResourceTypeUrl, TypeState>();

  constructor(
    private readonly registry: SubscriptionRegistry,
    private readonly onHeld: HeldListener = () => {},
  ) {}

  subscription(typeUrl: ResourceTypeUrl): StreamSubscription | undefined {
    return this.types.get(typeUrl)?.subscription;
  }

  onRequest(req: SotwRequest): RequestOutcome {
    const typeUrl = req.typeUrl;
    const st = this.types.get(typeUrl);
    if (!st) {
      // The first request per type is initial whatever its nonce: Envoy may carry a
      // nonce over from its previous stream (envoy#30155).
      const subscription = new StreamSubscription(this.registry, typeUrl);
      subscription.replace(req.resourceNames);
      this.types.set(typeUrl, {
        subscription,
        acked: req.versionInfo,
        holds: undefined,
        inflight: undefined,
        inflightExtra: [],
        lastNonce: undefined,
        nacked: [],
        dirty: true,
        extra: new Set(),
        forceComplete: false,
        sentGeneration: undefined,
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
      outcome = { kind: "nack", typeUrl, version: rejected, error: req.errorDetail, entries: st.inflight?.entries ?? [] };
      // The client keeps what it had: `holds` stays, and the extra names stay due.
      st.acked = req.versionInfo;
      st.inflight = undefined;
    } else {
      outcome = { kind: "ack", typeUrl, version: req.versionInfo, entries: st.inflight?.entries ?? [] };
      st.acked = req.versionInfo;
      if (st.inflight) {
        st.holds = st.inflight.generation;
        for (const n of st.inflightExtra) st.extra.delete(n);
      }
      st.inflight = undefined;
    }
    const change = st.subscription.replace(req.resourceNames);
    if (change) {
      // Names added while a response for the old subscription is unacknowledged are extras
      // too: once that response is ACKed the client holds its generation, and updates from
      // there carry only what changed, so the added names would never be sent.
      if (st.holds !== undefined || st.inflight !== undefined) for (const n of change.added()) st.extra.add(n);
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
   * has everything. `table` gives the current resources of a type.
   */
  next(table: (typeUrl: ResourceTypeUrl) => SotwTable): ResolvedSet | undefined {
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl);
      if (!st?.dirty) continue;
      st.dirty = false;
      const t = table(typeUrl);
      const resolved = UPDATED_BY_PARTS.has(typeUrl) ? this.nextPart(st, t) : this.nextComplete(st, t, false);
      if (!resolved) continue;
      if (typeUrl === CLUSTER_TYPE) this.refreshEndpoints(st, t, resolved);
      return resolved;
    }
    return undefined;
  }

  /** EDS/RDS: what changed since the generation the client holds, else the complete set. */
  private nextPart(st: TypeState, table: SotwTable): ResolvedSet | undefined {
    if (st.holds !== undefined && !st.forceComplete) {
      const extra = [...st.extra];
      const update = table.resolveUpdate(st.subscription.interned(), st.holds, extra, st.lastNonce);
      if (update) {
        if (update.entries.length === 0) {
          // Nothing the client subscribes to changed: it holds this generation too.
          if (!st.inflight) {
            st.holds = update.generation;
            st.extra.clear();
          }
          return undefined;
        }
        if (st.nacked.includes(update.version)) return undefined;
        return this.sending(st, update, extra);
      }
    }
    const force = st.forceComplete;
    st.forceComplete = false;
    return this.nextComplete(st, table, force);
  }

  private nextComplete(st: TypeState, table: SotwTable, force: boolean): ResolvedSet | undefined {
    const resolved = table.resolve(st.subscription.interned(), force ? st.lastNonce : undefined);
    if (st.nacked.includes(resolved.version)) return undefined;
    const expected = st.inflight?.version ?? st.acked;
    if (resolved.version === expected && !force) {
      // The client has it (a reconnect naming its version): it holds this generation.
      if (!st.inflight) {
        if (st.holds === undefined) this.onHeld(resolved.entries);
        st.holds = resolved.generation;
        st.extra.clear();
      }
      return undefined;
    }
    return this.sending(st, resolved, [...st.extra]);
  }

  private sending(st: TypeState, resolved: ResolvedSet, extra: readonly string[]): ResolvedSet {
    st.inflight = resolved;
    st.inflightExtra = extra;
    st.lastNonce = resolved.nonce;
    return resolved;
  }

  /**
   * A changed cluster is rebuilt by Envoy and stays warming until a
   * ClusterLoadAssignment arrives, even an unchanged one: the assignments of the
   * clusters that changed go again (all of them when that is not known).
   */
  private refreshEndpoints(cds: TypeState, table: SotwTable, sent: ResolvedSet): void {
    const changed = cds.sentGeneration === undefined ? undefined : table.changedSince(cds.sentGeneration);
    cds.sentGeneration = sent.generation;
    const eds = this.types.get(ENDPOINT_TYPE);
    if (!eds) return;
    eds.dirty = true;
    if (changed) for (const n of changed) eds.extra.add(n);
    else eds.forceComplete = true;
  }

  close(): void {
    for (const st of this.types.values()) st.subscription.release();
    this.types.clear();
  }
}
