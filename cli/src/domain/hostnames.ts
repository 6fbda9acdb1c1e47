// Gateway API hostname matching, as docs/l7-model.md defines it: a wildcard `*.d` is a
// suffix match covering `a.d` and `a.b.d`, never `d` itself.

const suffixOf = (wildcard: string) => wildcard.slice(1); // "*.d" → ".d"

/** The hostname both match (the more specific one), or undefined when they do not overlap. */
export function intersectHostnames(a: string, b: string): string | undefined {
  if (a === b) return a;
  const aWild = a.startsWith("*.");
  const bWild = b.startsWith("*.");
  if (aWild && b.endsWith(suffixOf(a))) return b;
  if (bWild && a.endsWith(suffixOf(b))) return a;
  return undefined;
}

/**
 * The hostnames a route is served under on a listener that holds `claimed`: the route's
 * hostnames intersected with the listener's, or the listener's own when the route has none.
 * An exclusive listener (`claimed` empty) takes every hostname: `*` when the route has none.
 */
export function effectiveHostnames(routeHostnames: readonly string[], claimed: readonly string[], exclusive: boolean): string[] {
  if (exclusive && claimed.length === 0) return routeHostnames.length > 0 ? [...routeHostnames] : ["*"];
  if (routeHostnames.length === 0) return [...claimed];
  const out = new Set<string>();
  for (const r of routeHostnames) {
    for (const l of claimed) {
      const both = intersectHostnames(r, l);
      if (both) out.add(both);
    }
  }
  return [...out].sort();
}
