import type { RouteResource, RouteRule } from "@sharedlb/contracts";
import { sharedlbAnnotations } from "../service.js";
import type { CompanionNeed } from "./companions.js";
import { GATEWAY_API_VERSION, GATEWAY_GROUP, type GatewayApiObject, type GrpcRoute, type HttpRoute, type TlsRoute } from "./gateway-api.js";
import { grpcRules, httpRules } from "./http-rules.js";
import { resolveParents } from "./parents.js";
import { RuleContext } from "./rule-context.js";
import { hostnameProblem } from "./validation.js";
import type { L7View } from "./view.js";

/** A normalized route and the companions its backends need. */
export interface NormalizedRoute {
  data: RouteResource;
  companions: CompanionNeed[];
}

export type GatewayRouteKind = "HTTPRoute" | "GRPCRoute" | "TLSRoute";
export type GatewayRoute = HttpRoute | GrpcRoute | TlsRoute;

/**
 * An HTTPRoute, GRPCRoute or TLSRoute attached to a sharedlb Gateway, normalized; undefined
 * when none of its parents is a sharedlb Gateway (then it is another controller's).
 */
export function normalizeGatewayRoute(view: L7View, kind: GatewayRouteKind, route: GatewayRoute | undefined): NormalizedRoute | undefined {
  if (!route) return undefined;
  const namespace = route.metadata?.namespace ?? "";
  const ctx = new RuleContext(view, identity(route, kind, GATEWAY_GROUP, GATEWAY_API_VERSION));
  const hostnames: string[] = [];
  (route.spec?.hostnames ?? []).forEach((h, i) => {
    const problem = hostnameProblem(h);
    if (problem) ctx.refuseValue(`spec.hostnames[${i}]`, problem);
    else if (!hostnames.includes(h)) hostnames.push(h);
  });
  const parents = resolveParents(view, { kind, namespace, hostnames, parentRefs: route.spec?.parentRefs ?? [] });
  if (!parents.ours) return undefined;
  let rules: RouteRule[];
  if (kind === "HTTPRoute") rules = httpRules(ctx, (route as HttpRoute).spec?.rules);
  else if (kind === "GRPCRoute") rules = grpcRules(ctx, (route as GrpcRoute).spec?.rules);
  else {
    rules = ((route as TlsRoute).spec?.rules ?? []).map((r, i) => {
      const rule: RouteRule = { matches: [], filters: [], backends: ctx.backends(r.backendRefs, `spec.rules[${i}]`) };
      if (r.name) rule.name = r.name;
      return rule;
    });
  }
  return {
    data: {
      ...base(view, route),
      sourceKind: kind,
      parentRefs: parents.parentRefs,
      hostnames,
      rules,
      refusedRefs: [...parents.refusedRefs, ...ctx.refusedRefs],
    },
    companions: ctx.companions,
  };
}

export function base(view: L7View, obj: GatewayApiObject) {
  return {
    cluster: view.cluster,
    namespace: obj.metadata?.namespace ?? "",
    name: obj.metadata?.name ?? "",
    uid: obj.metadata?.uid ?? "",
    generation: obj.metadata?.generation ?? 0,
    annotations: sharedlbAnnotations(obj.metadata?.annotations),
  };
}

export function identity(obj: GatewayApiObject, kind: string, group: string, apiVersion: string) {
  const namespace = obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? "";
  return { group, kind, namespace, name, owner: { apiVersion, kind, name, uid: obj.metadata?.uid ?? "" } };
}
