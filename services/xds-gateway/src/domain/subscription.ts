import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { WILDCARD_TYPES } from "./order.js";

/** What one stream asked for of one type. */
export interface Subscription {
  readonly wildcard: boolean;
  /** Explicitly named resources, sorted and without duplicates ("*" excluded). */
  readonly names: readonly string[];
  /**
   * Identifies the content: streams with equal keys get equal responses, so responses
   * are cached (and encoded) per key. Order-insensitive, so it can be computed from a
   * request's list without sorting it.
   */
  readonly key: string;
}

export const WILDCARD_ONLY: Subscription = Object.freeze({ wildcard: true, names: Object.freeze([]), key: "*" });
export const NOTHING: Subscription = Object.freeze({ wildcard: false, names: Object.freeze([]), key: "-" });

/**
 * An order-insensitive fingerprint of a list of names: count plus lane-wise sums of two
 * independent 32-bit FNV-1a hashes and a mix of both (96 bits). An Envoy repeats its
 * full EDS name list (thousands of names) on every ACK; this tells "unchanged" without
 * sorting or keeping that list per stream.
 */
export function namesKey(wildcard: boolean, names: Iterable<string>): string {
  let n = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (const name of names) {
    if (name === "*") continue;
    let h1 = 0x811c9dc5;
    let h2 = 0x050c5d1f;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    s1 = (s1 + h1) >>> 0;
    s2 = (s2 + h2) >>> 0;
    s3 = (s3 + ((h1 ^ ((h2 << 16) | (h2 >>> 16))) >>> 0)) >>> 0;
    n++;
  }
  if (n === 0) return wildcard ? WILDCARD_ONLY.key : NOTHING.key;
  return `${wildcard ? "*+" : ""}${n}.${s1.toString(36)}.${s2.toString(36)}.${s3.toString(36)}`;
}

/**
 * Interns subscriptions by key, so thousands of Envoys subscribed to the same thousands
 * of names share one sorted array.
 */
export class SubscriptionRegistry {
  private readonly interned = new Map<string, { sub: Subscription; refs: number }>();
  private collisions = 0;

  get size(): number {
    return this.interned.size;
  }

  /**
   * The subscription a SotW request asks for. `current` is what the stream had, or
   * undefined on its first request for the type. Legacy wildcard: an empty list on the
   * first LDS/CDS request means "everything", and stays so while the list stays empty.
   */
  fromRequest(typeUrl: ResourceTypeUrl, names: readonly string[], current: Subscription | undefined): Subscription {
    const star = names.includes("*");
    const legacy = names.length === 0 && WILDCARD_TYPES.has(typeUrl) && (current === undefined || current === WILDCARD_ONLY);
    const wildcard = star || legacy;
    const key = namesKey(wildcard, names);
    if (current && current.key === key) return current;
    if (key === WILDCARD_ONLY.key) return WILDCARD_ONLY;
    if (key === NOTHING.key) return NOTHING;
    const sorted = [...new Set(names.filter((n) => n !== "*"))].sort();
    const held = this.interned.get(key);
    if (!held) return Object.freeze({ wildcard, names: Object.freeze(sorted), key });
    // The key is a fingerprint: share only what is really equal. Responses are cached by
    // key, so a different list that collided gets a key of its own.
    const same =
      held.sub.wildcard === wildcard && held.sub.names.length === sorted.length && held.sub.names.every((n, i) => n === sorted[i]);
    return same ? held.sub : Object.freeze({ wildcard, names: Object.freeze(sorted), key: `${key}#${++this.collisions}` });
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
    if (--held.refs <= 0) this.interned.delete(sub.key);
  }
}
