import { parseArgs } from "node:util";
import type { CommandSpec, OptionSpec, OptionValues } from "../commands/command.js";
import { CliError } from "./errors.js";

/** Flags every command takes; they may come before or after the command name. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  "nats-url": {
    type: "string",
    env: "NATS_URL",
    default: "nats://127.0.0.1:4222",
    value: "<url>",
    description: "NATS server URL(s), comma-separated",
  },
  json: { type: "boolean", description: "machine-readable output (JSON; NDJSON for events)" },
  "no-color": { type: "boolean", description: "no colour even on a terminal (also NO_COLOR=1)" },
  timeout: {
    type: "string",
    env: "SHAREDLB_TIMEOUT",
    default: "10s",
    value: "<duration>",
    description: "connect timeout, and how long a read may stall",
  },
  help: { type: "boolean", description: "show help" },
};

export interface ParsedCommandLine {
  /** Undefined when no command was named (help is shown). */
  command: string | undefined;
  values: OptionValues;
  positionals: string[];
  help: boolean;
}

/** Finds the command: the first word that is not a flag or a global flag's value. */
export function findCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") break;
    if (a.startsWith("-")) {
      const name = a.replace(/^--?/, "");
      if (!name.includes("=") && GLOBAL_OPTIONS[name]?.type === "string") i++;
      continue;
    }
    return { command: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}

/**
 * Parses a command's flags (its own plus the global ones), then fills absent ones from the
 * environment and defaults, so `--help` documents exactly what is read.
 */
export function parseCommandArgs(
  spec: CommandSpec | undefined,
  rest: readonly string[],
  env: Record<string, string | undefined>,
): ParsedCommandLine {
  const specs: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) };
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) options[name] = { type: s.type, ...(s.multiple ? { multiple: true } : {}) };
  options.help = { type: "boolean", short: "h" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (err) {
    const where = spec ? `sharedlb ${spec.name}` : "sharedlb";
    throw new CliError("UsageError", `${where}: ${(err as Error).message.split("\n")[0]} (see ${where} --help)`);
  }
  const values: OptionValues = {};
  for (const [name, s] of Object.entries(specs)) {
    const v = parsed.values[name];
    if (v !== undefined) {
      values[name] = v as string | boolean | string[];
      continue;
    }
    const fromEnv = s.env ? env[s.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "")
      values[name] = s.type === "boolean" ? ["1", "true", "yes"].includes(fromEnv.toLowerCase()) : fromEnv;
    else if (s.default !== undefined) values[name] = s.default;
  }
  const help = parsed.values.help === true;
  if (spec && !help) {
    const n = parsed.positionals.length;
    if (n < spec.positionals.min || n > spec.positionals.max) {
      const want = spec.args ? `expects ${spec.args}` : "takes no arguments";
      throw new CliError(
        "UsageError",
        `sharedlb ${spec.name} ${want} (got ${n === 0 ? "none" : parsed.positionals.join(" ")}; see sharedlb ${spec.name} --help)`,
      );
    }
  }
  return { command: spec?.name, values, positionals: parsed.positionals, help };
}

/** `10s`, `500ms`, `2m` or plain milliseconds. */
export function parseTimeout(value: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new CliError("UsageError", `--timeout "${value}" is not a duration such as 10s, 500ms or 2m`);
  const n = Number(m[1]);
  const ms = m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n;
  if (ms <= 0) throw new CliError("UsageError", "--timeout must be positive");
  return ms;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([name, s]) => {
    const flag = `--${name}${s.value ? ` ${s.value}` : ""}`;
    const extra = [s.default !== undefined ? `default ${s.default}` : "", s.env ? `env ${s.env}` : ""].filter(Boolean).join(", ");
    return [flag, `${s.description}${extra ? ` [${extra}]` : ""}`] as const;
  });
  const width = Math.max(...entries.map(([f]) => f.length)) + 2;
  return entries.map(([f, d]) => `  ${f.padEnd(width)}${d}`);
}

export function rootHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => `${c.name} ${c.args}`.length)) + 2;
  return [
    "Usage: sharedlb <command> [flags]",
    "",
    "The sharedlb operator CLI: reads what the services publish on NATS (JetStream streams",
    "LB_RESOURCES, LB_ALLOCATIONS, LB_HISTORY, LB_EVENTS) and never changes anything.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${`${c.name} ${c.args}`.trimEnd().padEnd(width)}${c.summary}`),
    "",
    "Global flags:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Run `sharedlb <command> --help` for a command's flags.",
    "Exit codes: 0 ok, 1 failed (NATS unreachable, unknown Service, …), 2 bad command line.",
    "",
  ].join("\n");
}

export function commandHelp(spec: CommandSpec): string {
  const own = Object.keys(spec.options).length > 0 ? ["", "Flags:", ...optionLines(spec.options)] : [];
  return [
    `Usage: sharedlb ${spec.name}${spec.args ? ` ${spec.args}` : ""} [flags]`,
    "",
    `${spec.summary[0]?.toUpperCase()}${spec.summary.slice(1)}.`,
    "",
    spec.details,
    ...own,
    "",
    "Global flags:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
  ].join("\n");
}
