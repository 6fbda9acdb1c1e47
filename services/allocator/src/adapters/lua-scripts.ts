import { readFileSync } from "node:fs";

const read = (name: string) => readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), "utf8");

/** What each script starts with: the shared record fences, the slot indexes, the shared hostname-claim functions. */
const PRELUDES: Record<string, string[]> = {
  apply: ["record-fence", "slot-index"],
  expire: ["slot-index"],
  import: ["slot-index"],
  "pool-index": ["slot-index"],
  "l7-apply": ["record-fence", "slot-index", "l7-claims"],
  "l7-expire": ["slot-index", "l7-claims"],
  "l7-import": ["slot-index", "l7-claims"],
  evict: ["slot-index", "l7-claims"],
};

/**
 * The text of `lua/<name>.lua`, as Redis runs it. The shebang makes Redis (7.0+) refuse a
 * script that touches a key of another hash slot than its first key's, even one on the same
 * Redis Cluster node (without it, such a script runs until a reshard moves that slot away).
 */
export function luaScript(name: string): string {
  return ["#!lua", ...[...(PRELUDES[name] ?? []), name].map(read)].join("\n");
}
