// What Envoy cannot take from a rule: found before translation, so the rule is left out
// with a sentence instead of a NACK that would take the whole slot's routes down.
import type { RouteFilter, RouteMatch, RouteRule } from "@sharedlb/contracts";
import { grpcPath } from "./precedence.js";

// RFC 9110 token characters (Envoy's HTTP_HEADER_NAME).
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Envoy refuses NUL, CR and LF in header values.
const HEADER_VALUE_FORBIDDEN = /[\0\r\n]/;
// Headers Envoy does not let a route rewrite through header modifiers.
const UNMODIFIABLE = new Set(["host", "content-length", "transfer-encoding", "connection", "upgrade"]);

/**
 * Why a regular expression would not compile under RE2 (Envoy's google_re2), or
 * undefined. RE2 is JavaScript's syntax without look-around and backreferences; what
 * JavaScript cannot compile, RE2 cannot either.
 */
export function re2Problem(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern)) return "look-around assertions are not RE2";
  if (/\\[1-9]|\\k</.test(pattern)) return "backreferences are not RE2";
  try {
    new RegExp(pattern, "u");
  } catch (err) {
    return err instanceof SyntaxError ? err.message : "not a regular expression";
  }
  return undefined;
}

function headerNameProblem(name: string, what: string): string | undefined {
  return HEADER_NAME.test(name) ? undefined : `${what} "${name}" is not a valid HTTP header name`;
}

function matchProblem(m: RouteMatch): string | undefined {
  const path = grpcPath(m) ?? m.path;
  if (path?.type === "RegularExpression") {
    const p = re2Problem(path.value);
    if (p) return `path regular expression "${path.value}": ${p}`;
  }
  if (path && path.type !== "RegularExpression" && (!path.value.startsWith("/") || /[?#]/.test(path.value))) {
    return `path "${path.value}" must start with "/" and contain no "?" or "#"`;
  }
  for (const [what, list] of [
    ["header", m.headers ?? []],
    ["query parameter", m.queryParams ?? []],
  ] as const) {
    for (const h of list) {
      if (what === "header") {
        const p = headerNameProblem(h.name, "header match");
        if (p) return p;
      }
      if (h.type === "RegularExpression") {
        const p = re2Problem(h.value);
        if (p) return `${what} ${h.name} regular expression "${h.value}": ${p}`;
      }
    }
  }
  return undefined;
}

function headerModifierProblem(f: RouteFilter): string | undefined {
  if (f.type !== "RequestHeaderModifier" && f.type !== "ResponseHeaderModifier") return undefined;
  const names = [...f.headers.set.map((h) => h.name), ...f.headers.add.map((h) => h.name), ...f.headers.remove];
  for (const n of names) {
    const p = headerNameProblem(n, `${f.type} header`);
    if (p) return p;
    if (UNMODIFIABLE.has(n.toLowerCase())) return `${f.type}: Envoy does not let a route modify the ${n} header`;
  }
  for (const h of [...f.headers.set, ...f.headers.add]) {
    if (HEADER_VALUE_FORBIDDEN.test(h.value)) return `${f.type}: the value of ${h.name} contains a control character`;
  }
  return undefined;
}

/** Why a rule cannot be served as a whole (filters), or undefined. */
export function ruleProblem(rule: RouteRule): string | undefined {
  const count = (t: RouteFilter["type"]) => rule.filters.filter((f) => f.type === t).length;
  if (count("RequestRedirect") > 1 || count("URLRewrite") > 1) return "more than one RequestRedirect or URLRewrite filter";
  if (count("RequestRedirect") > 0 && count("URLRewrite") > 0) return "RequestRedirect and URLRewrite cannot be combined";
  for (const f of rule.filters) {
    const p = headerModifierProblem(f);
    if (p) return p;
  }
  return undefined;
}

/** Why one match of a rule cannot be served (the rule's other matches still are), or undefined. */
export function rulePairProblem(rule: RouteRule, match: RouteMatch): string | undefined {
  const p = matchProblem(match);
  if (p) return p;
  const prefixOnly = rule.filters.some(
    (f) => (f.type === "RequestRedirect" || f.type === "URLRewrite") && f.path?.type === "ReplacePrefixMatch",
  );
  const path = grpcPath(match) ?? match.path ?? { type: "PathPrefix" };
  if (prefixOnly && path.type !== "PathPrefix") return "ReplacePrefixMatch needs a PathPrefix match";
  return undefined;
}
