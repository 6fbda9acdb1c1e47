// Stage 2, routes: RoutePlan → envoy.config.route.v3 (matches, filters, backends, timeouts).
import type { RouteFilter, RouteMatch } from "@sharedlb/contracts";
import { envoy, ROUTE_TYPE } from "@sharedlb/envoy-api";
import { encodeAnyWith } from "../encode.js";
import { escapeRegex, grpcPath } from "./precedence.js";
import type { L7SlotCache } from "./slot-cache.js";
import type { RoutePlan, VirtualHostPlan, WeightedCluster } from "./types.js";

import route = envoy.config.route.v3;
import core = envoy.config.core.v3;

type Route = route.Route.$Properties;
type HeaderOption = core.HeaderValueOption.$Properties;

const RE2 = (regex: string) => ({ googleRe2: {}, regex });

const REDIRECT_CODES: Record<number, route.RedirectAction.RedirectResponseCode> = {
  301: route.RedirectAction.RedirectResponseCode.MOVED_PERMANENTLY,
  302: route.RedirectAction.RedirectResponseCode.FOUND,
  303: route.RedirectAction.RedirectResponseCode.SEE_OTHER,
  307: route.RedirectAction.RedirectResponseCode.TEMPORARY_REDIRECT,
  308: route.RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT,
};

/** `*` answering 421: a Host of another chain on a coalesced HTTP/2 connection never crosses over. */
export const MISDIRECTED_VHOST: route.VirtualHost.$Properties = {
  name: "misdirected",
  domains: ["*"],
  routes: [{ name: "misdirected", match: { prefix: "/" }, directResponse: { status: 421 } }],
};

export function routeConfiguration(
  name: string,
  vhosts: readonly VirtualHostPlan[],
  misdirected: boolean,
): route.RouteConfiguration.$Properties {
  const virtualHosts = vhosts.map(virtualHost);
  if (misdirected && !vhosts.some((v) => v.hostname === "*")) virtualHosts.push(MISDIRECTED_VHOST);
  return { name, virtualHosts };
}

export function virtualHost(v: VirtualHostPlan): route.VirtualHost.$Properties {
  return { name: v.hostname, domains: [v.hostname], routes: v.routes.map(envoyRoute) };
}

/** The proxyless gRPC route configuration: the client asked for the hostname, any Host matches. */
export function grpcHostRouteConfiguration(name: string, routes: readonly RoutePlan[]): route.RouteConfiguration.$Properties {
  return { name, virtualHosts: [{ name, domains: ["*"], routes: routes.map(envoyRoute) }] };
}

// Field tags (number << 3 | length-delimited) of the repeated fields spliced below.
const VIRTUAL_HOSTS_TAG = (2 << 3) | 2; // RouteConfiguration.virtual_hosts
const ROUTES_TAG = (3 << 3) | 2; // VirtualHost.routes
const MISDIRECTED_BYTES = route.VirtualHost.encode(MISDIRECTED_VHOST).finish();

// A message's encoding is its fields' encodings in field order, and a repeated message
// field is each element as (tag, length, bytes): so a RouteConfiguration is its name, then
// its encoded virtual hosts, each its name and domains, then its encoded routes. The
// functions below splice the slot cache's pieces that way; they give the bytes of
// encodeAsAny(ROUTE_TYPE, RouteConfiguration, routeConfiguration(…)) (l7-slot-cache.test.ts).

/** routeConfiguration(name, vhosts, misdirected) as an encoded Any, re-encoding only what changed. */
export function encodedRouteConfiguration(
  name: string,
  vhosts: readonly VirtualHostPlan[],
  misdirected: boolean,
  cache: L7SlotCache,
): Uint8Array {
  const encoded = vhosts.map((v) => encodedVirtualHost(name, v.hostname, [v.hostname], v.routes, cache));
  if (misdirected && !vhosts.some((v) => v.hostname === "*")) encoded.push(MISDIRECTED_BYTES);
  return splicedRouteConfiguration(name, encoded);
}

/** grpcHostRouteConfiguration(name, routes) as an encoded Any. */
export function encodedGrpcHostRouteConfiguration(name: string, routes: readonly RoutePlan[], cache: L7SlotCache): Uint8Array {
  return splicedRouteConfiguration(name, [encodedVirtualHost(name, name, ["*"], routes, cache)]);
}

function splicedRouteConfiguration(name: string, vhosts: readonly Uint8Array[]): Uint8Array {
  return encodeAnyWith(ROUTE_TYPE, (w) => {
    route.RouteConfiguration.encode({ name }, w);
    for (const v of vhosts) w.uint32(VIRTUAL_HOSTS_TAG).bytes(v);
  });
}

function encodedVirtualHost(scope: string, name: string, domains: string[], routes: readonly RoutePlan[], cache: L7SlotCache): Uint8Array {
  return cache.vhost(scope, name, domains, routes, () => {
    const w = route.VirtualHost.encode({ name, domains });
    for (const r of routes) w.uint32(ROUTES_TAG).bytes(cache.route(r, () => route.Route.encode(envoyRoute(r)).finish()));
    return w.finish();
  });
}

export function envoyRoute(plan: RoutePlan): Route {
  const match = routeMatch(plan.match, plan.object.kind === "grpcroute");
  const out: Route = { name: plan.name, match };
  const requestHeaders = headerOptions(plan.filters, "RequestHeaderModifier");
  const responseHeaders = headerOptions(plan.filters, "ResponseHeaderModifier");
  if (requestHeaders.add.length > 0) out.requestHeadersToAdd = requestHeaders.add;
  if (requestHeaders.remove.length > 0) out.requestHeadersToRemove = requestHeaders.remove;
  if (responseHeaders.add.length > 0) out.responseHeadersToAdd = responseHeaders.add;
  if (responseHeaders.remove.length > 0) out.responseHeadersToRemove = responseHeaders.remove;
  const redirect = plan.filters.find((f) => f.type === "RequestRedirect");
  if (redirect) {
    out.redirect = redirectAction(redirect, plan.match);
    return out;
  }
  // Gateway API: a rule whose backends were all refused answers 500.
  if (plan.backends.length === 0) {
    out.directResponse = { status: 500 };
    return out;
  }
  out.route = routeAction(plan);
  return out;
}

export function routeMatch(m: RouteMatch, grpc: boolean): route.RouteMatch.$Properties {
  const out: route.RouteMatch.$Properties = {};
  const path = grpcPath(m) ?? m.path ?? { type: "PathPrefix" as const, value: "/" };
  if (path.type === "Exact") out.path = path.value;
  else if (path.type === "RegularExpression") out.safeRegex = RE2(path.value);
  else {
    // Gateway API prefixes match whole path elements (`/foo` is not a prefix of `/foobar`).
    // gRPC prefixes end with "/" already, and gRPC clients know only plain prefixes.
    const trimmed = path.value.replace(/\/+$/, "");
    if (grpc || trimmed === "") out.prefix = grpc ? path.value : "/";
    else out.pathSeparatedPrefix = trimmed;
  }
  const headers: route.HeaderMatcher.$Properties[] = (m.headers ?? []).map((h) => ({
    name: h.name.toLowerCase(),
    stringMatch: h.type === "Exact" ? { exact: h.value } : { safeRegex: RE2(h.value) },
  }));
  if (m.method !== undefined) headers.push({ name: ":method", stringMatch: { exact: m.method } });
  if (headers.length > 0) out.headers = headers;
  const query = (m.queryParams ?? []).map((q) => ({
    name: q.name,
    stringMatch: q.type === "Exact" ? { exact: q.value } : { safeRegex: RE2(q.value) },
  }));
  if (query.length > 0) out.queryParameters = query;
  return out;
}

function headerOptions(filters: readonly RouteFilter[], type: "RequestHeaderModifier" | "ResponseHeaderModifier") {
  const add: HeaderOption[] = [];
  const remove: string[] = [];
  for (const f of filters) {
    if (f.type !== type) continue;
    for (const h of f.headers.set) {
      add.push({
        header: { key: h.name, value: h.value },
        appendAction: core.HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
      });
    }
    for (const h of f.headers.add) {
      add.push({
        header: { key: h.name, value: h.value },
        appendAction: core.HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD,
      });
    }
    remove.push(...f.headers.remove);
  }
  return { add, remove };
}

/**
 * ReplacePrefixMatch as a regex rewrite, so `/foo` → `/bar` keeps `/foo/x` → `/bar/x`
 * and `/foo` → `/` gives `/x`, not `//x` (a plain prefix_rewrite would).
 */
function replacePrefix(match: RouteMatch, value: string): envoy.type.matcher.v3.RegexMatchAndSubstitute.$Properties {
  const path = grpcPath(match) ?? match.path ?? { type: "PathPrefix", value: "/" };
  const prefix = path.value.replace(/\/+$/, "");
  const replacement = value.replace(/\/+$/, "");
  if (replacement === "") return { pattern: RE2(`^${escapeRegex(prefix)}/*`), substitution: "/" };
  return { pattern: RE2(`^${escapeRegex(prefix)}(/.*)?$`), substitution: `${replacement}\\1` };
}

function redirectAction(f: Extract<RouteFilter, { type: "RequestRedirect" }>, match: RouteMatch): route.RedirectAction.$Properties {
  const out: route.RedirectAction.$Properties = {
    responseCode: REDIRECT_CODES[f.statusCode] ?? route.RedirectAction.RedirectResponseCode.FOUND,
  };
  if (f.scheme) out.schemeRedirect = f.scheme;
  if (f.hostname) out.hostRedirect = f.hostname;
  if (f.port) out.portRedirect = f.port;
  if (f.path?.type === "ReplaceFullPath") out.pathRedirect = f.path.value;
  else if (f.path?.type === "ReplacePrefixMatch") out.regexRewrite = replacePrefix(match, f.path.value);
  return out;
}

function routeAction(plan: RoutePlan): route.RouteAction.$Properties {
  const out: route.RouteAction.$Properties = clusterSpecifier(plan.backends);
  const rewrite = plan.filters.find((f) => f.type === "URLRewrite");
  if (rewrite?.hostname) out.hostRewriteLiteral = rewrite.hostname;
  if (rewrite?.path?.type === "ReplaceFullPath") out.regexRewrite = { pattern: RE2("^/.*$"), substitution: rewrite.path.value };
  else if (rewrite?.path?.type === "ReplacePrefixMatch") out.regexRewrite = replacePrefix(plan.match, rewrite.path.value);
  if (plan.mirrors.length > 0) {
    out.requestMirrorPolicies = plan.mirrors.map((m) => ({
      cluster: m.cluster,
      runtimeFraction: { defaultValue: { numerator: m.percent, denominator: envoy.type.v3.FractionalPercent.DenominatorType.HUNDRED } },
    }));
  }
  // 0 means no timeout in both Gateway API and Envoy.
  if (plan.requestTimeoutMs !== undefined) out.timeout = duration(plan.requestTimeoutMs);
  if (plan.backendRequestTimeoutMs !== undefined) {
    out.retryPolicy = { numRetries: { value: 0 }, perTryTimeout: duration(plan.backendRequestTimeoutMs) };
  }
  return out;
}

/** One backend as `cluster`, several as weighted clusters (Envoy picks by weight per request). */
export function clusterSpecifier(backends: readonly WeightedCluster[]): {
  cluster?: string;
  weightedClusters?: route.WeightedCluster.$Properties;
} {
  const [only] = backends;
  if (backends.length === 1 && only) return { cluster: only.cluster };
  return { weightedClusters: { clusters: backends.map((b) => ({ name: b.cluster, weight: { value: b.weight } })) } };
}

function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
