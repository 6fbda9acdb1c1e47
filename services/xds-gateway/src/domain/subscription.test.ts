import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { type RequestedNames, requestedNames, StreamSubscription, SubscriptionRegistry, WILDCARD_ONLY } from "./subscription.js";

const names = (n: number, prefix = "c") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const asIs = (name: string) => name;

describe("StreamSubscription", () => {
  it("a delta stream's subscription behaves as a set through subscribes, unsubscribes and re-interning", () => {
    const s = new StreamSubscription(new SubscriptionRegistry(), ENDPOINT_TYPE);
    s.update(names(100), [], asIs);
    expect(s.update(["x", "c6"], ["c5"], asIs).subscribed).toEqual(["x"]);
    expect(s.has("c5")).toBe(false);
    expect(s.has("c6")).toBe(true);
    expect(s.covers("x", false)).toBe(true);
    // Enough changes of its own that the stream interns its subscription again.
    s.update(names(40, "more"), names(40), asIs);
    s.update(["c5"], [], asIs);
    expect([...s].sort()).toEqual([...names(100).slice(40), "c5", "x", ...names(40, "more")].sort());
    expect([...s.interned().names]).toEqual([...s].sort());
  });

  it("delta streams with the same names share one subscription, and stop sharing when they diverge", () => {
    const registry = new SubscriptionRegistry();
    const a = new StreamSubscription(registry, ENDPOINT_TYPE);
    const b = new StreamSubscription(registry, ENDPOINT_TYPE);
    a.update(names(1000), [], asIs);
    b.update([...names(1000)].reverse(), [], asIs);
    expect(registry.size).toBe(1);
    expect(a.interned()).toBe(b.interned());
    a.update(names(300, "only-a"), [], asIs);
    expect(registry.size).toBe(2);
    expect(b.has("only-a1")).toBe(false);
    a.release();
    b.release();
    expect(registry.size).toBe(0);
  });

  it("delta: a first request naming what a held subscription holds shares it without keeping its names one by one", () => {
    const registry = new SubscriptionRegistry();
    const a = new StreamSubscription(registry, ENDPOINT_TYPE);
    a.update(names(1000), [], asIs);
    const untouched = (): never => {
      throw new Error("names kept one by one");
    };
    const b = new StreamSubscription(registry, ENDPOINT_TYPE);
    const update = b.update([...names(1000)].reverse(), [], untouched);
    expect(b.interned()).toBe(a.interned());
    expect(update.subscribed).toHaveLength(1000);
    expect(update.wildcardAdded).toBe(false);
    expect(b.has("c1")).toBe(true);
    // Other lists go the long way: a duplicate in place of a name, or the wildcard.
    const list = names(1000);
    const dup = new StreamSubscription(registry, ENDPOINT_TYPE);
    expect(() => dup.update([...list.slice(0, 999), list[0] as string], [], untouched)).toThrow("names kept one by one");
    const star = new StreamSubscription(registry, ENDPOINT_TYPE);
    star.update([...list, "*"], [], asIs);
    expect(star.wildcard).toBe(true);
    expect(star.interned()).not.toBe(a.interned());
    a.release();
    b.release();
    star.release();
    expect(registry.size).toBe(0);
  });

  it("coverage: the same token while two streams cover the same names, another once one has changes of its own", () => {
    const registry = new SubscriptionRegistry();
    const a = new StreamSubscription(registry, ENDPOINT_TYPE);
    const b = new StreamSubscription(registry, ENDPOINT_TYPE);
    a.update(names(100), [], asIs);
    b.update(names(100), [], asIs);
    expect(a.coverage()).toBe(b.coverage());
    // One change of its own is not interned yet (fewer than MIN_OWN_CHANGES), and the
    // streams no longer cover the same: "c5" is b's alone.
    a.update([], ["c5"], asIs);
    expect(a.covers("c5", false)).toBe(false);
    expect(b.covers("c5", false)).toBe(true);
    expect(a.coverage()).not.toBe(b.coverage());
    a.update(["c5"], [], asIs);
    expect(a.coverage()).toBe(b.coverage());
    a.update(["*"], [], asIs);
    expect(a.coverage()).not.toBe(b.coverage());
  });

  it("SotW and delta streams asking for the same names share one subscription", () => {
    const registry = new SubscriptionRegistry();
    const sotw = new StreamSubscription(registry, ENDPOINT_TYPE);
    const delta = new StreamSubscription(registry, ENDPOINT_TYPE);
    sotw.replace(requestedNames(names(50)));
    delta.update([...names(50)].reverse(), [], asIs);
    expect(sotw.interned()).toBe(delta.interned());
    expect(registry.size).toBe(1);
    sotw.release();
    delta.release();
    expect(registry.size).toBe(0);
  });

  it("SotW: a new list replaces the subscription and tells what it added; the same list in another order changes nothing", () => {
    const s = new StreamSubscription(new SubscriptionRegistry(), ENDPOINT_TYPE);
    s.replace(requestedNames(["a", "b"]));
    expect(s.replace(requestedNames(["b", "a"]))).toBeUndefined();
    expect(s.replace(requestedNames(["a", "c"]))?.added()).toEqual(["c"]);
    expect(s.has("b")).toBe(false);
  });

  it("SotW: a list repeated byte for byte (its wire digest) is recognised without fingerprinting its names", () => {
    const s = new StreamSubscription(new SubscriptionRegistry(), ENDPOINT_TYPE);
    s.replace({ ...requestedNames(["a", "b"]), wireDigest: "digest-1" });
    const untouchable: RequestedNames = {
      wireDigest: "digest-1",
      get fingerprint(): never {
        throw new Error("names fingerprinted");
      },
      list: () => {
        throw new Error("names decoded");
      },
    };
    expect(s.replace(untouchable)).toBeUndefined();
    // Other bytes: the fingerprint decides (the same names in another order change nothing).
    expect(s.replace({ ...requestedNames(["b", "a"]), wireDigest: "digest-2" })).toBeUndefined();
    expect(s.replace({ ...requestedNames(["a", "c"]), wireDigest: "digest-3" })?.added()).toEqual(["c"]);
    expect([...s]).toEqual(["a", "c"]);
  });

  it("SotW: a list with the bytes its subscription was interned from is recognised without digesting them, on any stream sharing it", () => {
    const registry = new SubscriptionRegistry();
    const [s1, s2] = [new StreamSubscription(registry, ENDPOINT_TYPE), new StreamSubscription(registry, ENDPOINT_TYPE)];
    const bytes = (text: string) => Buffer.from(text);
    s1.replace({ ...requestedNames(["a", "b"]), wire: bytes("a,b"), wireDigest: "d-ab" });
    s2.replace({ ...requestedNames(["a", "b"]), wire: bytes("a,b"), wireDigest: "d-ab" });
    const untouchable = (wire: Buffer): RequestedNames => ({
      wire,
      get wireDigest(): never {
        throw new Error("names digested");
      },
      get fingerprint(): never {
        throw new Error("names fingerprinted");
      },
      list: () => {
        throw new Error("names decoded");
      },
    });
    // A copy of the bytes (the request that carried them is long gone), equal bytes.
    expect(s1.replace(untouchable(bytes("a,b")))).toBeUndefined();
    expect(s2.replace(untouchable(bytes("a,b")))).toBeUndefined();
    // Other bytes: digest, then fingerprint, as before.
    expect(() => s1.replace(untouchable(bytes("b,a")))).toThrow("names digested");
    expect(s1.replace({ ...requestedNames(["b", "a"]), wire: bytes("b,a"), wireDigest: "d-ba" })).toBeUndefined();
    expect(s1.replace({ ...requestedNames(["a", "c"]), wire: bytes("a,c"), wireDigest: "d-ac" })?.added()).toEqual(["c"]);
    expect([...s1]).toEqual(["a", "c"]);
    expect([...s2]).toEqual(["a", "b"]);
  });

  it("SotW: a first request whose list was read as one a subscription was interned from joins it without touching its names", () => {
    const registry = new SubscriptionRegistry();
    const first = new StreamSubscription(registry, ENDPOINT_TYPE);
    first.replace({ ...requestedNames(["a", "b"]), wire: Buffer.from("a,b"), wireDigest: "d-ab" });
    const known = registry.wireForms.match(Buffer.from("a,b"), 0);
    expect(known).toBeDefined();
    const untouched = {
      wire: known as Buffer,
      get wireDigest(): never {
        throw new Error("names digested");
      },
      get fingerprint(): never {
        throw new Error("names fingerprinted");
      },
      list: (): never => {
        throw new Error("names decoded");
      },
    };
    const joining = new StreamSubscription(registry, ENDPOINT_TYPE);
    expect(joining.replace(untouched)?.added()).toEqual(["a", "b"]);
    expect(joining.interned()).toBe(first.interned());
    expect(joining.replace(untouched)).toBeUndefined();
    // Once no stream holds it, a stream that reads the same list again gets the same names.
    first.release();
    joining.release();
    const later = new StreamSubscription(registry, ENDPOINT_TYPE);
    later.replace(untouched);
    expect([...later]).toEqual(["a", "b"]);
    expect(registry.size).toBe(1);
  });

  it("legacy wildcard: an empty first LDS/CDS request means everything, in both protocols", () => {
    const registry = new SubscriptionRegistry();
    const sotw = new StreamSubscription(registry, CLUSTER_TYPE);
    sotw.replace(requestedNames([]));
    expect(sotw.interned()).toBe(WILDCARD_ONLY);
    // SotW: it stays so while the list stays empty, and ends with the first named list.
    expect(sotw.replace(requestedNames([]))).toBeUndefined();
    sotw.replace(requestedNames(["c1"]));
    expect(sotw.wildcard).toBe(false);
    expect(sotw.replace(requestedNames([]))).toBeDefined();
    expect(sotw.wildcard).toBe(false);
    const delta = new StreamSubscription(registry, LISTENER_TYPE);
    delta.update([], [], asIs);
    expect(delta.interned()).toBe(WILDCARD_ONLY);
    // Not for types that have no wildcard.
    const eds = new StreamSubscription(registry, ENDPOINT_TYPE);
    eds.update([], [], asIs);
    expect(eds.wildcard).toBe(false);
  });

  it("delta: an explicit * is added to and removed from named resources", () => {
    const s = new StreamSubscription(new SubscriptionRegistry(), LISTENER_TYPE);
    s.update(["api"], [], asIs);
    expect(s.covers("l1", true)).toBe(false);
    expect(s.update(["*"], [], asIs)).toEqual({ subscribed: [], wildcardAdded: true });
    expect(s.update(["*"], [], asIs).wildcardAdded).toBe(false);
    expect(s.covers("l1", true)).toBe(true);
    expect(s.covers("api-only", false)).toBe(false);
    s.update([], ["*"], asIs);
    expect(s.covers("l1", true)).toBe(false);
    expect(s.interned().names).toEqual(["api"]);
  });
});
