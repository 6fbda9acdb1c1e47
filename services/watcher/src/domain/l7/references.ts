import type { RefusedRef } from "@sharedlb/contracts";
import type { LabelSelector, ReferenceGrant } from "./gateway-api.js";

/** A reference the tenant made, as refusedRefs names it. */
export interface RefTarget {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export function refused(field: string, target: RefTarget, reason: RefusedRef["reason"], message: string): RefusedRef {
  return {
    field,
    group: target.group,
    kind: target.kind,
    namespace: target.namespace,
    name: target.name.slice(0, 253),
    reason,
    message: message.slice(0, 4096),
  };
}

/**
 * True when a ReferenceGrant in the target's namespace lets objects of `from` (group,
 * kind, namespace) refer to the target (group, kind, and the name when the grant names one).
 */
export function referencePermitted(
  grants: readonly ReferenceGrant[],
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; name: string },
): boolean {
  return grants.some(
    (g) =>
      (g.spec?.from ?? []).some((f) => (f.group ?? "") === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      (g.spec?.to ?? []).some((t) => (t.group ?? "") === to.group && t.kind === to.kind && (!t.name || t.name === to.name)),
  );
}

/** Kubernetes label selector semantics; an empty selector selects everything. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const key = e.key ?? "";
    const has = Object.hasOwn(labels, key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[key] ?? "")) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key] ?? "")) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        // An operator Kubernetes does not know selects nothing rather than everything.
        return false;
    }
  }
  return true;
}

/**
 * The hostnames a route has on a listener (Gateway API): the listener's hostname when the
 * route names none, the route's when the listener has none, else those that intersect
 * (the more specific of each intersecting pair). Empty: no intersection.
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | "any" {
  if (route.length === 0) return listener ? [listener] : "any";
  if (!listener) return [...route];
  const out = new Set<string>();
  for (const r of route) {
    if (hostnameCovers(listener, r)) out.add(r);
    else if (hostnameCovers(r, listener)) out.add(listener);
  }
  return [...out];
}

/** True when `pattern` (an exact name or `*.suffix`) matches every name `name` stands for. */
export function hostnameCovers(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (!pattern.startsWith("*.")) return false;
  const suffix = pattern.slice(1); // ".example.com"
  const bare = name.startsWith("*.") ? name.slice(2) : name;
  return bare.endsWith(suffix) && bare.length > suffix.length;
}
