import type { Programmed, ProgrammedWarning } from "@sharedlb/contracts";
import type { DesiredCondition } from "./desired-status.js";

/** Conditions, besides sharedlb.io/Allocated, that say which parts of a served Service the LB side leaves out. */
export const CONDITION_NODES_SERVED = "sharedlb.io/NodesServed";
export const CONDITION_SOURCE_RANGES_ENFORCED = "sharedlb.io/SourceRangesEnforced";
export const NOTICE_CONDITION_TYPES = [CONDITION_NODES_SERVED, CONDITION_SOURCE_RANGES_ENFORCED] as const;
export type NoticeConditionType = (typeof NOTICE_CONDITION_TYPES)[number];

/** An Event about a tenant Node whose address the LB side refuses. */
export interface NodeNotice {
  readonly node: string;
  readonly reason: "AddressRefused";
  readonly note: string;
}

/**
 * What a Service should carry about what is not served. `conditions` holds every notice
 * type: undefined means the condition must be absent (the cause is gone, or never was).
 */
export interface ServingNotices {
  readonly conditions: ReadonlyMap<NoticeConditionType, DesiredCondition | undefined>;
  readonly nodeEvents: readonly NodeNotice[];
  /** The Warning Event to record on the Service itself (UDP ports not served). */
  readonly serviceEvent: { readonly reason: "UDPSourceRangesUnsupported"; readonly note: string } | undefined;
}

/** Nothing is left out, or nothing is served at all: no notice condition stays. */
export const NO_NOTICES: ServingNotices = {
  conditions: new Map(NOTICE_CONDITION_TYPES.map((t) => [t, undefined])),
  nodeEvents: [],
  serviceEvent: undefined,
};

/** A Service's lb.programmed report as remembered: from which replica and fleet, at which stream sequence. */
export interface HeldReport {
  readonly report: Programmed;
  readonly seq: number;
}

/**
 * The warnings that apply to allocation version `version`: those of the newest report
 * (stream order) about that very version. Every replica and fleet computes them from the
 * same view, so the newest speaks for all. Undefined when no report is about this version
 * yet: what the Service carries is then left as it is until one is.
 */
export function currentWarnings(reports: Iterable<HeldReport>, version: number): readonly ProgrammedWarning[] | undefined {
  let newest: HeldReport | undefined;
  for (const r of reports) {
    if (r.report.allocationVersion !== version) continue;
    if (!newest || r.seq > newest.seq) newest = r;
  }
  return newest ? (newest.report.warnings ?? []) : undefined;
}

const MAX_CONDITION_MESSAGE = 4096;
const MAX_NOTE = 1000;

/**
 * The conditions and Events the warnings call for: NodesServed False (reason
 * AddressRefused) naming each refused Node, one AddressRefused Event per Node; and
 * SourceRangesEnforced False (reason UDPUnsupported) naming the UDP ports left out, with an
 * Event on the Service. Reasons this version does not know are ignored.
 */
export function decideNotices(warnings: readonly ProgrammedWarning[]): ServingNotices {
  const refused = warnings.filter((w) => w.reason === "AddressRefused");
  const udp = warnings.filter((w) => w.reason === "UDPSourceRangesUnsupported");
  const conditions = new Map<NoticeConditionType, DesiredCondition | undefined>(NO_NOTICES.conditions);
  if (refused.length > 0) {
    const named = refused.filter((w) => w.node !== undefined).length;
    conditions.set(CONDITION_NODES_SERVED, {
      status: "False",
      reason: "AddressRefused",
      message: clip(
        `${named} Node(s) never receive this Service's traffic because of their address: ${refused.map((w) => w.message).join("; ")}`,
        MAX_CONDITION_MESSAGE,
      ),
    });
  }
  let serviceEvent: ServingNotices["serviceEvent"];
  if (udp.length > 0) {
    const message = clip(udp.map((w) => w.message).join("; "), MAX_CONDITION_MESSAGE);
    conditions.set(CONDITION_SOURCE_RANGES_ENFORCED, { status: "False", reason: "UDPUnsupported", message });
    serviceEvent = { reason: "UDPSourceRangesUnsupported", note: clip(message, MAX_NOTE) };
  }
  const nodeEvents: NodeNotice[] = refused.flatMap((w) =>
    w.node === undefined ? [] : [{ node: w.node, reason: "AddressRefused" as const, note: clip(w.message, MAX_NOTE) }],
  );
  return { conditions, nodeEvents, serviceEvent };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
