import { ConfigError } from "./config.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

/**
 * `500ms`, `1.5s`, `30s`, `5m`, `1h` → milliseconds. The unit is required: a bare number
 * meant seconds for some flags and milliseconds for others, so it is not accepted.
 */
export function parseDuration(flag: string, value: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new ConfigError(`--${flag} "${value}" is not a duration (e.g. 500ms, 30s, 5m)`);
  return ms;
}

/** The milliseconds of a duration with a unit, or undefined when it is not one. */
export function durationMs(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as DurationUnit]);
}

/** A bare number read in `unit` (what the `…-ms` flags took), or undefined when it is not one. */
export function bareNumberMs(value: string, unit: DurationUnit): number | undefined {
  const m = /^\d+(?:\.\d+)?$/.exec(value.trim());
  return m ? Math.round(Number(m[0]) * UNIT_MS[unit]) : undefined;
}
