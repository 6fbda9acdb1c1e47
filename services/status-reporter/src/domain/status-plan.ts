import type { V1Service } from "@kubernetes/client-node";
import { ANNOTATIONS, CONDITION_ALLOCATED } from "@sharedlb/contracts";
import type { DesiredCondition, DesiredIngress, DesiredStatus } from "./desired-status.js";

/** A strategic-merge patch of the status subresource, and what it changes. */
export interface StatusPatch {
  body: {
    metadata: { uid: string; annotations?: Record<string, string | null> };
    status: {
      loadBalancer?: { ingress: DesiredIngress[] | null };
      conditions?: Record<string, unknown>[];
    };
  };
  /** `condition`: sharedlb.io/Allocated; `notices`: the conditions about what is not served. */
  changes: { ingress: boolean; condition: boolean; annotation: boolean; notices: boolean };
  /** The allocated-ports value the patch sets (null: removes), when it touches it. */
  annotation?: string | null;
}

/**
 * The smallest patch that makes `current` carry `desired`, or undefined when it already
 * does (no write, no update storm). `metadata.uid` makes the apiserver refuse the patch if
 * the name now belongs to a re-created Service. Conditions merge by type, so other
 * controllers' conditions are untouched; `ingress` is atomic and replaced whole.
 */
export function planStatus(current: V1Service, desired: DesiredStatus, now: Date): StatusPatch | undefined {
  const changes = { ingress: false, condition: false, annotation: false, notices: false };
  const patch: StatusPatch = { body: { metadata: { uid: current.metadata?.uid ?? "" }, status: {} }, changes };

  if (!sameIngress(current.status?.loadBalancer?.ingress ?? [], desired.ingress)) {
    changes.ingress = true;
    patch.body.status.loadBalancer = { ingress: desired.ingress.length > 0 ? desired.ingress : null };
  }

  const conditions: Record<string, unknown>[] = [];
  const allocated = conditionPatch(current, CONDITION_ALLOCATED, desired.condition, now);
  if (allocated) {
    changes.condition = true;
    conditions.push(allocated);
  }
  for (const [type, want] of desired.notices?.conditions ?? []) {
    const notice = conditionPatch(current, type, want, now);
    if (!notice) continue;
    changes.notices = true;
    conditions.push(notice);
  }
  if (conditions.length > 0) patch.body.status.conditions = conditions;

  const currentValue = current.metadata?.annotations?.[ANNOTATIONS.allocatedPorts];
  if (currentValue !== desired.allocatedPorts) {
    changes.annotation = true;
    patch.annotation = desired.allocatedPorts ?? null;
    patch.body.metadata.annotations = { [ANNOTATIONS.allocatedPorts]: patch.annotation };
  }

  return changes.ingress || changes.condition || changes.annotation || changes.notices ? patch : undefined;
}

/** The patch entry making condition `type` what `want` says (undefined: absent), or undefined when it already is. */
function conditionPatch(current: V1Service, type: string, want: DesiredCondition | undefined, now: Date): Record<string, unknown> | undefined {
  const existing = (current.status?.conditions ?? []).find((c) => c.type === type);
  if (!want) return existing ? { type, $patch: "delete" } : undefined;
  if (existing && existing.status === want.status && existing.reason === want.reason && existing.message === want.message) return undefined;
  const keepTime = existing && existing.status === want.status;
  return {
    type,
    status: want.status,
    reason: want.reason,
    message: want.message,
    lastTransitionTime: keepTime ? timeString(existing.lastTransitionTime, now) : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}

type IngressLike = { ip?: string; hostname?: string; ipMode?: string; ports?: { port: number; protocol?: string }[] };

function sameIngress(current: readonly IngressLike[], desired: readonly DesiredIngress[]): boolean {
  if (current.length !== desired.length) return false;
  return current.every((c, i) => {
    const d = desired[i] as DesiredIngress;
    const cp = c.ports ?? [];
    return (
      c.ip === d.ip &&
      !c.hostname &&
      c.ipMode === d.ipMode &&
      cp.length === d.ports.length &&
      cp.every((p, j) => p.port === d.ports[j]?.port && (p.protocol ?? "TCP") === d.ports[j]?.protocol)
    );
  });
}

/** List responses give Dates, watch events give strings; a missing time becomes `now`. */
function timeString(v: unknown, now: Date): string {
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, "Z");
  return typeof v === "string" ? v : now.toISOString().replace(/\.\d{3}Z$/, "Z");
}
