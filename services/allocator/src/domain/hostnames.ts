/**
 * Whether two hostname claims on one (IP, port) overlap, so only one tenant cluster may
 * hold them. Gateway API wildcards are suffix matches: `*.example.com` covers
 * `a.example.com` and `a.b.example.com`, not `example.com`; two wildcards overlap when one
 * suffix contains the other. Hostnames are lower case (the contract's pattern).
 */
export function hostnamesConflict(a: string, b: string): boolean {
  if (a === b) return true;
  const suffix = (h: string): string | undefined => (h.startsWith("*.") ? h.slice(1) : undefined);
  const sa = suffix(a);
  const sb = suffix(b);
  return (sa !== undefined && b.endsWith(sa)) || (sb !== undefined && a.endsWith(sb));
}
