import { isDnsSubdomain } from "@sharedlb/contracts";
import { RE2JS } from "re2js";

// Checks of tenant input at the boundary. Each returns a message naming the problem, or
// undefined when the value is fine: the caller refuses only the rule or reference that
// carries it, so one bad value never disturbs the rest of the object.

/** RFC 9110 token: what an HTTP header name may be. */
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Gateway API Duration (GEP-2257): up to four <number><unit> parts. */
const DURATION_RE = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

export function hostnameProblem(value: string): string | undefined {
  const name = value.startsWith("*.") ? value.slice(2) : value;
  if (isDnsSubdomain(name) && name.split(".").every((label) => label.length <= 63)) return undefined;
  return `hostname "${clip(value)}" is not a DNS name (lowercase labels of letters, digits and '-', optionally prefixed by "*.")`;
}

export function headerNameProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > 256 || !HEADER_NAME_RE.test(value)) {
    return `"${clip(value)}" is not a valid HTTP header name`;
  }
  return undefined;
}

/** Compiling is the costly part of normalizing a route: verdicts are kept, a bounded number. */
const regexVerdicts = new Map<string, string | undefined>();
const MAX_REGEX_VERDICTS = 4096;

/** Envoy evaluates regular expressions with RE2: lookaround, backreferences and the like are refused here. */
export function regexProblem(value: string): string | undefined {
  if (regexVerdicts.has(value)) return regexVerdicts.get(value);
  let problem: string | undefined;
  try {
    RE2JS.compile(value);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    problem = `regular expression "${clip(value)}" is not valid RE2: ${detail}`;
  }
  if (regexVerdicts.size >= MAX_REGEX_VERDICTS) regexVerdicts.clear();
  regexVerdicts.set(value, problem);
  return problem;
}

/** Milliseconds of a Gateway API duration, or a message when it is not one. */
export function parseDuration(value: string): { ms: number } | { problem: string } {
  if (!DURATION_RE.test(value)) return { problem: `"${clip(value)}" is not a Gateway API duration (e.g. 10s, 1m30s, 500ms)` };
  let ms = 0;
  for (const m of value.matchAll(/([0-9]+)(h|ms|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? "ms"] ?? 1);
  return { ms };
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
