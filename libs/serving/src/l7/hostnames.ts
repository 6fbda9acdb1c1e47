// Gateway API hostname rules: `*.d` is a suffix match covering `a.d` and `a.b.d`, not `d`.

export function isWildcard(hostname: string): boolean {
  return hostname.startsWith("*.");
}

/** Whether `pattern` (exact or `*.d`) covers every name `name` stands for. */
export function covers(pattern: string, name: string): boolean {
  if (pattern === "*" || pattern === name) return true;
  if (!isWildcard(pattern)) return false;
  const suffix = pattern.slice(1); // ".d"
  // `*.d` covers `a.d` and `*.a.d`, never `d` or `*.d'` with a shorter suffix.
  return name.endsWith(suffix) && name.length > suffix.length;
}

/**
 * The hostname a route hostname gets on a listener (Gateway API: the more specific of the
 * two when one covers the other), or undefined when they do not intersect. A listener
 * without a hostname accepts any.
 */
export function intersect(listener: string | undefined, route: string): string | undefined {
  if (listener === undefined || listener === "*") return route;
  if (covers(listener, route)) return route;
  if (covers(route, listener)) return listener;
  return undefined;
}

/**
 * Effective hostnames of a route on a listener: its hostnames intersected with the
 * listener's, or the listener's own (`*` without one) when the route has none. Sorted,
 * without duplicates.
 */
export function effectiveHostnames(listener: string | undefined, routeHostnames: readonly string[]): string[] {
  if (routeHostnames.length === 0) return [listener ?? "*"];
  const out = new Set<string>();
  for (const h of routeHostnames) {
    const e = intersect(listener, h);
    if (e !== undefined) out.add(e);
  }
  return [...out].sort();
}

/** Whether a hostname is served under the claims: `all` on an exclusive listener. */
export function claimed(claims: readonly string[] | "all", hostname: string): boolean {
  if (claims === "all") return true;
  return claims.some((c) => covers(c, hostname));
}
