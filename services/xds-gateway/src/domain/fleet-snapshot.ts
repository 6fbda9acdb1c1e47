import { encodeDiscoveryResponse, RESOURCE_TYPES, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { SetHash, setVersion } from "./hashing.js";
import type { ResourceEntry } from "./resource-entry.js";
import type { StoreChange } from "./resource-store.js";
import { DeltaResponse, SharedFirstSync } from "./delta-response.js";
import { namesKey } from "./names-fingerprint.js";
import { ProgrammedTracker } from "./programmed-tracker.js";
import type { Subscription } from "./subscription.js";

/**
 * The resources of one SotW response at one generation of a type. Its response is
 * encoded once, nonce included, and written as is to every stream in the same
 * situation (same subscription, same starting point): nonces only need to be unique
 * within a stream, and one counter per fleet makes them unique on all of its streams.
 */
export class ResolvedSet {
  private body: Buffer | undefined;

  constructor(
    readonly typeUrl: ResourceTypeUrl,
    /** The version of the subscription's whole set at `generation`, also for an update. */
    readonly version: string,
    readonly entries: readonly ResourceEntry[],
    readonly nonce: string,
    readonly generation: number,
    /** Whether `entries` is the complete set (false: only what changed since a generation). */
    readonly complete: boolean,
  ) {}

  sotwResponse(): Buffer {
    this.body ??= encodeDiscoveryResponse(
      { versionInfo: this.version, typeUrl: this.typeUrl, nonce: this.nonce },
      this.entries.map((e) => e.any),
    );
    return this.body;
  }
}

/** Nonces for the responses of one fleet's streams: short, unique, and ordered (handy in logs). */
export class NonceSequence {
  private last = 0;

  next(): string {
    this.last++;
    return this.last.toString(36);
  }
}

/** Names changed in one generation of a table. */
interface ChangeRecord {
  readonly generation: number;
  readonly names: readonly string[];
}

/** Named subscriptions whose set hash a table keeps up to date (the fleet's EDS and RDS lists; more are recomputed). */
const MAX_NAMED_HASHES = 8;

/** Generations of changes a table remembers, so a stream that is behind gets only what changed. */
const MAX_CHANGE_RECORDS = 256;
/** Names remembered across those generations, beyond which a stream that far behind gets everything. */
const MIN_REMEMBERED_NAMES = 4096;

/** All resources of one type served to one fleet. */
export class TypeTable {
  private readonly map = new Map<string, ResourceEntry>();
  private readonly wildcardHash = new SetHash();
  /**
   * The set hash of each named (non-wildcard) subscription served lately, updated by set():
   * a SotW update (one changed assignment) carries the version of the whole set, which
   * was otherwise its 10,900 entries gathered and summed again on every change.
   */
  private readonly namedHashes = new Map<Subscription, SetHash>();
  private complete = new Map<string, ResolvedSet>();
  private updates = new Map<string, ResolvedSet>();
  private firstSyncs = new Map<string, SharedFirstSync>();
  private readonly history: ChangeRecord[] = [];
  private rememberedNames = 0;
  /** Increases with every change; a stream compares it to know it is behind. */
  generation = 0;
  /** performance.now() of the last change, for push latency. */
  changedAt = 0;

  constructor(
    readonly typeUrl: ResourceTypeUrl,
    private readonly nonces: NonceSequence = new NonceSequence(),
  ) {}

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

  nextNonce(): string {
    return this.nonces.next();
  }

  set(name: string, entry: ResourceEntry | undefined): void {
    const old = this.map.get(name);
    if (old?.wildcard) this.wildcardHash.remove(old.lanes);
    for (const [sub, h] of this.namedHashes) {
      if (!sub.hasName(name)) continue;
      if (old) h.remove(old.lanes);
      if (entry) h.add(entry.lanes);
    }
    if (entry) {
      this.map.set(name, entry);
      if (entry.wildcard) this.wildcardHash.add(entry.lanes);
    } else {
      this.map.delete(name);
    }
  }

  /** Ends a generation whose changes touched `names`. */
  bump(now: number, names: readonly string[] = []): void {
    this.generation++;
    this.changedAt = now;
    this.complete = new Map();
    this.updates = new Map();
    this.firstSyncs = new Map();
    this.history.push({ generation: this.generation, names });
    this.rememberedNames += names.length;
    const limit = Math.max(MIN_REMEMBERED_NAMES, this.map.size);
    while (this.history.length > 1 && (this.history.length > MAX_CHANGE_RECORDS || this.rememberedNames > limit)) {
      const dropped = this.history.shift();
      this.rememberedNames -= dropped?.names.length ?? 0;
    }
  }

  /**
   * Names changed after generation `since` (up to now), or undefined when that is
   * further back than the table remembers.
   */
  changedSince(since: number): Set<string> | undefined {
    const out = new Set<string>();
    if (since >= this.generation) return out;
    const oldest = this.history[0];
    if (!oldest || oldest.generation > since + 1) return undefined;
    for (let i = this.history.length - 1; i >= 0; i--) {
      const r = this.history[i];
      if (!r || r.generation <= since) break;
      for (const n of r.names) out.add(n);
    }
    return out;
  }

  /**
   * Everything a SotW stream with `sub` gets now; one object per (subscription,
   * generation). `notNonce`: the stream already got the cached response and must get it
   * again: it gets an equal one with a nonce of its own, which other streams in the same
   * situation then share.
   */
  resolve(sub: Subscription, notNonce?: string): ResolvedSet {
    const cached = this.complete.get(sub.key);
    if (cached && cached.nonce !== notNonce) return cached;
    if (cached) {
      const again = new ResolvedSet(this.typeUrl, cached.version, cached.entries, this.nonces.next(), this.generation, true);
      this.complete.set(sub.key, again);
      return again;
    }
    const entries = this.entriesOf(sub);
    const version = sub.wildcard ? (sub.names.length === 0 ? this.wildcardHash.version() : setVersion(entries)) : this.namedVersion(sub);
    const resolved = new ResolvedSet(this.typeUrl, version, entries, this.nonces.next(), this.generation, true);
    this.complete.set(sub.key, resolved);
    return resolved;
  }

  /** The version of everything `sub` asks for now. */
  private versionOf(sub: Subscription): string {
    if (!sub.wildcard) return this.namedVersion(sub);
    return sub.names.length === 0 ? this.wildcardHash.version() : this.resolve(sub).version;
  }

  /** setVersion of what a named (non-wildcard) subscription asks for, kept in namedHashes. */
  private namedVersion(sub: Subscription): string {
    let h = this.namedHashes.get(sub);
    if (!h) {
      h = new SetHash();
      for (const name of sub.names) {
        const e = this.map.get(name);
        if (e) h.add(e.lanes);
      }
      this.namedHashes.set(sub, h);
      if (this.namedHashes.size > MAX_NAMED_HASHES) {
        const oldest = this.namedHashes.keys().next();
        if (!oldest.done) this.namedHashes.delete(oldest.value);
      }
    }
    return h.version();
  }

  /** The resources `sub` asks for: the wildcard ones (when it is wildcard), then those it names. */
  private entriesOf(sub: Subscription): ResourceEntry[] {
    const entries = sub.wildcard ? [...this.wildcardEntries()] : [];
    for (const name of sub.names) {
      const e = this.map.get(name);
      // A response may not carry a name twice: wildcard already brought these.
      if (e && !(sub.wildcard && e.wildcard)) entries.push(e);
    }
    return entries;
  }

  /**
   * The first delta sync of an interned subscription: the resources it asks for, in
   * responses of at most `perResponse` resources. One per (subscription, generation).
   */
  firstSync(sub: Subscription, perResponse: number): SharedFirstSync {
    const scope = `${sub.key}|${perResponse}`;
    const known = this.firstSyncs.get(scope);
    if (known) return known;
    const all = this.entriesOf(sub);
    const version = this.wildcardHash.version();
    const responses: DeltaResponse[] = [];
    for (let i = 0; i < all.length; i += perResponse)
      responses.push(new DeltaResponse(this.typeUrl, this.nonces.next(), version, all.slice(i, i + perResponse), []));
    const sync = new SharedFirstSync(this.generation, responses);
    this.firstSyncs.set(scope, sync);
    return sync;
  }

  /**
   * An update for a stream with `sub` that holds generation `since`: the resources in
   * scope that changed after it, plus `extra` (names the stream must get whatever their
   * age: newly subscribed, or clusters that changed). Resources that went away are not
   * in it (SotW EDS and RDS have no removal; the client drops them when its clusters
   * or listeners go). Undefined when `since` is older than the table remembers: the
   * stream then needs the complete set. Shared like resolve().
   */
  resolveUpdate(sub: Subscription, since: number, extra: readonly string[], notNonce?: string): ResolvedSet | undefined {
    const key = `${sub.key}|${since}|${extra.length === 0 ? "-" : namesKey(false, extra)}`;
    const cached = this.updates.get(key);
    if (cached && cached.nonce !== notNonce) return cached;
    const version = this.versionOf(sub);
    let entries: readonly ResourceEntry[];
    if (cached) {
      entries = cached.entries;
    } else {
      const changed = this.changedSince(since);
      if (!changed) return undefined;
      for (const n of extra) changed.add(n);
      const list: ResourceEntry[] = [];
      for (const name of changed) {
        const e = this.map.get(name);
        if (e && sub.covers(name, e.wildcard)) list.push(e);
      }
      entries = list;
    }
    const update = new ResolvedSet(this.typeUrl, version, entries, this.nonces.next(), this.generation, false);
    this.updates.set(key, update);
    return update;
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
  /** One sequence for every type: a stream's SotW and delta nonces never repeat. */
  readonly nonces = new NonceSequence();
  /** What this fleet's streams applied or rejected, for lb.programmed. */
  readonly programmed = new ProgrammedTracker();

  constructor(
    readonly name: string,
    readonly pools: ReadonlySet<string>,
  ) {
    for (const t of RESOURCE_TYPES) this.tables.set(t, new TypeTable(t, this.nonces));
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
    for (const [t, list] of byType) {
      this.table(t).bump(
        now,
        list.map((c) => c.name),
      );
      this.programmed.applyChanges(list);
    }
    if (byType.size > 0) for (const s of this.subscribers) s.onFleetChange(byType);
    return byType;
  }
}
