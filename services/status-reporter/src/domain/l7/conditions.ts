import type { ConditionStatus, FoundCondition, WantedCondition } from "./gateway-api.js";

// metav1.Condition limits: reason is a CamelCase identifier, message at most 32768 bytes.
const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const MAX_MESSAGE = 32_768;

export function condition(
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  observedGeneration: number,
): WantedCondition {
  return {
    type,
    status,
    reason: REASON.test(reason) && reason.length <= 1024 ? reason : "Invalid",
    message: truncate(message, MAX_MESSAGE),
    observedGeneration,
  };
}

export function truncate(s: string, max: number): string {
  // Characters, not bytes, are counted: stay well below the byte limit for multibyte text.
  const limit = Math.floor(max / 4);
  return s.length <= limit ? s : `${s.slice(0, limit - 1)}…`;
}

/** Same meaning (times aside): what decides whether a write is needed. */
export function sameCondition(found: FoundCondition | undefined, wanted: WantedCondition): boolean {
  return (
    found !== undefined &&
    found.status === wanted.status &&
    (found.reason ?? "") === wanted.reason &&
    (found.message ?? "") === wanted.message &&
    found.observedGeneration === wanted.observedGeneration
  );
}

export function sameConditions(found: readonly FoundCondition[], wanted: readonly WantedCondition[]): boolean {
  return (
    found.length === wanted.length &&
    wanted.every((w) =>
      sameCondition(
        found.find((f) => f.type === w.type),
        w,
      ),
    )
  );
}

/** A written condition: `lastTransitionTime` kept while the status stays the same. */
export interface TimedCondition extends WantedCondition {
  lastTransitionTime: string;
}

export function withTimes(wanted: readonly WantedCondition[], found: readonly FoundCondition[], now: Date): TimedCondition[] {
  return wanted.map((w) => {
    const f = found.find((c) => c.type === w.type);
    const keep = f !== undefined && f.status === w.status;
    return { ...w, lastTransitionTime: keep ? timeString(f.lastTransitionTime, now) : isoSeconds(now) };
  });
}

export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** List responses give Dates, watch events and raw JSON give strings; anything else becomes `now`. */
function timeString(v: unknown, now: Date): string {
  if (v instanceof Date) return isoSeconds(v);
  return typeof v === "string" && v !== "" ? v : isoSeconds(now);
}
