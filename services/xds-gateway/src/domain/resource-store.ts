import { RESOURCE_TYPES, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { ResourceEntry } from "./resource-entry.js";

export interface StoreChange {
  readonly typeUrl: ResourceTypeUrl;
  readonly name: string;
  readonly before: ResourceEntry | undefined;
  readonly after: ResourceEntry | undefined;
}

/** Two Services produced a resource of the same type and name. */
export interface NameConflict {
  readonly typeUrl: ResourceTypeUrl;
  readonly name: string;
  readonly owners: readonly string[];
  readonly winner: string;
}

export interface ReplaceResult {
  readonly changes: StoreChange[];
  readonly conflicts: NameConflict[];
}

/** One claimant (the normal case), or several keyed by owner. */
type Claim = ResourceEntry | Map<string, ResourceEntry>;

function effectiveOf(claim: Claim | undefined): ResourceEntry | undefined {
  if (claim === undefined || !(claim instanceof Map)) return claim;
  let best: ResourceEntry | undefined;
  for (const e of claim.values()) if (!best || e.owner < best.owner) best = e;
  return best;
}

/**
 * The first entry of `list` with a (type, name): a linear search for a Service's handful,
 * a map for an L7 slot's hundreds of clusters and assignments (a search per entry made
 * replace quadratic in them).
 */
function lookup(list: readonly ResourceEntry[]): (typeUrl: ResourceTypeUrl, name: string) => ResourceEntry | undefined {
  if (list.length <= 16) return (typeUrl, name) => list.find((e) => e.typeUrl === typeUrl && e.name === name);
  const byKey = new Map<string, ResourceEntry>();
  for (const e of list) {
    const k = `${e.typeUrl}\0${e.name}`;
    if (!byKey.has(k)) byKey.set(k, e);
  }
  return (typeUrl, name) => byKey.get(`${typeUrl}\0${name}`);
}

/**
 * All resources, by the Service (or L7 slot) that produced them. Slots are exclusive, so
 * two Services should never build the same listener; if stale data ever makes them (or
 * an API listener whose name looks like an L4 one, or one GRPCRoute hostname on two L7
 * slots), the lowest owner key wins. Any fixed rule
 * would do; this one depends only on the current state, so every replica picks alike.
 */
export class ResourceStore {
  /** A Service's resources: a handful, so a list beats a map. */
  private readonly owned = new Map<string, ResourceEntry[]>();
  private readonly claims = new Map<ResourceTypeUrl, Map<string, Claim>>(RESOURCE_TYPES.map((t) => [t, new Map()]));
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Makes `entries` the resources of `owner` for the given types (every type when
   * omitted); resources of other types stay. An entry equal to the one already held is
   * kept as is, so its cached encodings survive a rebuild that changed nothing.
   */
  replace(owner: string, entries: readonly ResourceEntry[], types?: ReadonlySet<ResourceTypeUrl>): ReplaceResult {
    const before = this.owned.get(owner) ?? [];
    const after: ResourceEntry[] = [];
    const touched: { typeUrl: ResourceTypeUrl; name: string; prev: ResourceEntry | undefined }[] = [];
    const held = lookup(before);
    const given = lookup(entries);
    for (const b of before) if (types && !types.has(b.typeUrl)) after.push(b);
    for (const e of entries) {
      const old = held(e.typeUrl, e.name);
      if (old?.sameAs(e)) {
        after.push(old);
        continue;
      }
      touched.push({ typeUrl: e.typeUrl, name: e.name, prev: this.get(e.typeUrl, e.name) });
      this.claim(e);
      after.push(e);
    }
    for (const b of before) {
      if (types && !types.has(b.typeUrl)) continue;
      if (given(b.typeUrl, b.name)) continue;
      touched.push({ typeUrl: b.typeUrl, name: b.name, prev: this.get(b.typeUrl, b.name) });
      this.unclaim(b);
    }
    if (after.length > 0) this.owned.set(owner, after);
    else this.owned.delete(owner);
    return this.settle(touched);
  }

  /** The resource served under (type, name), if any. */
  get(typeUrl: ResourceTypeUrl, name: string): ResourceEntry | undefined {
    return effectiveOf(this.claims.get(typeUrl)?.get(name));
  }

  private table(typeUrl: ResourceTypeUrl): Map<string, Claim> {
    const t = this.claims.get(typeUrl);
    if (!t) throw new Error(`unknown type ${typeUrl}`);
    return t;
  }

  private claim(e: ResourceEntry): void {
    const t = this.table(e.typeUrl);
    const c = t.get(e.name);
    if (c === undefined) {
      t.set(e.name, e);
      this.count++;
    } else if (c instanceof Map) {
      c.set(e.owner, e);
    } else if (c.owner === e.owner) {
      t.set(e.name, e);
    } else {
      t.set(
        e.name,
        new Map([
          [c.owner, c],
          [e.owner, e],
        ]),
      );
    }
  }

  private unclaim(e: ResourceEntry): void {
    const t = this.table(e.typeUrl);
    const c = t.get(e.name);
    if (c === undefined) return;
    if (!(c instanceof Map)) {
      if (c.owner !== e.owner) return;
      t.delete(e.name);
      this.count--;
      return;
    }
    c.delete(e.owner);
    if (c.size === 1) {
      const only = c.values().next();
      if (!only.done) t.set(e.name, only.value);
    }
  }

  private settle(touched: readonly { typeUrl: ResourceTypeUrl; name: string; prev: ResourceEntry | undefined }[]): ReplaceResult {
    const changes: StoreChange[] = [];
    const conflicts: NameConflict[] = [];
    for (const { typeUrl, name, prev } of touched) {
      const claim = this.table(typeUrl).get(name);
      const next = effectiveOf(claim);
      // L7 slots share backend clusters (one Service behind routes on :80 and :443): equal
      // bytes are one resource, not a conflict.
      if (claim instanceof Map && next && [...claim.values()].some((e) => e.version !== next.version)) {
        conflicts.push({ typeUrl, name, owners: [...claim.keys()].sort(), winner: next.owner });
      }
      // Another Service took over identical bytes: nothing a client could see.
      if (prev === next || (prev && next && prev.sameAs(next))) continue;
      changes.push({ typeUrl, name, before: prev, after: next });
    }
    return { changes, conflicts };
  }
}
