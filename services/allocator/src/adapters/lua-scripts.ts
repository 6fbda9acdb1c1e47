import { readFileSync } from "node:fs";

const read = (name: string) => readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), "utf8");

/** Scripts that change an object's record start with the shared record fences. */
const FENCED = new Set(["apply", "l7-apply"]);

/** The text of `lua/<name>.lua`, as Redis runs it. */
export function luaScript(name: string): string {
  return FENCED.has(name) ? `${read("record-fence")}\n${read(name)}` : read(name);
}
