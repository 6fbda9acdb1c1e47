import { readFileSync } from "node:fs";

const read = (name: string) => readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), "utf8");

/** What each script starts with: the shared record fences, the slot indexes, the shared hostname-claim functions. */
const PRELUDES: Record<string, string[]> = {
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
  if (name === "apply") return applyScript();
  return ["#!lua", ...[...(PRELUDES[name] ?? []), name].map(read)].join("\n");
}

/**
 * apply.lua runs once per Service change of a call: ARGV holds two arguments per change (its
 * JSON and its Service, '' for none), so the changes due together in one pool go to Redis in
 * one call (src/adapters/slot-store.ts). Each runs as it would alone (record-fence.lua and
 * apply.lua are the body of a function given that change's ARGV), one after the other, under
 * pcall: the reply is one text per change, its reply or "ERR " and the error.
 */
function applyScript(): string {
  return [
    "#!lua",
    read("slot-index"),
    "local function applyOne(ARGV)",
    read("record-fence"),
    read("apply"),
    "end",
    "local out = {}",
    "for i = 1, #ARGV, 2 do",
    "  local ok, r = pcall(applyOne, { ARGV[i], ARGV[i + 1] ~= '' and ARGV[i + 1] or nil })",
    "  if ok then out[#out + 1] = r else out[#out + 1] = 'ERR ' .. tostring(type(r) == 'table' and r.err or r) end",
    "end",
    "return out",
  ].join("\n");
}
