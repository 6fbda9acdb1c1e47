import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { NamesFingerprint } from "./names-fingerprint.js";
import { WILDCARD_TYPES } from "./order.js";

/** The resource names of one request, fingerprinted; decoded only when needed. */
export interface RequestedNames {
  readonly fingerprint: NamesFingerprint;
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
 * What streams asked for of one type. Interned by the registry: streams with equal keys
 * share one instance, get equal responses, and responses are cached (and encoded) per key.
 */
export class Subscription {
  private lookup: ReadonlySet<string> | undefined;

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
 * of names share one sorted array.
 */
export class SubscriptionRegistry {
  private readonly interned = new Map<string, { sub: Subscription; refs: number }>();
  /** Names added between two subscriptions: every Envoy of a fleet makes the same step. */
  private readonly additions = new Map<string, readonly string[]>();
  private collisions = 0;

  get size(): number {
    return this.interned.size;
  }

  /**
   * The subscription a SotW request asks for. `current` is what the stream had, or
   * undefined on its first request for the type. Legacy wildcard: an empty list on the
   * first LDS/CDS request means "everything", and stays so while the list stays empty.
   * When the fingerprint equals the current key the names are not decoded at all.
   */
  fromRequest(typeUrl: ResourceTypeUrl, names: RequestedNames, current: Subscription | undefined): Subscription {
    const f = names.fingerprint;
    const legacy = f.count === 0 && !f.hasStar && WILDCARD_TYPES.has(typeUrl) && (current === undefined || current === WILDCARD_ONLY);
    const wildcard = f.hasStar || legacy;
    const key = f.key(wildcard);
    if (current?.key === key) return current;
    if (key === WILDCARD_ONLY.key) return WILDCARD_ONLY;
    if (key === NOTHING.key) return NOTHING;
    const sorted = [...new Set(names.list().filter((n) => n !== "*"))].sort();
    if (current && sameNames(current, wildcard, sorted)) return current;
    const held = this.interned.get(key);
    if (!held) return new Subscription(wildcard, Object.freeze(sorted), key);
    // The key is a fingerprint: share only what is really equal. Responses are cached by
    // key, so a different list that collided gets a key of its own.
    return sameNames(held.sub, wildcard, sorted)
      ? held.sub
      : new Subscription(wildcard, Object.freeze(sorted), `${key}#${++this.collisions}`);
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

function sameNames(sub: Subscription, wildcard: boolean, sorted: readonly string[]): boolean {
  return sub.wildcard === wildcard && sub.names.length === sorted.length && sub.names.every((n, i) => n === sorted[i]);
}
