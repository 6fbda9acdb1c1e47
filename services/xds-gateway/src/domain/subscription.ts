import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { KnownNameLists } from "./known-name-lists.js";
import { NamesFingerprint, namesKey } from "./names-fingerprint.js";
import { WILDCARD_TYPES } from "./order.js";

/** The resource names of one request, fingerprinted; decoded only when needed. */
export interface RequestedNames {
  readonly fingerprint: NamesFingerprint;
  /**
   * A digest of the names exactly as they came on the wire (order and encoding included),
   * when the request was read from its bytes: a stream repeating its last list byte for
   * byte (every ACK) is recognised from it without hashing name by name.
   */
  readonly wireDigest?: string;
  /**
   * The names' bytes exactly as they came on the wire (a view of the request), under the
   * same condition as wireDigest; compared before the digest is taken (a memcmp of an
   * ACK's 400 KB is ~40 times cheaper than hashing it).
   */
  readonly wire?: Buffer;
  /** The names as sent (may include "*"). */
  list(): readonly string[];
}

/** RequestedNames of names already decoded (tests, delta). */
export function requestedNames(names: readonly string[]): RequestedNames {
  const fingerprint = new NamesFingerprint();
  for (const n of names) fingerprint.addString(n);
  return { fingerprint, list: () => names };
}

/**
 * A wildcard flag and a set of names asked for of one type, immutable. Interned by the
 * registry: streams of either protocol that ask for the same share one instance, get
 * equal responses, and responses are cached (and encoded) per key.
 */
export class Subscription {
  private lookup: ReadonlySet<string> | undefined;
  /**
   * The wire bytes of the first SotW list of names (non-empty) that resolved to it: a later
   * list with the same bytes is the same list (one copy per interned subscription, shared
   * by its streams, rather than one per stream).
   */
  wireForm: Buffer | undefined;

  constructor(
    readonly wildcard: boolean,
    /** Explicitly named resources, sorted and without duplicates ("*" excluded). */
    readonly names: readonly string[],
    /** Identifies the content; order-insensitive (see NamesFingerprint). */
    readonly key: string,
  ) {}

  /** Whether `name` is asked for by name. */
  hasName(name: string): boolean {
    if (this.names.length === 0) return false;
    this.lookup ??= new Set(this.names);
    return this.lookup.has(name);
  }

  /** Whether a resource with this name (and wildcard flag) is in scope. */
  covers(name: string, wildcardResource: boolean): boolean {
    return (this.wildcard && wildcardResource) || this.hasName(name);
  }
}

export const WILDCARD_ONLY: Subscription = new Subscription(true, Object.freeze([]), "*");
export const NOTHING: Subscription = new Subscription(false, Object.freeze([]), "-");

const MAX_REMEMBERED_DIFFS = 64;

/**
 * Interns subscriptions by key, so thousands of Envoys subscribed to the same thousands
 * of names share one sorted array, whichever protocol they speak.
 */
export class SubscriptionRegistry {
  private readonly interned = new Map<string, { sub: Subscription; refs: number }>();
  /** Names added between two subscriptions: every Envoy of a fleet makes the same step. */
  private readonly additions = new Map<string, readonly string[]>();
  private collisions = 0;
  /** The subscriptions' SotW wire forms, for reading ACKs (readDiscoveryRequest). */
  readonly wireForms = new KnownNameLists();
  private readonly byWireForm = new WeakMap<Buffer, Subscription>();

  get size(): number {
    return this.interned.size;
  }

  /**
   * The subscription a complete list of names asks for. When the list's fingerprint
   * equals the key of `current` the names are not decoded at all: an Envoy repeats its
   * whole EDS list on every ACK.
   */
  fromList(wildcard: boolean, names: RequestedNames, current: Subscription): Subscription {
    const key = names.fingerprint.key(wildcard);
    if (current.key === key) return current;
    const distinct = [...new Set(names.list().filter((n) => n !== "*"))];
    if (sameContent(current, wildcard, distinct)) return current;
    return this.lookup(wildcard, distinct, key);
  }

  /**
   * The subscription whose wire form `wire` is (the very buffer: readDiscoveryRequest hands
   * out the known list a request repeated byte for byte), or undefined.
   */
  fromWireForm(wire: Buffer): Subscription | undefined {
    return this.byWireForm.get(wire);
  }

  /** Keeps the SotW list `sub` was first resolved from, to know it again from its bytes. */
  rememberWireForm(sub: Subscription, wire: Buffer): void {
    if (sub.wireForm !== undefined || wire.byteLength === 0) return;
    sub.wireForm = Buffer.from(wire);
    this.byWireForm.set(sub.wireForm, sub);
    this.wireForms.remember(sub.wireForm);
  }

  /**
   * The subscription held for exactly these names by name (no wildcard), or undefined. A
   * delta stream's first request is most often the same list as another stream's.
   */
  heldFor(names: readonly string[]): Subscription | undefined {
    if (names.includes("*")) return undefined;
    const held = this.interned.get(namesKey(false, names));
    return held && sameContent(held.sub, false, names) ? held.sub : undefined;
  }

  /** The subscription of distinct names (none of them "*"). */
  fromNames(wildcard: boolean, names: Iterable<string>): Subscription {
    const distinct = [...names];
    return this.lookup(wildcard, distinct, namesKey(wildcard, distinct));
  }

  /** Sorts `distinct` only for a subscription not held yet: hundreds of streams ask for the same. */
  private lookup(wildcard: boolean, distinct: string[], key: string): Subscription {
    if (key === WILDCARD_ONLY.key) return WILDCARD_ONLY;
    if (key === NOTHING.key) return NOTHING;
    const held = this.interned.get(key);
    if (held && sameContent(held.sub, wildcard, distinct)) return held.sub;
    // The key is a fingerprint: share only what is really equal. Responses are cached by
    // key, so a different list that collided gets a key of its own.
    return new Subscription(wildcard, Object.freeze(distinct.sort()), held ? `${key}#${++this.collisions}` : key);
  }

  /** Names `to` asks for by name that `from` did not. */
  added(from: Subscription, to: Subscription): readonly string[] {
    const pair = `${from.key}>${to.key}`;
    const known = this.additions.get(pair);
    if (known) return known;
    const added = to.names.filter((n) => !from.hasName(n));
    if (this.additions.size >= MAX_REMEMBERED_DIFFS) this.additions.clear();
    this.additions.set(pair, added);
    return added;
  }

  /** Counts a stream's use of `sub`; pair with release(). */
  acquire(sub: Subscription): Subscription {
    if (sub === WILDCARD_ONLY || sub === NOTHING) return sub;
    const held = this.interned.get(sub.key);
    if (held) {
      held.refs++;
      return held.sub;
    }
    this.interned.set(sub.key, { sub, refs: 1 });
    return sub;
  }

  release(sub: Subscription): void {
    const held = this.interned.get(sub.key);
    if (!held || held.sub !== sub) return;
    if (--held.refs <= 0) {
      this.interned.delete(sub.key);
      this.additions.clear();
    }
  }
}

function sameContent(sub: Subscription, wildcard: boolean, distinct: readonly string[]): boolean {
  return sub.wildcard === wildcard && sub.names.length === distinct.length && distinct.every((n) => sub.hasName(n));
}

/** What a SotW request changed in a subscription. */
export interface SubscriptionChange {
  /** The names now asked for by name that were not before. */
  added(): readonly string[];
}

/** What a delta request changed in a subscription. */
export interface SubscriptionUpdate {
  /** Names subscribed that were not before (as kept). */
  readonly subscribed: readonly string[];
  /** Whether this request added the wildcard to a stream that did not have it. */
  readonly wildcardAdded: boolean;
}

/** Changes of its own a delta stream keeps before it interns its subscription again. */
const MIN_OWN_CHANGES = 64;

/**
 * What one stream asked for of one type, in either protocol (go-control-plane's
 * stream.Subscription is the model): the wildcard flag and the names asked for
 * explicitly. A SotW request names the complete list (replace()); a delta request
 * subscribes and unsubscribes names (update()).
 *
 * It is an interned Subscription, shared with every stream that asks for the same, plus
 * (delta only) the changes the stream made since. When those grow past a quarter of the
 * interned part the whole is interned again, so streams that made the same changes end
 * up sharing again; a SotW stream never has changes of its own.
 */
export class StreamSubscription implements Iterable<string> {
  private base: Subscription = NOTHING;
  private wildcardNow = false;
  private added: Set<string> | undefined;
  private removed: Set<string> | undefined;
  private requested = false;
  /** The wireDigest of the last SotW list applied. */
  private lastWireDigest: string | undefined;

  constructor(
    private readonly registry: SubscriptionRegistry,
    readonly typeUrl: ResourceTypeUrl,
  ) {}

  get wildcard(): boolean {
    return this.wildcardNow;
  }

  /** Whether `name` is asked for by name. */
  has(name: string): boolean {
    return this.added?.has(name) === true || (this.base.hasName(name) && this.removed?.has(name) !== true);
  }

  /** Whether a resource with this name (and wildcard flag) is in scope. */
  covers(name: string, wildcardResource: boolean): boolean {
    return (this.wildcardNow && wildcardResource) || this.has(name);
  }

  /**
   * Equal for two streams that cover the same resources of this type: the interned
   * subscription when the stream has no changes of its own, else the stream's own. Unlike
   * interned(), it never interns.
   */
  coverage(): object {
    return this.hasOwnChanges() ? this : this.base;
  }

  /** The names asked for by name. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const n of this.base.names) if (this.removed?.has(n) !== true) yield n;
    if (this.added) yield* this.added;
  }

  /**
   * The interned subscription equal to this one (responses are cached by it), interning
   * the stream's own changes first if it has any.
   */
  interned(): Subscription {
    if (this.hasOwnChanges()) this.intern();
    return this.base;
  }

  /** Whether the stream asks for anything other than its interned subscription does. */
  private hasOwnChanges(): boolean {
    return this.wildcardNow !== this.base.wildcard || (this.added?.size ?? 0) > 0 || (this.removed?.size ?? 0) > 0;
  }

  /**
   * SotW: the request names the complete list. Legacy wildcard: an empty list on the
   * first LDS/CDS request means "everything", and stays so while the list stays empty.
   * Undefined when the subscription did not change.
   */
  replace(names: RequestedNames): SubscriptionChange | undefined {
    // The same bytes as the list the subscription was interned from, or as this stream's
    // last list: the same list, so the same outcome (a non-empty list never asks for the
    // legacy wildcard, see below).
    const wire = names.wire;
    if (this.requested && wire !== undefined && this.base.wireForm?.equals(wire) === true) return undefined;
    // The very list another stream's subscription was interned from (every Envoy of a fleet
    // sends the same): that subscription, without decoding, fingerprinting or hashing 10,000
    // names per connecting Envoy.
    const known = wire !== undefined ? this.registry.fromWireForm(wire) : undefined;
    if (known !== undefined) {
      this.requested = true;
      this.lastWireDigest = undefined;
      return this.moveTo(known.key === this.base.key ? this.base : known);
    }
    if (this.requested && names.wireDigest !== undefined && names.wireDigest === this.lastWireDigest) return undefined;
    this.lastWireDigest = names.wireDigest;
    const f = names.fingerprint;
    const legacy = f.count === 0 && !f.hasStar && WILDCARD_TYPES.has(this.typeUrl) && (!this.requested || this.base === WILDCARD_ONLY);
    this.requested = true;
    const to = this.registry.fromList(f.hasStar || legacy, names, this.base);
    if (wire !== undefined) this.registry.rememberWireForm(to, wire);
    return this.moveTo(to);
  }

  private moveTo(to: Subscription): SubscriptionChange | undefined {
    const from = this.base;
    if (to === from) return undefined;
    this.registry.release(from);
    this.base = this.registry.acquire(to);
    this.wildcardNow = this.base.wildcard;
    return { added: () => this.registry.added(from, to) };
  }

  /**
   * Delta: the request subscribes and unsubscribes names ("*" is the wildcard). Legacy
   * wildcard: a first LDS/CDS request that subscribes nothing wants everything.
   * `keep` gives the string to keep for a name (an equal, shared copy).
   */
  update(subscribe: readonly string[], unsubscribe: readonly string[], keep: (name: string) => string): SubscriptionUpdate {
    const first = !this.requested;
    this.requested = true;
    // The names another stream's subscription holds: share it at once, rather than keeping,
    // adding and interning 10,000 names for each connecting Envoy.
    const held = first && unsubscribe.length === 0 && subscribe.length > 0 ? this.registry.heldFor(subscribe) : undefined;
    if (held) {
      this.base = this.registry.acquire(held);
      return { subscribed: held.names, wildcardAdded: false };
    }
    if (first && subscribe.length === 0 && WILDCARD_TYPES.has(this.typeUrl)) this.wildcardNow = true;
    let wildcardAdded = false;
    const subscribed: string[] = [];
    for (const name of subscribe) {
      if (name === "*") {
        wildcardAdded ||= !this.wildcardNow;
        this.wildcardNow = true;
      } else if (!this.has(name)) {
        const kept = keep(name);
        this.add(kept);
        subscribed.push(kept);
      }
    }
    for (const name of unsubscribe) {
      if (name === "*") this.wildcardNow = false;
      else this.delete(name);
    }
    // The first request is interned whatever its size: that is what streams share.
    const own = (this.added?.size ?? 0) + (this.removed?.size ?? 0);
    if (first || (own >= MIN_OWN_CHANGES && own >= this.base.names.length / 4)) this.interned();
    return { subscribed, wildcardAdded };
  }

  private add(name: string): void {
    if (this.base.hasName(name)) {
      this.removed?.delete(name);
      return;
    }
    this.added ??= new Set();
    this.added.add(name);
  }

  private delete(name: string): void {
    if (!this.base.hasName(name)) {
      this.added?.delete(name);
      return;
    }
    this.removed ??= new Set();
    this.removed.add(name);
  }

  private intern(): void {
    const from = this.base;
    this.base = this.registry.acquire(this.registry.fromNames(this.wildcardNow, this));
    this.registry.release(from);
    this.added = undefined;
    this.removed = undefined;
  }

  release(): void {
    this.registry.release(this.base);
    this.base = NOTHING;
    this.wildcardNow = false;
    this.added = undefined;
    this.removed = undefined;
  }
}
