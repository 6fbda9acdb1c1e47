// Stage 1: the tenant objects on one L7 (IP, port) → the slot's IR (L7SlotPlan).
import type {
  GatewayListener,
  GatewayResource,
  L7Allocation,
  ListenerAllocation,
  RouteResource,
  SecretResource,
} from "@sharedlb/contracts";
import type { NodeEndpoint } from "../node-selection.js";
import { claimed, covers, effectiveHostnames } from "./hostnames.js";
import { compareText } from "./precedence.js";
import type { L7SlotCache } from "./slot-cache.js";
import { apiListeners, describe, type HeldRoute, SlotDraft, type VhostDraft } from "./slot-draft.js";
import type { L7ListenerKind, L7ObjectRef, L7SlotPlan } from "./types.js";

/** One Allocated listener of a Gateway or Ingress on the slot. */
export interface SlotHolder {
  readonly allocation: L7Allocation;
  readonly listener: ListenerAllocation;
}

/** What the planner reads from the view. */
export interface PlanSources {
  gateway(cluster: string, namespace: string, name: string): GatewayResource | undefined;
  ingress(cluster: string, namespace: string, name: string): HeldRoute | undefined;
  /** Routes of the cluster with a parentRef naming this Gateway. */
  attachedRoutes(cluster: string, namespace: string, name: string): readonly HeldRoute[];
  secret(cluster: string, namespace: string, name: string): SecretResource | undefined;
  endpoints(cluster: string): readonly NodeEndpoint[];
}

type Claims = readonly string[] | "all";

const ROUTE_KINDS = { HTTPRoute: "httproute", GRPCRoute: "grpcroute", TLSRoute: "tlsroute", Ingress: "ingress" } as const;

export function listenerKindOf(protocol: ListenerAllocation["protocol"]): L7ListenerKind | undefined {
  if (protocol === "HTTP") return "http";
  if (protocol === "HTTPS" || protocol === "TLS") return "https";
  return undefined;
}

export function routeRef(route: RouteResource): L7ObjectRef {
  return {
    cluster: route.cluster,
    namespace: route.namespace,
    name: route.name,
    kind: ROUTE_KINDS[route.sourceKind],
    generation: route.generation,
  };
}

/** The plan of one slot, or undefined when nothing is served on it. */
export function planSlot(
  key: string,
  where: { pool: string; ip: string; port: number },
  holders: readonly SlotHolder[],
  sources: PlanSources,
  /** The slot's cache, kept by the caller between plans: the same plan, from less work. */
  cache?: L7SlotCache,
): L7SlotPlan | undefined {
  const sorted = [...holders].sort((a, b) => compareText(holderId(a), holderId(b)));
  const first = sorted[0];
  const kind = first && listenerKindOf(first.listener.protocol);
  if (!first || !kind) return undefined;
  const draft = new SlotDraft((cluster) => sources.endpoints(cluster), cache);
  for (const h of sorted) {
    if (listenerKindOf(h.listener.protocol) !== kind) {
      draft.warn(`${h.allocation.kind} ${holderId(h)}: ${h.listener.protocol} on a port already serving ${kind}, not served`);
      continue;
    }
    const claims: Claims = h.listener.shared ? h.listener.claimedHostnames : "all";
    if (h.allocation.kind === "gateway") planGatewayListener(draft, kind, h, claims, sources, cache);
    else if (h.allocation.kind === "ingress") planIngressListener(draft, kind, h, claims, sources);
  }
  const chains = draft.freezeChains();
  const vhostDrafts = [...draft.vhosts.values()].sort((a, b) => compareText(a.hostname, b.hostname));
  return {
    key,
    ...where,
    listener: kind,
    virtualHosts: vhostDrafts.map((v) => v.freeze(draft.strip)),
    chains,
    secrets: draft.freezeSecrets(chains),
    clusters: draft.freezeClusters(),
    apiListeners: apiListeners([...vhostDrafts, ...draft.servedChainVhosts()], draft.strip),
    objects: draft.objects.sorted(),
    listenerOwners: draft.listenerOwners.sorted(),
    warnings: [...draft.warnings].sort(),
  };
}

function holderId(h: SlotHolder): string {
  const a = h.allocation;
  return `${a.cluster}/${a.namespace}/${a.name}/${a.kind}/${h.listener.name}`;
}

function planGatewayListener(
  draft: SlotDraft,
  kind: L7ListenerKind,
  h: SlotHolder,
  claims: Claims,
  sources: PlanSources,
  cache: L7SlotCache | undefined,
): void {
  const a = h.allocation;
  const gw = sources.gateway(a.cluster, a.namespace, a.name);
  if (!gw || gw.uid !== a.uid) return; // the allocator has not caught up with a delete or re-create
  const spec = gw.listeners.find((l) => l.name === h.listener.name);
  if (!spec) return;
  const owner: L7ObjectRef = { cluster: gw.cluster, namespace: gw.namespace, name: gw.name, kind: "gateway", generation: gw.generation };
  const routes = sources.attachedRoutes(gw.cluster, gw.namespace, gw.name).filter((r) => attaches(r.route, gw, spec));
  const hostsOf = (route: RouteResource) => {
    const make = () => effectiveHostnames(spec.hostname, route.hostnames).filter((x) => servable(claims, x));
    return cache ? cache.hosts(route, spec.hostname, claims, make) : make();
  };
  draft.listenerOwners.add(owner);
  draft.objects.add(owner);
  if (kind === "http") {
    for (const held of routes) {
      const ref = routeRef(held.route);
      for (const host of hostsOf(held.route)) {
        held.route.rules.forEach((rule, i) => {
          draft.addRule(draft.vhost(draft.vhosts, host), held, ref, i, rule);
        });
      }
    }
    return;
  }
  const chainHost = spec.hostname ?? "*";
  if (!servable(claims, chainHost)) return;
  if (spec.tls?.mode === "Passthrough") {
    for (const held of routes) {
      const ref = routeRef(held.route);
      const [rule, ...rest] = held.route.rules;
      if (rest.length > 0) draft.warn(`${describe(ref)}: only the first rule of a TLSRoute is served`);
      const backends = draft.backends(gw.cluster, rule?.backends ?? [], () => "tls", ref);
      for (const host of hostsOf(held.route)) draft.passthroughChain(host, backends, [owner, ref]);
      draft.objects.add(ref);
    }
    return;
  }
  const secrets = (spec.tls?.certificateRefs ?? []).flatMap((c) => {
    const name = draft.secret(gw.cluster, c.namespace, c.name, sources.secret(gw.cluster, c.namespace, c.name), owner);
    return name === undefined ? [] : [name];
  });
  if (secrets.length === 0) {
    draft.warn(`${describe(owner)} listener ${spec.name}: no usable certificate, ${chainHost} is not served`);
    return;
  }
  const vhosts = draft.terminateChain(chainHost, secrets, owner);
  if (!vhosts) return;
  for (const held of routes) {
    const ref = routeRef(held.route);
    for (const host of hostsOf(held.route)) {
      const v = draft.vhost(vhosts, host);
      held.route.rules.forEach((rule, i) => {
        draft.addRule(v, held, ref, i, rule);
      });
    }
  }
}

/** Whether a route may be served on a listener (the watcher checked; the kind must also fit the protocol). */
function attaches(route: RouteResource, gw: GatewayResource, spec: GatewayListener): boolean {
  const parent = route.parentRefs.some(
    (p) =>
      p.namespace === gw.namespace &&
      p.name === gw.name &&
      (p.sectionName === undefined || p.sectionName === spec.name) &&
      (p.port === undefined || p.port === spec.port),
  );
  if (!parent) return false;
  const allowed = spec.allowedRoutes;
  if (!allowed.allNamespaces && !allowed.namespaces.includes(route.namespace)) return false;
  if (allowed.kinds.length > 0 && !allowed.kinds.includes(route.sourceKind)) return false;
  if (spec.protocol === "TLS") return spec.tls?.mode === "Passthrough" && route.sourceKind === "TLSRoute";
  return route.sourceKind === "HTTPRoute" || route.sourceKind === "GRPCRoute";
}

/** `*` only where the listener holds every hostname. */
function servable(claims: Claims, hostname: string): boolean {
  if (hostname === "*") return claims === "all";
  return claimed(claims, hostname);
}

function planIngressListener(draft: SlotDraft, kind: L7ListenerKind, h: SlotHolder, claims: Claims, sources: PlanSources): void {
  const a = h.allocation;
  const held = sources.ingress(a.cluster, a.namespace, a.name);
  if (!held || held.route.uid !== a.uid) return;
  const ingress = held.route;
  const ref = routeRef(ingress);
  draft.listenerOwners.add(ref);
  draft.objects.add(ref);
  const ruleHosts = (i: number): string[] => {
    const hosts = ingress.rules[i]?.hostnames ?? ingress.hostnames;
    return (hosts.length > 0 ? [...hosts] : ["*"]).filter((x) => servable(claims, x));
  };
  const fill = (vhosts: Map<string, VhostDraft>, inChain: (host: string) => boolean) => {
    const touched: VhostDraft[] = [];
    ingress.rules.forEach((rule, i) => {
      for (const host of ruleHosts(i).filter(inChain)) {
        const v = draft.vhost(vhosts, host);
        draft.addRule(v, held, ref, i, rule);
        touched.push(v);
      }
    });
    if (!ingress.defaultBackend) return;
    const fallbackRule = { matches: [], filters: [], backends: [ingress.defaultBackend] };
    const hosts = new Set([...touched.map((v) => v.hostname), ...(claims === "all" ? ["*"] : [])]);
    for (const host of [...hosts].filter(inChain)) {
      draft.addRule(draft.vhost(vhosts, host), held, ref, ingress.rules.length, fallbackRule, true);
    }
  };
  if (kind === "http") {
    fill(draft.vhosts, () => true);
    return;
  }
  for (const tls of ingress.tls ?? []) {
    const hosts = tls.hosts.length > 0 ? tls.hosts : ["*"];
    for (const chainHost of hosts.filter((x) => servable(claims, x))) {
      const secret = draft.secret(
        ingress.cluster,
        tls.secret.namespace,
        tls.secret.name,
        sources.secret(ingress.cluster, tls.secret.namespace, tls.secret.name),
        ref,
      );
      if (secret === undefined) continue;
      const vhosts = draft.terminateChain(chainHost, [secret], ref);
      if (vhosts) fill(vhosts, (host) => covers(chainHost, host));
    }
  }
}
