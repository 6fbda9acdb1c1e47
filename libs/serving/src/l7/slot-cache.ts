// What one L7 edit leaves as it was, kept between rebuilds of one slot: the planner's
// compiled rules of each route, and the encoded bytes of routes, virtual hosts, clusters
// and assignments. Pure memory, no I/O; its owner keeps one per slot and drops it with
// the slot. Every entry is keyed by the identity of an immutable input (the view's
// HeldRoute, a plan's RankedRoute or RoutePlan) or checked against the content it was
// made from, so what it hands back is what the uncached path computes, byte for byte.
import type { RouteBackend } from "@sharedlb/contracts";
import type { BuiltResource } from "../envoy-resources.js";
import type { NodeEndpoint } from "../node-selection.js";
import type { BackendProtocol, ClusterPlan, L7ObjectRef, RoutePlan } from "./types.js";

/** A (rule, match) pair ranked for precedence (slot-draft's Ranked), as the cache holds it. */
export type CachedRanked = RoutePlan & { readonly name: string };

/** What adding one rule of a route does to a draft, whatever virtual host it goes to. */
export interface CompiledRule<R extends CachedRanked = CachedRanked> {
  /** The route's ref and its objectId: the same objects for every plan of this version of the route. */
  readonly ref: L7ObjectRef;
  readonly id: string;
  readonly warnings: readonly string[];
  /** Every backend the rule registers (weight 0 and mirrors included), in order. */
  readonly registrations: readonly { readonly name: string; readonly backend: RouteBackend; readonly protocol: BackendProtocol }[];
  /** One per servable match. */
  readonly ranked: readonly R[];
}

interface EncodedVhost {
  readonly domains: readonly string[];
  readonly routes: readonly RoutePlan[];
  readonly bytes: Uint8Array;
  /** The build that last used it. */
  used: number;
}

interface EncodedCluster {
  readonly plan: ClusterPlan;
  readonly cluster: BuiltResource;
  readonly assignment: BuiltResource;
  used: number;
}

export class L7SlotCache {
  private readonly rules = new WeakMap<object, Map<number, CompiledRule>>();
  private readonly plans = new WeakMap<object, RoutePlan>();
  private readonly routes = new WeakMap<RoutePlan, Uint8Array>();
  private readonly hostnames = new WeakMap<object, { listener: string | undefined; claims: unknown; hosts: string[] }[]>();
  /** Virtual hosts by RouteConfiguration name, then by name; clusters by name: what the last build used. */
  private readonly vhosts = new Map<string, Map<string, EncodedVhost>>();
  private readonly clusters = new Map<string, EncodedCluster>();
  private build = 0;

  /** A route's rule `index`, compiled once per version of the route (`held`: the view's HeldRoute). */
  rule<R extends CachedRanked>(held: object, index: number, compile: () => CompiledRule<R>): CompiledRule<R> {
    let byIndex = this.rules.get(held);
    if (!byIndex) {
      byIndex = new Map();
      this.rules.set(held, byIndex);
    }
    let c = byIndex.get(index);
    if (!c) {
      c = compile();
      byIndex.set(index, c);
    }
    return c as CompiledRule<R>;
  }

  /**
   * The hostnames a route (the view's RouteResource) is served under on a listener with
   * hostname `listener` and claims `claims` (by identity: the allocation's list, or "all").
   */
  hosts(route: object, listener: string | undefined, claims: unknown, make: () => string[]): string[] {
    let held = this.hostnames.get(route);
    if (!held) {
      held = [];
      this.hostnames.set(route, held);
    }
    const found = held.find((h) => h.listener === listener && h.claims === claims);
    if (found) return found.hosts;
    // A route has a parent or two: a few entries, the oldest dropped.
    if (held.length >= 4) held.shift();
    const hosts = make();
    held.push({ listener, claims, hosts });
    return hosts;
  }

  /** The RoutePlan of a ranked pair: one object per pair, so its encoding can be kept. */
  routePlan(ranked: object, strip: () => RoutePlan): RoutePlan {
    let p = this.plans.get(ranked);
    if (!p) {
      p = strip();
      this.plans.set(ranked, p);
    }
    return p;
  }

  /** The encoded envoy.config.route.v3.Route of a RoutePlan. */
  route(plan: RoutePlan, encode: () => Uint8Array): Uint8Array {
    let b = this.routes.get(plan);
    if (!b) {
      b = ownCopy(encode());
      this.routes.set(plan, b);
    }
    return b;
  }

  /** Starts a build: virtual hosts and clusters it does not use are dropped at `endBuild`. */
  beginBuild(): void {
    this.build++;
  }

  endBuild(): void {
    for (const [scope, byName] of this.vhosts) {
      for (const [name, v] of byName) if (v.used !== this.build) byName.delete(name);
      if (byName.size === 0) this.vhosts.delete(scope);
    }
    for (const [name, c] of this.clusters) if (c.used !== this.build) this.clusters.delete(name);
  }

  /**
   * The encoded envoy.config.route.v3.VirtualHost `name` of RouteConfiguration `scope`,
   * re-encoded only when its domains or routes (by identity) changed.
   */
  vhost(scope: string, name: string, domains: readonly string[], routes: readonly RoutePlan[], encode: () => Uint8Array): Uint8Array {
    let byName = this.vhosts.get(scope);
    if (!byName) {
      byName = new Map();
      this.vhosts.set(scope, byName);
    }
    let v = byName.get(name);
    if (!v || !sameList(v.domains, domains) || !sameList(v.routes, routes)) {
      v = { domains, routes, bytes: ownCopy(encode()), used: this.build };
      byName.set(name, v);
    }
    v.used = this.build;
    return v.bytes;
  }

  /**
   * A cluster's Cluster and ClusterLoadAssignment: the same BuiltResource objects while its
   * plan is unchanged, the same bytes while only the objects it carries changed.
   */
  cluster(
    plan: ClusterPlan,
    encode: () => { cluster: Uint8Array; assignment: Uint8Array },
    built: (bytes: { cluster: Uint8Array; assignment: Uint8Array }) => { cluster: BuiltResource; assignment: BuiltResource },
  ): { cluster: BuiltResource; assignment: BuiltResource } {
    const held = this.clusters.get(plan.name);
    let next: EncodedCluster;
    if (held && sameEncoding(held.plan, plan)) {
      next = sameRefs(held.plan.objects, plan.objects)
        ? held
        : { plan, ...built({ cluster: held.cluster.any, assignment: held.assignment.any }), used: this.build };
    } else {
      const bytes = encode();
      next = { plan, ...built({ cluster: ownCopy(bytes.cluster), assignment: ownCopy(bytes.assignment) }), used: this.build };
    }
    next.used = this.build;
    this.clusters.set(plan.name, next);
    return { cluster: next.cluster, assignment: next.assignment };
  }
}

/** Whether two cluster plans encode alike (objects aside). */
function sameEncoding(a: ClusterPlan, b: ClusterPlan): boolean {
  return a.name === b.name && a.protocol === b.protocol && a.nodePort === b.nodePort && sameEndpoints(a.endpoints, b.endpoints);
}

function sameEndpoints(a: readonly NodeEndpoint[], b: readonly NodeEndpoint[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return y !== undefined && x.node === y.node && x.address === y.address && x.unhealthy === y.unhealthy;
  });
}

function sameRefs(a: readonly L7ObjectRef[], b: readonly L7ObjectRef[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return (
      y !== undefined &&
      (x === y ||
        (x.kind === y.kind && x.cluster === y.cluster && x.namespace === y.namespace && x.name === y.name && x.generation === y.generation))
    );
  });
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/** Kept bytes get a buffer of their own, not a slice of a shared pool (see ResourceEntry). */
function ownCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
