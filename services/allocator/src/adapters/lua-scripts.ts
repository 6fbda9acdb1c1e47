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
  // record-fence.lua reads the change as `a`: l7-apply's is the JSON of ARGV[1].
  const decode = name === "l7-apply" ? ["local a = cjson.decode(ARGV[1])"] : [];
  return ["#!lua", ...decode, ...[...(PRELUDES[name] ?? []), name].map(read)].join("\n");
}

/**
 * apply.lua runs once per Service change of a call: ARGV holds each change as the number of
 * its arguments, then those (apply-args.lua), so the changes due together in one pool go to
 * Redis in one call (src/adapters/slot-store.ts). Each runs as it would alone (record-fence.lua
 * and apply.lua are the body of a function given that change's arguments), one after the
 * other, under pcall: the reply is one text per change, its reply or "ERR " and the error.
 */
function applyScript(): string {
  return [
    "#!lua",
    read("slot-index"),
    read("apply-args"),
    "local function applyOne(args)",
    "local a = changeArgs(args)",
    read("record-fence"),
    read("apply"),
    "end",
    "local out = {}",
    "local i = 1",
    "while i <= #ARGV do",
    "  local n = tonumber(ARGV[i])",
    "  local args = {}",
    "  for k = 1, n do args[k] = ARGV[i + k] end",
    "  local ok, r = pcall(applyOne, args)",
    "  if ok then out[#out + 1] = r else out[#out + 1] = 'ERR ' .. tostring(type(r) == 'table' and r.err or r) end",
    "  i = i + 1 + n",
    "end",
    "return out",
  ].join("\n");
}
