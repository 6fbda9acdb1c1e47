import type { envoy } from "@sharedlb/envoy-api";

// Reading Envoy route configurations the way Envoy evaluates them.

type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
type VirtualHost = envoy.config.route.v3.IVirtualHost;
type Route = envoy.config.route.v3.IRoute;

/** The virtual host whose domains contain `host` exactly. */
export function virtualHost(rc: RouteConfiguration | undefined, host: string): VirtualHost | undefined {
  return (rc?.virtualHosts ?? []).find((v) => (v.domains ?? []).includes(host));
}

export function domains(rc: RouteConfiguration | undefined): string[] {
  return (rc?.virtualHosts ?? []).flatMap((v) => v.domains ?? []).sort();
}

/** `exact:/x`, `prefix:/x`, `regex:…` for a route's path match. */
export function pathOf(r: Route): string {
  const m = r.match ?? {};
  if (m.path) return `exact:${m.path}`;
  if (m.pathSeparatedPrefix) return `prefix:${m.pathSeparatedPrefix}`;
  if (m.prefix !== undefined && m.prefix !== null) return `prefix:${m.prefix}`;
  if (m.safeRegex?.regex) return `regex:${m.safeRegex.regex}`;
  return "";
}

/** The clusters a route sends to, with their weights (a single cluster weighs 1). */
export function clustersOf(r: Route): { name: string; weight: number }[] {
  const a = r.route;
  if (!a) return [];
  if (a.cluster) return [{ name: a.cluster, weight: 1 }];
  return (a.weightedClusters?.clusters ?? []).map((c) => ({ name: c.name ?? "", weight: Number(c.weight?.value ?? 0) }));
}

/** Paths of a virtual host's routes, in the order Envoy tries them. */
export function routeOrder(v: VirtualHost | undefined): string[] {
  return (v?.routes ?? []).map(pathOf);
}
