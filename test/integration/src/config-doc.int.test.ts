import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

// docs/configuration.md must list every flag of every binary, as its --help prints it (env
// variable and default), and nothing a binary no longer has. The binaries are the built ones.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const DOC = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");
const SERVICES = readdirSync(join(ROOT, "services")).filter((s) => existsSync(join(ROOT, "services", s, "package.json")));
const CLI = join(ROOT, "cli/dist/main.js");
const COMMON_ENV = new Set(["NATS_URL", "REDIS_URL", "HTTP_ADDR", "LOG_LEVEL", "SHAREDLB_CONFIG", "SHAREDLB_CLUSTER", "KUBECONFIG", "GRPC_ADDR"]);

interface Flag {
  binary: string;
  flag: string;
  env: string | undefined;
  default: string | undefined;
}

const run = promisify(execFile);
async function help(file: string, args: string[] = []): Promise<string> {
  return (await run(process.execPath, [file, ...args, "--help"], { encoding: "utf8" })).stdout;
}

/** The lines of a `Title:` block of a --help text, up to the next blank line. */
function block(text: string, title: string): string[] {
  const start = text.indexOf(`\n${title}:\n`);
  if (start < 0) return [];
  return (text.slice(start + title.length + 3).split("\n\n")[0] ?? "").split("\n").filter((l) => l.trim() !== "");
}

/** `  --flag   meaning (default X)  [env Y]`, as libs/runtime's parseCommandLine prints it. */
function serviceFlags(binary: string, text: string): Flag[] {
  return block(text, "Flags").flatMap((line) => {
    const m = /^ {2}--(\S+)\s+.*?(?: \(default (.*)\))? {2}\[env (\S+)\]$/.exec(line);
    return m?.[1] ? [{ binary, flag: m[1], env: m[3], default: m[2] }] : [];
  });
}

/** `  --flag <value>  meaning [default X, env Y]`, as the CLI prints it. */
function cliFlags(binary: string, lines: string[]): Flag[] {
  return lines.flatMap((line) => {
    const m = /^ {2}--(\S+)(?: <[^>]+>)?\s+.*?(?: \[((?:default|env) [^\]]*)\])?$/.exec(line);
    if (!m?.[1] || m[1] === "help") return [];
    const attrs = new Map((m[2] ?? "").split(", ").map((p) => [p.slice(0, p.indexOf(" ")), p.slice(p.indexOf(" ") + 1)]));
    return [{ binary, flag: m[1], env: attrs.get("env"), default: attrs.get("default") }];
  });
}

/** The rows of the doc's flag table, one per (row, binary). */
function documented(): Flag[] {
  const start = DOC.indexOf("## Every flag");
  const table = DOC.slice(start, DOC.indexOf("\n## ", start + 3));
  return table
    .split("\n")
    .filter((l) => l.startsWith("| `--"))
    .flatMap((row) => {
      const cells = row.split(/(?<!\\)\|/).map((c) => c.trim());
      const code = (c: string | undefined) => (c === undefined || c === "—" ? undefined : c.replace(/^`|`$/g, ""));
      const flag = code(cells[1])?.replace(/^--/, "") ?? "";
      return (cells[4] ?? "").split(",").map((b) => ({ binary: b.trim(), flag, env: code(cells[2]), default: code(cells[3]) }));
    });
}

const key = (f: Flag) => JSON.stringify([f.binary, f.flag, f.env ?? null, f.default ?? null]);

describe("docs/configuration.md", () => {
  const actual: Flag[] = [];
  const former: string[] = [];

  beforeAll(async () => {
    for (const svc of SERVICES) {
      const text = await help(join(ROOT, "services", svc, "dist/main.js"));
      actual.push(...serviceFlags(svc, text));
      for (const line of block(text, "Former names (still read, with a warning, until the next release)")) {
        // `  --old-flag, env OLD_ENV → --new-flag [env NEW_ENV]`
        for (const name of (line.split("→")[0] ?? "").split(",")) former.push(name.trim().replace(/^env /, ""));
      }
    }
    const top = await help(CLI);
    actual.push(...cliFlags("sharedlb", block(top, "Global flags")));
    for (const cmd of block(top, "Commands").map((l) => l.trim().split(/\s+/)[0] ?? "")) {
      actual.push(...cliFlags(`sharedlb ${cmd}`, block(await help(CLI, [cmd]), "Flags")));
    }
  });

  it("lists every flag of every binary with its env variable and default, and none they lack", () => {
    expect(actual.length).toBeGreaterThan(SERVICES.length * 5);
    const doc = new Set(documented().map(key));
    const has = new Set(actual.map(key));
    expect(actual.filter((f) => !doc.has(key(f))).map(key), "in --help but not in the table (or with another env/default)").toEqual([]);
    expect(documented().filter((f) => !has.has(key(f))).map(key), "in the table but no binary's --help has it").toEqual([]);
  });

  it("names every env variable by one scheme: the common names, NATS_<NAME> for --nats-<name>, else SHAREDLB_<FLAG>", () => {
    const upper = (flag: string) => flag.toUpperCase().replaceAll("-", "_");
    // The NATS connection flags (--nats-user, --nats-creds, …) use the nats CLI's NATS_<NAME>.
    const expected = (f: Flag) => (f.flag.startsWith("nats-") ? upper(f.flag) : `SHAREDLB_${upper(f.flag)}`);
    const odd = actual.filter((f) => f.env !== undefined && !COMMON_ENV.has(f.env) && f.env !== expected(f));
    expect(odd.map(key)).toEqual([]);
  });

  it("lists every former name a binary still reads", () => {
    expect(former.length).toBeGreaterThan(0);
    const section = DOC.slice(DOC.indexOf("## Former names"));
    expect(former.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});
