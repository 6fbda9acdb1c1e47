// Gateway API route precedence within a virtual host (docs/l7-model.md §3).
import type { RouteMatch } from "@sharedlb/contracts";

/** What precedence looks at for one (rule, match) pair. */
export interface RankedMatch {
  readonly match: RouteMatch;
  /** Stands for the route's creation order: the stream sequence it was first seen at. */
  readonly age: number;
  /** `<cluster>/<namespace>/<name>`, then the kind, for ties between routes. */
  readonly objectKey: string;
  readonly kind: string;
  readonly ruleIndex: number;
  readonly matchIndex: number;
}

// Regular expressions come after the prefixes, but before the catch-all PathPrefix "/"
// (also what an absent path match means), which would otherwise leave them unreachable.
const PATH_RANK = { Exact: 0, PathPrefix: 1, RegularExpression: 2 } as const;
const CATCH_ALL_RANK = 3;

function pathOf(m: RouteMatch): { rank: number; length: number } {
  const path = grpcPath(m) ?? m.path ?? { type: "PathPrefix" as const, value: "/" };
  const catchAll = path.type === "PathPrefix" && path.value.replace(/\/+$/, "") === "";
  return { rank: catchAll ? CATCH_ALL_RANK : PATH_RANK[path.type], length: path.value.length };
}

/**
 * The path a GRPCRoute match stands for: both service and method exact is an exact
 * path, a service alone a prefix, anything else a regular expression.
 */
export function grpcPath(m: RouteMatch): { type: "Exact" | "PathPrefix" | "RegularExpression"; value: string } | undefined {
  const g = m.grpc;
  if (!g) return undefined;
  if (g.type === "Exact") {
    if (g.service !== undefined && g.method !== undefined) return { type: "Exact", value: `/${g.service}/${g.method}` };
    if (g.service !== undefined) return { type: "PathPrefix", value: `/${g.service}/` };
    if (g.method !== undefined) return { type: "RegularExpression", value: `/[^/]+/${escapeRegex(g.method)}` };
    return { type: "PathPrefix", value: "/" };
  }
  return { type: "RegularExpression", value: `/${g.service ?? "[^/]+"}/${g.method ?? "[^/]+"}` };
}

/** RE2 and JavaScript agree on escaping these. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Negative when `a` must be tried before `b`. */
export function comparePrecedence(a: RankedMatch, b: RankedMatch): number {
  const pa = pathOf(a.match);
  const pb = pathOf(b.match);
  return (
    pa.rank - pb.rank ||
    pb.length - pa.length ||
    Number(b.match.method !== undefined) - Number(a.match.method !== undefined) ||
    (b.match.headers?.length ?? 0) - (a.match.headers?.length ?? 0) ||
    (b.match.queryParams?.length ?? 0) - (a.match.queryParams?.length ?? 0) ||
    a.age - b.age ||
    compareText(a.objectKey, b.objectKey) ||
    compareText(a.kind, b.kind) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
