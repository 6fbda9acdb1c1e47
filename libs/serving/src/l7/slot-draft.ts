// The mutable collector a slot plan is assembled in, then frozen into an L7SlotPlan.
import type { RouteBackend, RouteResource, RouteRule, SecretResource } from "@sharedlb/contracts";
import type { NodeEndpoint } from "../node-selection.js";
import { isWildcard } from "./hostnames.js";
import { l7ClusterName, sdsSecretName } from "./naming.js";
import { comparePrecedence, compareText, type RankedMatch } from "./precedence.js";
import { rulePairProblem, ruleProblem } from "./rule-checks.js";
import type { CompiledRule, L7SlotCache } from "./slot-cache.js";
import type {
  ApiListenerPlan,
  BackendProtocol,
  ChainPlan,
  ClusterPlan,
  L7ObjectRef,
  RoutePlan,
  SecretPlan,
  VirtualHostPlan,
  WeightedCluster,
} from "./types.js";

const H2_APP_PROTOCOLS = new Set(["grpc", "h2c", "kubernetes.io/h2c"]);

type Ranked = RoutePlan & RankedMatch;

/** A tenant route as the view holds it: `age` stands for its creation order. */
export interface HeldRoute {
  readonly route: RouteResource;
  readonly age: number;
}

export class ObjectSet {
  private readonly byId = new Map<string, L7ObjectRef>();
  add(ref: L7ObjectRef, id = objectId(ref)): void {
    this.byId.set(id, ref);
  }
  addAll(refs: Iterable<L7ObjectRef>): void {
    for (const r of refs) this.add(r);
  }
  sorted(): L7ObjectRef[] {
    return [...this.byId.entries()].sort(([a], [b]) => compareText(a, b)).map(([, r]) => r);
  }
}

export function objectId(ref: Pick<L7ObjectRef, "kind" | "cluster" | "namespace" | "name">): string {
  return `${ref.kind}/${ref.cluster}/${ref.namespace}/${ref.name}`;
}

export class VhostDraft {
  readonly routes = new Map<string, Ranked>();
  /** Ingress defaultBackend: after every rule, whatever its precedence (made with the first). */
  private fallbacks: Map<string, Ranked> | undefined;
  /** The objects served in it: kept only where they are read (a TLS chain's virtual hosts). */
  readonly objects: ObjectSet | undefined;
  /** Whether a GRPCRoute pair is in it (what proxyless gRPC API listeners are made of). */
  grpc = false;

  constructor(
    readonly hostname: string,
    tracksObjects = true,
  ) {
    this.objects = tracksObjects ? new ObjectSet() : undefined;
  }

  add(ranked: Ranked, fallback: boolean): void {
    if (!fallback) {
      this.routes.set(ranked.name, ranked);
      if (ranked.object.kind === "grpcroute") this.grpc = true;
      return;
    }
    this.fallbacks ??= new Map();
    this.fallbacks.set(ranked.name, ranked);
  }

  freeze(strip: (r: Ranked) => RoutePlan = stripRank): VirtualHostPlan {
    const sorted = [...this.routes.values()].sort(comparePrecedence);
    const fallbacks = [...(this.fallbacks?.values() ?? [])].sort(comparePrecedence);
    return { hostname: this.hostname, routes: [...sorted, ...fallbacks].map(strip) };
  }
}

type ChainDraft =
  | { mode: "Terminate"; hostname: string; secrets: string[]; vhosts: Map<string, VhostDraft>; objects: ObjectSet }
  | { mode: "Passthrough"; hostname: string; backends: WeightedCluster[]; objects: ObjectSet };

export class SlotDraft {
  readonly warnings = new Set<string>();
  readonly objects = new ObjectSet();
  readonly listenerOwners = new ObjectSet();
  readonly vhosts = new Map<string, VhostDraft>();
  private readonly chains = new Map<string, ChainDraft>();
  private readonly secrets = new Map<string, { secret: SecretResource; objects: ObjectSet }>();
  private readonly clusters = new Map<string, Omit<ClusterPlan, "objects" | "nodePort"> & { nodePort: number; objects: ObjectSet }>();

  constructor(
    private readonly endpointsOf: (cluster: string) => readonly NodeEndpoint[],
    /** Keeps each route's compiled rules and RoutePlans between plans of the slot. */
    private readonly cache?: L7SlotCache,
  ) {}

  /** A ranked pair's RoutePlan: with a cache, the same object as long as the pair is. */
  readonly strip = (r: Ranked): RoutePlan => (this.cache ? this.cache.routePlan(r, () => stripRank(r)) : stripRank(r));

  warn(text: string): void {
    this.warnings.add(text);
  }

  vhost(map: Map<string, VhostDraft>, hostname: string): VhostDraft {
    let v = map.get(hostname);
    if (!v) {
      // The slot's own virtual hosts (the HTTP listener's) need no object set: nothing reads it.
      v = new VhostDraft(hostname, map !== this.vhosts);
      map.set(hostname, v);
    }
    return v;
  }

  /** The Terminate chain of a hostname, or undefined when a Passthrough one holds it. */
  terminateChain(hostname: string, secrets: readonly string[], owner: L7ObjectRef): Map<string, VhostDraft> | undefined {
    const held = this.chains.get(hostname);
    if (held && held.mode !== "Terminate") {
      this.warn(`${describe(owner)}: ${hostname} is already a TLS passthrough chain on this port, not terminated here`);
      return undefined;
    }
    const chain: ChainDraft = held ?? { mode: "Terminate", hostname, secrets: [], vhosts: new Map(), objects: new ObjectSet() };
    if (chain.secrets.length === 0) chain.secrets.push(...secrets);
    chain.objects.add(owner);
    this.chains.set(hostname, chain);
    return chain.vhosts;
  }

  passthroughChain(hostname: string, backends: readonly WeightedCluster[], objects: readonly L7ObjectRef[]): void {
    const held = this.chains.get(hostname);
    if (held) {
      this.warn(`${describe(objects[objects.length - 1] ?? objects[0])}: ${hostname} already has a filter chain on this port`);
      return;
    }
    const set = new ObjectSet();
    set.addAll(objects);
    this.chains.set(hostname, { mode: "Passthrough", hostname, backends: [...backends], objects: set });
  }

  /** The SDS name of a certificate the view holds, or undefined (with a warning). */
  secret(cluster: string, namespace: string, name: string, found: SecretResource | undefined, owner: L7ObjectRef): string | undefined {
    const sds = sdsSecretName(cluster, namespace, name);
    if (!found) {
      this.warn(`${describe(owner)}: certificate Secret ${namespace}/${name} is not published (invalid, expired or not permitted)`);
      return undefined;
    }
    let held = this.secrets.get(sds);
    if (!held) {
      held = { secret: found, objects: new ObjectSet() };
      this.secrets.set(sds, held);
    }
    held.objects.add(owner);
    return sds;
  }

  /** The weighted clusters of a rule's backends (weight 0 left out), registering each cluster. */
  backends(cluster: string, backends: readonly RouteBackend[], protocol: (b: RouteBackend) => BackendProtocol, object: L7ObjectRef) {
    for (const b of backends) {
      const p = protocol(b);
      this.cluster(l7ClusterName(cluster, b.namespace, b.service, p, b.port), cluster, b, p, object, objectId(object));
    }
    return weightedClusters(cluster, backends, protocol);
  }

  /** Registers backend `b` as cluster `name` (l7ClusterName of the rest) for `object` (`id`). */
  private cluster(name: string, cluster: string, b: RouteBackend, protocol: BackendProtocol, object: L7ObjectRef, id: string): void {
    let c = this.clusters.get(name);
    if (!c) {
      c = { name, protocol, nodePort: b.nodePort, endpoints: this.endpointsOf(cluster), objects: new ObjectSet() };
      this.clusters.set(name, c);
    } else if (b.nodePort !== 0 && (c.nodePort === 0 || b.nodePort < c.nodePort)) {
      // Two companions of one ClusterIP Service both reach it; any fixed choice will do.
      c.nodePort = b.nodePort;
    }
    c.objects.add(object, id);
  }

  /**
   * Adds every (rule, match) pair of a rule to a virtual host, leaving out (with a
   * warning) what Envoy could not take. `fallback` puts it after all rules.
   */
  addRule(vhost: VhostDraft, held: HeldRoute, ref: L7ObjectRef, ruleIndex: number, rule: RouteRule, fallback = false): void {
    // What a rule compiles to depends on the route alone (`held` is a new object whenever
    // the route is applied again; the fallback of an Ingress is its rule `rules.length`).
    const compile = () => compileRule(held, ref, ruleIndex, rule);
    const compiled = this.cache ? this.cache.rule(held, ruleIndex, compile) : compile();
    for (const w of compiled.warnings) this.warn(w);
    for (const r of compiled.registrations) this.cluster(r.name, held.route.cluster, r.backend, r.protocol, compiled.ref, compiled.id);
    for (const ranked of compiled.ranked) vhost.add(ranked, fallback);
    if (compiled.ranked.length > 0) {
      vhost.objects?.add(compiled.ref, compiled.id);
      this.objects.add(compiled.ref, compiled.id);
    }
  }

  /** The virtual hosts of Terminate chains that have a certificate (served ones). */
  servedChainVhosts(): VhostDraft[] {
    return [...this.chains.values()].flatMap((c) => (c.mode === "Terminate" && c.secrets.length > 0 ? [...c.vhosts.values()] : []));
  }

  freezeChains(): ChainPlan[] {
    const out: ChainPlan[] = [];
    for (const c of [...this.chains.values()].sort((a, b) => compareText(a.hostname, b.hostname))) {
      if (c.mode === "Passthrough") {
        if (c.backends.length === 0) {
          this.warn(`${c.hostname}: the TLS passthrough route has no backend, connections are refused`);
          continue;
        }
        out.push({ mode: "Passthrough", hostname: c.hostname, backends: c.backends, objects: c.objects.sorted() });
        continue;
      }
      if (c.secrets.length === 0) {
        this.warn(`${c.hostname}: no usable certificate, the TLS chain is not served`);
        continue;
      }
      const objects = new ObjectSet();
      objects.addAll(c.objects.sorted());
      const virtualHosts = [...c.vhosts.values()].sort((a, b) => compareText(a.hostname, b.hostname));
      for (const v of virtualHosts) objects.addAll(v.objects?.sorted() ?? []);
      out.push({
        mode: "Terminate",
        hostname: c.hostname,
        secrets: c.secrets,
        virtualHosts: virtualHosts.map((v) => v.freeze(this.strip)),
        objects: objects.sorted(),
      });
    }
    return out;
  }

  /** Secrets still used by a served chain. */
  freezeSecrets(chains: readonly ChainPlan[]): SecretPlan[] {
    const used = new Set(chains.flatMap((c) => (c.mode === "Terminate" ? c.secrets : [])));
    return [...this.secrets.entries()]
      .filter(([name]) => used.has(name))
      .sort(([a], [b]) => compareText(a, b))
      .map(([name, s]) => ({ name, secret: s.secret, objects: s.objects.sorted() }));
  }

  freezeClusters(): ClusterPlan[] {
    return [...this.clusters.values()]
      .sort((a, b) => compareText(a.name, b.name))
      .map((c) => ({ name: c.name, protocol: c.protocol, nodePort: c.nodePort, endpoints: c.endpoints, objects: c.objects.sorted() }));
  }
}

/** Two refs to one Service port are one cluster with their weights added; weight 0 is left out. */
function weightedClusters(
  cluster: string,
  backends: readonly RouteBackend[],
  protocol: (b: RouteBackend) => BackendProtocol,
): WeightedCluster[] {
  const weights = new Map<string, number>();
  for (const b of backends) {
    const name = l7ClusterName(cluster, b.namespace, b.service, protocol(b), b.port);
    if (b.weight > 0) weights.set(name, (weights.get(name) ?? 0) + b.weight);
  }
  return [...weights].map(([name, weight]): WeightedCluster => ({ cluster: name, weight }));
}

/**
 * Every (rule, match) pair of a rule as ranked routes, leaving out (with a warning) what
 * Envoy could not take, and the backends the rule registers. A function of the route
 * alone, whatever virtual host or slot it is added to.
 */
function compileRule(held: HeldRoute, ref: L7ObjectRef, ruleIndex: number, rule: RouteRule): CompiledRule<Ranked> {
  const route = held.route;
  const where = `${describe(ref)} rules[${ruleIndex}]`;
  const problem = ruleProblem(rule);
  const id = objectId(ref);
  if (problem) return { ref, id, warnings: [`${where}: ${problem}; rule not served`], registrations: [], ranked: [] };
  const protocol = (b: RouteBackend): BackendProtocol =>
    route.sourceKind === "GRPCRoute" || H2_APP_PROTOCOLS.has((b.appProtocol ?? "").toLowerCase()) ? "h2" : "http";
  const registration = (backend: RouteBackend) => {
    const p = protocol(backend);
    return { name: l7ClusterName(route.cluster, backend.namespace, backend.service, p, backend.port), backend, protocol: p };
  };
  const registrations = rule.backends.map(registration);
  const backends = weightedClusters(route.cluster, rule.backends, protocol);
  const mirrors: { cluster: string; percent: number }[] = [];
  for (const f of rule.filters) {
    if (f.type !== "RequestMirror" || f.percent === 0) continue;
    const mirror = { ...f.backend, weight: 1 };
    registrations.push(registration(mirror));
    const [m] = weightedClusters(route.cluster, [mirror], protocol);
    if (m) mirrors.push({ cluster: m.cluster, percent: f.percent });
  }
  const warnings: string[] = [];
  const ranked: Ranked[] = [];
  const matches = rule.matches.length > 0 ? rule.matches : [{}];
  matches.forEach((match, matchIndex) => {
    const p = rulePairProblem(rule, match);
    if (p) {
      warnings.push(`${where}.matches[${matchIndex}]: ${p}; not served`);
      return;
    }
    ranked.push({
      name: `${id}/rule-${ruleIndex}/match-${matchIndex}`,
      object: ref,
      match,
      filters: rule.filters,
      backends,
      mirrors,
      requestTimeoutMs: rule.timeouts?.requestMs,
      backendRequestTimeoutMs: rule.timeouts?.backendRequestMs,
      age: held.age,
      objectKey: `${ref.cluster}/${ref.namespace}/${ref.name}`,
      kind: ref.kind,
      ruleIndex,
      matchIndex,
    });
  });
  return { ref, id, warnings, registrations, ranked };
}

/**
 * Proxyless gRPC: each exact GRPCRoute hostname served on the slot, with the GRPCRoute
 * routes of its virtual host. Wildcards and `*` are no `xds:///` target.
 */
export function apiListeners(vhosts: readonly VhostDraft[], strip: (r: Ranked) => RoutePlan = stripRank): ApiListenerPlan[] {
  const byHost = new Map<string, { routes: Map<string, Ranked>; objects: ObjectSet }>();
  for (const v of vhosts) {
    if (!v.grpc || v.hostname === "*" || isWildcard(v.hostname)) continue;
    for (const r of v.routes.values()) {
      if (r.object.kind !== "grpcroute") continue;
      let entry = byHost.get(v.hostname);
      if (!entry) {
        entry = { routes: new Map(), objects: new ObjectSet() };
        byHost.set(v.hostname, entry);
      }
      entry.routes.set(r.name, r);
      entry.objects.add(r.object);
    }
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => compareText(a, b))
    .map(([hostname, e]) => ({
      hostname,
      routes: [...e.routes.values()].sort(comparePrecedence).map(strip),
      objects: e.objects.sorted(),
    }));
}

function stripRank(r: Ranked): RoutePlan {
  return {
    name: r.name,
    object: r.object,
    match: r.match,
    filters: r.filters,
    backends: r.backends,
    mirrors: r.mirrors,
    requestTimeoutMs: r.requestTimeoutMs,
    backendRequestTimeoutMs: r.backendRequestTimeoutMs,
  };
}

export function describe(ref: L7ObjectRef | undefined): string {
  if (!ref) return "an object";
  return `${ref.kind} ${ref.cluster}/${ref.namespace}/${ref.name}`;
}
