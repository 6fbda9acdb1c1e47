import { encodeDiscoveryResponse, RESOURCE_TYPES, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { SetHash, setVersion } from "./hashing.js";
import type { ResourceEntry } from "./resource-entry.js";
import type { StoreChange } from "./resource-store.js";
import type { Subscription } from "./subscription.js";

/**
 * The resources of one subscription at one generation of a type. Its SotW response is
 * encoded once, nonce included, and written as is to every stream with that
 * subscription: nonces only need to be unique within a stream, and a process-wide
 * counter makes them unique everywhere.
 */
export class ResolvedSet {
  private body: Buffer | undefined;

  constructor(
    readonly typeUrl: ResourceTypeUrl,
    readonly version: string,
    readonly entries: readonly ResourceEntry[],
    readonly nonce: string,
  ) {}

  sotwResponse(): Buffer {
    this.body ??= encodeDiscoveryResponse(
      { versionInfo: this.version, typeUrl: this.typeUrl, nonce: this.nonce },
      this.entries.map((e) => e.any),
    );
    return this.body;
  }
}

let nonceCounter = 0;
/** Process-wide unique, short, and ordered (handy when reading logs). */
export function nextNonce(): string {
  nonceCounter++;
  return nonceCounter.toString(36);
}

/** All resources of one type served to one fleet. */
export class TypeTable {
  private readonly map = new Map<string, ResourceEntry>();
  private readonly wildcardHash = new SetHash();
  private cache = new Map<string, ResolvedSet>();
  /** Increases with every change; a stream compares it to know it is behind. */
  generation = 0;
  /** performance.now() of the last change, for push latency. */
  changedAt = 0;

  constructor(readonly typeUrl: ResourceTypeUrl) {}

  get size(): number {
    return this.map.size;
  }

  get(name: string): ResourceEntry | undefined {
    return this.map.get(name);
  }

  *wildcardEntries(): IterableIterator<ResourceEntry> {
    for (const e of this.map.values()) if (e.wildcard) yield e;
  }

  /** Version of what a wildcard-only subscription gets. */
  wildcardVersion(): string {
    return this.wildcardHash.version();
  }

  set(name: string, entry: ResourceEntry | undefined): void {
    const old = this.map.get(name);
    if (old?.wildcard) this.wildcardHash.remove(old.lanes);
    if (entry) {
      this.map.set(name, entry);
      if (entry.wildcard) this.wildcardHash.add(entry.lanes);
    } else {
      this.map.delete(name);
    }
  }

  bump(now: number): void {
    this.generation++;
    this.changedAt = now;
    this.cache = new Map();
  }

  /**
   * What a SotW stream with `sub` gets now; one object per (subscription, generation).
   * `notNonce`: the stream already got the cached response and must get it again (EDS
   * after a cluster change): it gets an equal one with a nonce of its own, which other
   * streams in the same situation then share.
   */
  resolve(sub: Subscription, notNonce?: string): ResolvedSet {
    const cached = this.cache.get(sub.key);
    if (cached && cached.nonce !== notNonce) return cached;
    if (cached) {
      const again = new ResolvedSet(this.typeUrl, cached.version, cached.entries, nextNonce());
      this.cache.set(sub.key, again);
      return again;
    }
    let entries: ResourceEntry[];
    let version: string;
    if (sub.wildcard && sub.names.length === 0) {
      entries = [...this.wildcardEntries()];
      version = this.wildcardHash.version();
    } else {
      entries = sub.wildcard ? [...this.wildcardEntries()] : [];
      for (const name of sub.names) {
        const e = this.map.get(name);
        // A response may not carry a name twice: wildcard already brought these.
        if (e && !(sub.wildcard && e.wildcard)) entries.push(e);
      }
      version = setVersion(entries);
    }
    const resolved = new ResolvedSet(this.typeUrl, version, entries, nextNonce());
    this.cache.set(sub.key, resolved);
    return resolved;
  }
}

/** What changed in a fleet, per type, as seen by that fleet (pool filtering applied). */
export type FleetChange = ReadonlyMap<ResourceTypeUrl, readonly StoreChange[]>;

export interface FleetSubscriber {
  onFleetChange(change: FleetChange): void;
}

/** The resources one fleet serves: those of Services allocated in its pools. */
export class FleetSnapshot {
  private readonly tables = new Map<ResourceTypeUrl, TypeTable>();
  private readonly subscribers = new Set<FleetSubscriber>();

  constructor(
    readonly name: string,
    readonly pools: ReadonlySet<string>,
  ) {
    for (const t of RESOURCE_TYPES) this.tables.set(t, new TypeTable(t));
  }

  table(typeUrl: ResourceTypeUrl): TypeTable {
    const t = this.tables.get(typeUrl);
    if (!t) throw new Error(`no table for ${typeUrl}`);
    return t;
  }

  get streamCount(): number {
    return this.subscribers.size;
  }

  subscribe(s: FleetSubscriber): void {
    this.subscribers.add(s);
  }

  unsubscribe(s: FleetSubscriber): void {
    this.subscribers.delete(s);
  }

  /** Applies store changes that concern this fleet's pools and tells its streams. */
  apply(changes: readonly StoreChange[], now: number): FleetChange {
    const byType = new Map<ResourceTypeUrl, StoreChange[]>();
    for (const c of changes) {
      const before = c.before && this.pools.has(c.before.pool) ? c.before : undefined;
      const after = c.after && this.pools.has(c.after.pool) ? c.after : undefined;
      if (!before && !after) continue;
      this.table(c.typeUrl).set(c.name, after);
      let list = byType.get(c.typeUrl);
      if (!list) {
        list = [];
        byType.set(c.typeUrl, list);
      }
      list.push({ typeUrl: c.typeUrl, name: c.name, before, after });
    }
    for (const t of byType.keys()) this.table(t).bump(now);
    if (byType.size > 0) for (const s of this.subscribers) s.onFleetChange(byType);
    return byType;
  }
}
