import { parseArgs } from "node:util";
import { ConfigError } from "./config.js";
import { bareNumberMs, type DurationUnit, durationMs } from "./duration.js";

/** Names a flag had before it was renamed: still read for one release, with a warning. */
export interface FormerNames {
  flag?: string;
  env?: string;
}

export interface FlagSpec {
  /** Long flag name without dashes, e.g. "nats-url". */
  flag: string;
  /** DESIGN.md's common names (NATS_URL, …) or `SHAREDLB_<FLAG>`. */
  env: string;
  description: string;
  default?: string;
  /** What --help shows as the default when the value differs per process (e.g. `<hostname>-<pid>`). */
  defaultShown?: string;
  /** `duration` values are `500ms`, `30s`, `5m`, `1h` and arrive as milliseconds. */
  kind?: "string" | "boolean" | "duration";
  /** Smallest accepted duration (e.g. `1s`); without it a duration must be above zero. */
  min?: string;
  formerly?: FormerNames;
  /**
   * The flag (or its former name) took a bare number in this unit: for one release such a
   * value is still read so, with a warning asking for the unit.
   */
  legacyBareUnit?: DurationUnit;
}

type FlagValue<F extends FlagSpec> = F extends { kind: "boolean" }
  ? boolean
  : F extends { kind: "duration" }
    ? F extends { default: string }
      ? number
      : number | undefined
    : F extends { default: string }
      ? string
      : string | undefined;

export type FlagValues<S extends Record<string, FlagSpec>> = { [K in keyof S]: FlagValue<S[K]> };

export interface CommandLine<S extends Record<string, FlagSpec>> {
  values: FlagValues<S>;
  help: string;
  wantsHelp: boolean;
  /** Deprecated names or forms that were used: log each once the logger exists. */
  warnings: string[];
}

/** Where a value came from: named in errors and warnings so the user finds it. */
interface Source {
  value: string | boolean;
  /** `--janitor-interval` or `env SHAREDLB_JANITOR_INTERVAL`. */
  origin: string;
  deprecated: boolean;
}

/**
 * Reads flags, then their environment variables, then defaults; former names after the
 * current ones. Durations are validated here, so every error names the flag (and the env
 * variable when the value came from there). `--help` lists every flag with its env, so the
 * help, the docs table and the parser never disagree.
 */
export function parseCommandLine<S extends Record<string, FlagSpec>>(
  program: string,
  summary: string,
  spec: S,
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): CommandLine<S> {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const s of Object.values(spec)) {
    const type = s.kind === "boolean" ? "boolean" : "string";
    options[s.flag] = { type };
    if (s.formerly?.flag) options[s.formerly.flag] = { type };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new ConfigError(`${program}: ${(err as Error).message} (see --help)`);
  }
  const warnings: string[] = [];
  const values: Record<string, string | boolean | number | undefined> = {};
  for (const [key, s] of Object.entries(spec)) {
    const source = findSource(s, parsed.values, env);
    if (source?.deprecated) warnings.push(`${source.origin} is deprecated and goes in the next release: use ${currentName(s, source)}`);
    values[key] = resolve(s, source, warnings);
  }
  return { values: values as FlagValues<S>, help: helpText(program, summary, spec), wantsHelp: parsed.values.help === true, warnings };
}

function findSource(s: FlagSpec, flags: Record<string, string | boolean | (string | boolean)[] | undefined>, env: NodeJS.ProcessEnv): Source | undefined {
  const fromFlag = (name: string | undefined): string | boolean | undefined => {
    const v = name === undefined ? undefined : flags[name];
    return typeof v === "string" || typeof v === "boolean" ? v : undefined;
  };
  const fromEnv = (name: string | undefined): string | undefined => {
    const v = name === undefined ? undefined : env[name];
    return v === undefined || v === "" ? undefined : v;
  };
  const candidates: [string | boolean | undefined, string, boolean][] = [
    [fromFlag(s.flag), `--${s.flag}`, false],
    [fromFlag(s.formerly?.flag), `--${s.formerly?.flag}`, true],
    [fromEnv(s.env), `env ${s.env}`, false],
    [fromEnv(s.formerly?.env), `env ${s.formerly?.env}`, true],
  ];
  const hit = candidates.find(([v]) => v !== undefined);
  return hit === undefined || hit[0] === undefined ? undefined : { value: hit[0], origin: hit[1], deprecated: hit[2] };
}

function currentName(s: FlagSpec, source: Source): string {
  return source.origin.startsWith("env ") ? `env ${s.env}` : `--${s.flag}`;
}

function resolve(s: FlagSpec, source: Source | undefined, warnings: string[]): string | boolean | number | undefined {
  if (s.kind === "boolean") {
    if (source === undefined) return false;
    return source.value === true || (typeof source.value === "string" && ["1", "true", "yes"].includes(source.value.toLowerCase()));
  }
  const text = typeof source?.value === "string" ? source.value : s.default;
  if (s.kind !== "duration" || text === undefined) return text;
  const origin = source === undefined ? `default of --${s.flag}` : source.origin === `--${s.flag}` ? source.origin : `${source.origin} (--${s.flag})`;
  let ms = durationMs(text);
  if (ms === undefined && s.legacyBareUnit !== undefined) {
    ms = bareNumberMs(text, s.legacyBareUnit);
    if (ms !== undefined) {
      warnings.push(`${origin} "${text}" has no unit and is read as ${text}${s.legacyBareUnit}; bare numbers stop working in the next release: write ${text}${s.legacyBareUnit}`);
    }
  }
  if (ms === undefined) throw new ConfigError(`${origin} "${text}" is not a duration (e.g. 500ms, 30s, 5m)`);
  const min = s.min === undefined ? undefined : durationMs(s.min);
  if (min !== undefined && ms < min) throw new ConfigError(`${origin} "${text}" must be at least ${s.min}`);
  if (min === undefined && ms <= 0) throw new ConfigError(`${origin} "${text}" must be above zero`);
  return ms;
}

function helpText(program: string, summary: string, spec: Record<string, FlagSpec>): string {
  const all = Object.values(spec);
  const width = Math.max(...all.map((s) => s.flag.length)) + 4;
  const lines = all.map((s) => {
    const shown = s.defaultShown ?? s.default;
    const def = shown !== undefined ? ` (default ${shown})` : "";
    return `  --${s.flag.padEnd(width)}${s.description}${def}  [env ${s.env}]`;
  });
  let help = `Usage: ${program} [flags]\n\n${summary}\n\nFlags:\n${lines.join("\n")}\n  --${"help".padEnd(width)}show this help\n`;
  const former = all.filter((s) => s.formerly !== undefined);
  if (former.length > 0) {
    const names = former.map((s) => {
      const old = [s.formerly?.flag && `--${s.formerly.flag}`, s.formerly?.env && `env ${s.formerly.env}`].filter(Boolean).join(", ");
      return `  ${old} → --${s.flag} [env ${s.env}]`;
    });
    help += `\nFormer names (still read, with a warning, until the next release):\n${names.join("\n")}\n`;
  }
  return help;
}
