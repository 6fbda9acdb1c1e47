import type { HeaderModifier, RouteFilter, RouteMatch, RouteRule } from "@sharedlb/contracts";
import type { GrpcRouteRule, HeaderFilter, HeaderMatch, HttpRouteFilter, HttpRouteMatch, HttpRouteRule, PathModifierSpec } from "./gateway-api.js";
import type { RuleContext } from "./rule-context.js";
import { headerNameProblem, hostnameProblem, parseDuration, regexProblem } from "./validation.js";

/** Thrown inside a rule's normalization: the rule is left out, the rest is served. */
class RuleRefused extends Error {
  override readonly name = "RuleRefused";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Normalizes rules one by one; a rule with a value sharedlb cannot serve (an RE2-invalid
 * regex, a bad header name, an unsupported filter) is left out and refused, the others stay.
 */
function eachRule<R>(ctx: RuleContext, rules: readonly R[] | undefined, one: (rule: R, field: string) => RouteRule): RouteRule[] {
  const out: RouteRule[] = [];
  (rules ?? []).forEach((rule, i) => {
    try {
      out.push(one(rule, `spec.rules[${i}]`));
    } catch (err) {
      if (!(err instanceof RuleRefused)) throw err;
      ctx.refuseValue(err.field, `rule ${i} is not served: ${err.message}`);
    }
  });
  return out;
}

export function httpRules(ctx: RuleContext, rules: readonly HttpRouteRule[] | undefined): RouteRule[] {
  return eachRule(ctx, rules, (rule, field) => {
    const matches = (rule.matches?.length ? rule.matches : [{}]).map((m, j) => httpMatch(m, `${field}.matches[${j}]`));
    const timeouts = ruleTimeouts(rule.timeouts, `${field}.timeouts`);
    const filters = httpFilters(ctx, rule.filters, field);
    const out: RouteRule = { matches, filters, backends: ctx.backends(rule.backendRefs, field) };
    if (rule.name) out.name = rule.name;
    if (timeouts) out.timeouts = timeouts;
    return out;
  });
}

export function grpcRules(ctx: RuleContext, rules: readonly GrpcRouteRule[] | undefined): RouteRule[] {
  return eachRule(ctx, rules, (rule, field) => {
    const matches = (rule.matches ?? []).map((m, j) => {
      const f = `${field}.matches[${j}]`;
      const out: RouteMatch = {};
      if (m.method) {
        const type = m.method.type === "RegularExpression" ? "RegularExpression" : "Exact";
        const grpc: NonNullable<RouteMatch["grpc"]> = { type };
        for (const part of ["service", "method"] as const) {
          const v = m.method[part];
          if (v === undefined || v === "") continue;
          if (type === "RegularExpression") checkRegex(v, `${f}.method.${part}`);
          grpc[part] = v;
        }
        out.grpc = grpc;
      }
      if (m.headers?.length) out.headers = m.headers.map((h, k) => nameValue(h, `${f}.headers[${k}]`, "header"));
      return out;
    });
    const filters = httpFilters(ctx, rule.filters, field);
    const out: RouteRule = { matches, filters, backends: ctx.backends(rule.backendRefs, field) };
    if (rule.name) out.name = rule.name;
    return out;
  });
}

function httpMatch(m: HttpRouteMatch, field: string): RouteMatch {
  const out: RouteMatch = {};
  const type = m.path?.type ?? "PathPrefix";
  const value = m.path?.value ?? "/";
  if (type !== "Exact" && type !== "PathPrefix" && type !== "RegularExpression") throw new RuleRefused(`${field}.path`, `path match type "${type}" is not supported`);
  if (type === "RegularExpression") checkRegex(value, `${field}.path`);
  else if (!value.startsWith("/")) throw new RuleRefused(`${field}.path`, `path "${value}" does not start with "/"`);
  out.path = { type, value };
  if (m.method) {
    if (!/^[A-Z]+$/.test(m.method)) throw new RuleRefused(`${field}.method`, `"${m.method}" is not an HTTP method`);
    out.method = m.method;
  }
  if (m.headers?.length) out.headers = m.headers.map((h, k) => nameValue(h, `${field}.headers[${k}]`, "header"));
  if (m.queryParams?.length) out.queryParams = m.queryParams.map((q, k) => nameValue(q, `${field}.queryParams[${k}]`, "query"));
  return out;
}

function nameValue(h: HeaderMatch, field: string, what: "header" | "query") {
  const name = h.name ?? "";
  const problem = what === "header" ? headerNameProblem(name) : name.length === 0 ? "a query parameter match needs a name" : undefined;
  if (problem) throw new RuleRefused(`${field}.name`, problem);
  const type = h.type === "RegularExpression" ? "RegularExpression" : "Exact";
  const value = h.value ?? "";
  if (type === "RegularExpression") checkRegex(value, `${field}.value`);
  return { name, value, type } as const;
}

function checkRegex(value: string, field: string): void {
  const problem = regexProblem(value);
  if (problem) throw new RuleRefused(field, problem);
}

function httpFilters(ctx: RuleContext, filters: readonly HttpRouteFilter[] | undefined, ruleField: string): RouteFilter[] {
  return (filters ?? []).map((f, j) => {
    const field = `${ruleField}.filters[${j}]`;
    switch (f.type) {
      case "RequestHeaderModifier":
        return { type: "RequestHeaderModifier", headers: headerModifier(f.requestHeaderModifier, field) };
      case "ResponseHeaderModifier":
        return { type: "ResponseHeaderModifier", headers: headerModifier(f.responseHeaderModifier, field) };
      case "RequestRedirect": {
        const r = f.requestRedirect ?? {};
        const out: Extract<RouteFilter, { type: "RequestRedirect" }> = { type: "RequestRedirect", statusCode: redirectCode(r.statusCode, field) };
        if (r.scheme === "http" || r.scheme === "https") out.scheme = r.scheme;
        else if (r.scheme !== undefined) throw new RuleRefused(`${field}.requestRedirect.scheme`, `redirect scheme "${r.scheme}" is not supported`);
        if (r.hostname !== undefined) out.hostname = filterHostname(r.hostname, `${field}.requestRedirect.hostname`);
        if (r.path) out.path = pathModifier(r.path, `${field}.requestRedirect.path`);
        if (r.port !== undefined) out.port = r.port;
        return out;
      }
      case "URLRewrite": {
        const r = f.urlRewrite ?? {};
        const out: Extract<RouteFilter, { type: "URLRewrite" }> = { type: "URLRewrite" };
        if (r.hostname !== undefined) out.hostname = filterHostname(r.hostname, `${field}.urlRewrite.hostname`);
        if (r.path) out.path = pathModifier(r.path, `${field}.urlRewrite.path`);
        return out;
      }
      case "RequestMirror": {
        const m = f.requestMirror ?? {};
        const backend = m.backendRef ? ctx.backend(m.backendRef, `${field}.requestMirror.backendRef`) : undefined;
        if (!backend) throw new RuleRefused(`${field}.requestMirror.backendRef`, "the mirror's backend cannot be used");
        return { type: "RequestMirror", backend, percent: mirrorPercent(m) };
      }
      default:
        throw new RuleRefused(field, `filter type "${f.type ?? ""}" is not supported`);
    }
  });
}

function headerModifier(h: HeaderFilter | undefined, field: string): HeaderModifier {
  const check = (name: string, f: string) => {
    const problem = headerNameProblem(name);
    if (problem) throw new RuleRefused(f, problem);
    return name;
  };
  return {
    set: (h?.set ?? []).map((v, k) => ({ name: check(v.name ?? "", `${field}.set[${k}]`), value: v.value ?? "" })),
    add: (h?.add ?? []).map((v, k) => ({ name: check(v.name ?? "", `${field}.add[${k}]`), value: v.value ?? "" })),
    remove: (h?.remove ?? []).map((n, k) => check(n, `${field}.remove[${k}]`)),
  };
}

function pathModifier(p: PathModifierSpec, field: string) {
  if (p.type === "ReplaceFullPath") return { type: "ReplaceFullPath", value: p.replaceFullPath ?? "/" } as const;
  if (p.type === "ReplacePrefixMatch") return { type: "ReplacePrefixMatch", value: p.replacePrefixMatch ?? "/" } as const;
  throw new RuleRefused(field, `path modifier type "${p.type ?? ""}" is not supported`);
}

function filterHostname(value: string, field: string): string {
  const problem = hostnameProblem(value);
  if (problem || value.startsWith("*.")) throw new RuleRefused(field, problem ?? `"${value}" is a wildcard, not a hostname`);
  return value;
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;
function redirectCode(code: number | undefined, field: string): (typeof REDIRECT_CODES)[number] {
  const c = code ?? 302;
  const found = REDIRECT_CODES.find((x) => x === c);
  if (!found) throw new RuleRefused(`${field}.requestRedirect.statusCode`, `redirect status ${c} is not supported`);
  return found;
}

function mirrorPercent(m: NonNullable<HttpRouteFilter["requestMirror"]>): number {
  if (m.percent !== undefined) return Math.max(0, Math.min(100, Math.round(m.percent)));
  const num = m.fraction?.numerator;
  if (num === undefined) return 100;
  const den = m.fraction?.denominator ?? 100;
  return den > 0 ? Math.max(0, Math.min(100, Math.round((num * 100) / den))) : 100;
}

function ruleTimeouts(t: HttpRouteRule["timeouts"], field: string): RouteRule["timeouts"] {
  if (!t) return undefined;
  const out: NonNullable<RouteRule["timeouts"]> = {};
  for (const [key, target] of [
    ["request", "requestMs"],
    ["backendRequest", "backendRequestMs"],
  ] as const) {
    const v = t[key];
    if (v === undefined) continue;
    const d = parseDuration(v);
    if ("problem" in d) throw new RuleRefused(`${field}.${key}`, d.problem);
    out[target] = d.ms;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
