import type { V1Ingress } from "@kubernetes/client-node";
import type { BackendRef, HttpRouteFilter } from "./gateway-api.js";
import type { GatewayRoute } from "./routes.js";

/**
 * True when the route names Service `namespace/name` anywhere (backendRefs, mirrors),
 * resolvable or not: a change of that Service may change the route's normalized form.
 */
export function routeNamesService(route: GatewayRoute, namespace: string, name: string): boolean {
  const own = route.metadata?.namespace ?? "";
  const hits = (ref: BackendRef | undefined) =>
    ref !== undefined && (ref.kind ?? "Service") === "Service" && (ref.group ?? "") === "" && ref.name === name && (ref.namespace ?? own) === namespace;
  for (const rule of route.spec?.rules ?? []) {
    const r = rule as { backendRefs?: BackendRef[]; filters?: HttpRouteFilter[] };
    if ((r.backendRefs ?? []).some(hits)) return true;
    if ((r.filters ?? []).some((f) => hits(f.requestMirror?.backendRef))) return true;
  }
  return false;
}

export function ingressNamesService(ing: V1Ingress, namespace: string, name: string): boolean {
  if ((ing.metadata?.namespace ?? "") !== namespace) return false;
  if (ing.spec?.defaultBackend?.service?.name === name) return true;
  return (ing.spec?.rules ?? []).some((r) => (r.http?.paths ?? []).some((p) => p.backend.service?.name === name));
}
