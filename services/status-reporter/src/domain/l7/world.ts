import type { GatewayResource, L7Allocation, Programmed, RouteResource } from "@sharedlb/contracts";
import { DEFAULT_GATEWAY_CLASS, type L7ObjectKind, type RouteKind } from "./gateway-api.js";

/** Whether an object is served by sharedlb, has left it (so what we wrote goes), or was never seen. */
export type Presence = "served" | "left" | "unknown";

interface Fenced<T> {
  /** undefined: a tombstone (the object left sharedlb). */
  value: T | undefined;
  seq: number;
}

export interface GatewayInputs {
  presence: Presence;
  resource: GatewayResource | undefined;
  allocation: L7Allocation | undefined;
  programmed: Programmed[];
  /** Served routes with a parentRef to this Gateway. */
  routes: RouteResource[];
}

export interface ParentInputs {
  resource: GatewayResource | undefined;
  allocation: L7Allocation | undefined;
}

export interface RouteInputs {
  presence: Presence;
  resource: RouteResource | undefined;
  programmed: Programmed[];
  parent(namespace: string, name: string): ParentInputs;
}

export interface IngressInputs {
  presence: Presence;
  resource: RouteResource | undefined;
  allocation: L7Allocation | undefined;
}

export const workKey = (kind: L7ObjectKind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export function parseWorkKey(key: string): { kind: L7ObjectKind; namespace: string; name: string } {
  const [kind = "", namespace = "", name = ""] = key.split("/");
  return { kind: kind as L7ObjectKind, namespace, name };
}

const ROUTE_TOKEN = { Ingress: "ingress", HTTPRoute: "httproute", GRPCRoute: "grpcroute", TLSRoute: "tlsroute" } as const;

/**
 * What the LB side said about this cluster's L7 objects: the newest allocation, programmed
 * report (per fleet), normalized Gateway and route of each, fenced by stream sequence so a
 * redelivered older message never overwrites a newer one. Every update returns the work
 * keys whose status may have changed because of it.
 */
export class L7World {
  private readonly allocations = new Map<string, Fenced<L7Allocation>>();
  /** Per object: the latest report of each (fleet, reporting replica). */
  private readonly programmed = new Map<string, Map<string, Fenced<Programmed>>>();
  private readonly gateways = new Map<string, Fenced<GatewayResource>>();
  private readonly routes = new Map<string, Fenced<RouteResource>>();

  setAllocation(a: L7Allocation, seq: number): string[] {
    if (a.kind !== "gateway" && a.kind !== "ingress") return [];
    const key = workKey(a.kind, a.namespace, a.name);
    if (!fence(this.allocations, key, a, seq)) return [];
    return a.kind === "gateway" ? [key, ...this.routesOf(a.namespace, a.name)] : [key];
  }

  /** `source` is the reporting xds-gateway replica: each counts only the Envoys connected to it. */
  setProgrammed(p: Programmed, source: string, seq: number): string[] {
    if (p.kind === "service") return [];
    const key = workKey(p.kind, p.namespace, p.name);
    const reporters = this.programmed.get(key) ?? new Map<string, Fenced<Programmed>>();
    this.programmed.set(key, reporters);
    return fence(reporters, `${p.fleet} ${source}`, p, seq) ? [key] : [];
  }

  setGateway(namespace: string, name: string, r: GatewayResource | undefined, seq: number): string[] {
    const key = workKey("gateway", namespace, name);
    const before = this.gateways.get(key)?.value;
    if (!fence(this.gateways, key, r, seq)) return [];
    const classes = new Set([before?.gatewayClassName, r?.gatewayClassName].filter((c): c is string => !!c));
    return [key, ...[...classes].map((c) => workKey("gatewayclass", "", c)), ...this.routesOf(namespace, name)];
  }

  setRoute(kind: RouteKind | "ingress", namespace: string, name: string, r: RouteResource | undefined, seq: number): string[] {
    const key = workKey(kind, namespace, name);
    const before = this.routes.get(key)?.value;
    if (!fence(this.routes, key, r, seq)) return [];
    const parents = new Set([...(before?.parentRefs ?? []), ...(r?.parentRefs ?? [])].map((p) => workKey("gateway", p.namespace, p.name)));
    return [key, ...parents];
  }

  /** GatewayClasses to keep Accepted: the default name and every class a served Gateway names. */
  gatewayClasses(): string[] {
    const names = new Set([DEFAULT_GATEWAY_CLASS]);
    for (const g of this.gateways.values()) if (g.value) names.add(g.value.gatewayClassName);
    return [...names];
  }

  /** Every key something is known about: the start-up reconcile. */
  keys(): string[] {
    const out = new Set<string>([...this.allocations.keys(), ...this.gateways.keys(), ...this.routes.keys(), ...this.programmed.keys()]);
    for (const c of this.gatewayClasses()) out.add(workKey("gatewayclass", "", c));
    return [...out];
  }

  gateway(namespace: string, name: string): GatewayInputs {
    const key = workKey("gateway", namespace, name);
    const resource = this.gateways.get(key);
    const allocation = this.allocations.get(key);
    return {
      presence: presence(resource, allocation),
      resource: resource?.value,
      allocation: live(allocation?.value),
      programmed: this.reports(key),
      routes: [...this.routes.values()].flatMap(({ value }) =>
        value?.parentRefs.some((p) => p.namespace === namespace && p.name === name) ? [value] : [],
      ),
    };
  }

  route(kind: RouteKind, namespace: string, name: string): RouteInputs {
    const key = workKey(kind, namespace, name);
    const resource = this.routes.get(key);
    return {
      presence: presence(resource, undefined),
      resource: resource?.value,
      programmed: this.reports(key),
      parent: (ns, n) => {
        const k = workKey("gateway", ns, n);
        return { resource: this.gateways.get(k)?.value, allocation: live(this.allocations.get(k)?.value) };
      },
    };
  }

  ingress(namespace: string, name: string): IngressInputs {
    const key = workKey("ingress", namespace, name);
    const resource = this.routes.get(key);
    const allocation = this.allocations.get(key);
    return { presence: presence(resource, allocation), resource: resource?.value, allocation: live(allocation?.value) };
  }

  /** Forgets an object the tenant cluster no longer has (its tombstone was applied). */
  forget(key: string): void {
    if (this.routes.get(key)?.value === undefined) this.routes.delete(key);
    if (this.gateways.get(key)?.value === undefined) this.gateways.delete(key);
    if (this.allocations.get(key)?.value?.state === "Released") this.allocations.delete(key);
  }

  private reports(key: string): Programmed[] {
    return [...(this.programmed.get(key)?.values() ?? [])].flatMap((f) => (f.value ? [f.value] : []));
  }

  private routesOf(namespace: string, name: string): string[] {
    return this.gateway(namespace, name).routes.map((r) => workKey(ROUTE_TOKEN[r.sourceKind], r.namespace, r.name));
  }
}

function fence<T>(map: Map<string, Fenced<T>>, key: string, value: T | undefined, seq: number): boolean {
  const had = map.get(key);
  if (had && had.seq >= seq) return false;
  map.set(key, { value, seq });
  return true;
}

const live = (a: L7Allocation | undefined): L7Allocation | undefined => (a?.state === "Released" ? undefined : a);

function presence(resource: Fenced<unknown> | undefined, allocation: Fenced<L7Allocation> | undefined): Presence {
  if (resource?.value === undefined && resource !== undefined) return "left";
  if (allocation?.value?.state === "Released") return "left";
  if (resource?.value !== undefined || allocation?.value !== undefined) return "served";
  return "unknown";
}
