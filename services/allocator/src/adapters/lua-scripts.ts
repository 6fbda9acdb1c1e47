import { readFileSync } from "node:fs";

const read = (name: string) => readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), "utf8");

/** What each script starts with: the shared record fences, the shared hostname-claim functions. */
const PRELUDES: Record<string, string[]> = {
  apply: ["record-fence"],
  "l7-apply": ["record-fence", "l7-claims"],
  "l7-expire": ["l7-claims"],
  "l7-import": ["l7-claims"],
};

/** The text of `lua/<name>.lua`, as Redis runs it. */
export function luaScript(name: string): string {
  return [...(PRELUDES[name] ?? []), name].map(read).join("\n");
}
