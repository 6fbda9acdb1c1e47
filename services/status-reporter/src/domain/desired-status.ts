import type { V1Service } from "@kubernetes/client-node";
import { type AllocatedPort, type Allocation, ANNOTATIONS, CONDITION_ALLOCATED, formatAllocatedPorts } from "@sharedlb/contracts";
import { type ClassScope, inScope } from "@sharedlb/kube";
import { NO_NOTICES, NOTICE_CONDITION_TYPES, type ServingNotices } from "./serving-notices.js";

export interface DesiredIngress {
  ip: string;
  ipMode: "Proxy";
  ports: { port: number; protocol: string }[];
}

export interface DesiredCondition {
  status: "True" | "False";
  reason: string;
  message: string;
}

export interface DesiredEvent {
  type: "Normal" | "Warning";
  reason: "Allocated" | "AllocationFailed" | "UDPSourceRangesUnsupported";
  note: string;
}

/**
 * What the Service should carry. `condition`/`allocatedPorts` undefined mean "absent":
 * a cleared Service has no ingress, no condition and no annotation of ours.
 */
export interface DesiredStatus {
  ingress: DesiredIngress[];
  condition: DesiredCondition | undefined;
  allocatedPorts: string | undefined;
  /** The Event to record when writing this status changes the Service. */
  event: DesiredEvent | undefined;
  /** What is not served (refused Nodes, UDP ports under source ranges); undefined: leave those conditions as they are. */
  notices?: ServingNotices;
}

/** Why the reporter decided what it did; goes into the lb.status report. */
export interface Verdict {
  /** `write`: make the Service carry `status`; `leave`: do not touch it. */
  action: "write" | "leave";
  status: DesiredStatus;
  /** The condition as reported on lb.status (also for leave/clear cases). */
  summary: { status: "True" | "False" | "Unknown"; reason: string; message: string };
  ip: string;
  ports: AllocatedPort[];
}

const CLEARED: DesiredStatus = { ingress: [], condition: undefined, allocatedPorts: undefined, event: undefined, notices: NO_NOTICES };

// metav1.Condition.reason must match this; allocation reasons already do.
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * Decides what a Service should carry, given its latest allocation. Only allocations of
 * this very Service (same uid) are applied: a re-created Service with the old name must not
 * inherit the old one's address. What we wrote is cleared when the Service leaves our
 * class or type, or when its allocation is Released while the Service still exists.
 * `notices`: what the fleet reports is not served of the current allocation (undefined: no
 * report yet); shown only while the Service is Allocated.
 */
export function decideStatus(
  svc: V1Service,
  allocation: Allocation | undefined,
  scope: ClassScope,
  notices?: ServingNotices,
): Verdict {
  const uid = svc.metadata?.uid ?? "";
  const none = { ip: "", ports: [] as AllocatedPort[] };
  if (!inScope(svc, scope)) {
    return {
      action: hasOurMarks(svc) ? "write" : "leave",
      status: CLEARED,
      summary: {
        status: "Unknown",
        reason: "NotServed",
        message: "the Service is not a LoadBalancer of this class; sharedlb status cleared",
      },
      ...none,
    };
  }
  if (!allocation || allocation.uid !== uid) {
    return {
      action: "leave",
      status: CLEARED,
      summary: {
        status: "Unknown",
        reason: "NoAllocation",
        message: allocation ? `allocation is for uid ${allocation.uid}, not ${uid}` : "no allocation yet",
      },
      ...none,
    };
  }
  switch (allocation.state) {
    case "Released":
      return {
        action: "write",
        status: CLEARED,
        summary: { status: "Unknown", reason: "Released", message: "the allocation was released; sharedlb status cleared" },
        ...none,
      };
    case "Allocated": {
      const mapping = formatAllocatedPorts(allocation.ports);
      // Dual-stack: one entry per address, in the Service's ipFamilies order (ip is the first).
      const addresses = [allocation.ip, ...(allocation.ips ?? []).filter((ip) => ip !== allocation.ip)];
      // An Allocated message is a note (PreferDualStack served on one family, and why).
      const note = allocation.message ? ` (${allocation.message})` : "";
      const message = `${addresses.join(", ")} from pool ${allocation.pool}: ${mapping}${note}`;
      const ports = sortedPorts(allocation.ports);
      return {
        action: "write",
        status: {
          ingress: addresses.map((ip) => ({ ip, ipMode: "Proxy" as const, ports })),
          condition: { status: "True", reason: "Allocated", message },
          allocatedPorts: mapping,
          event: { type: "Normal", reason: "Allocated", note: `Allocated ${message}` },
          ...(notices ? { notices } : {}),
        },
        summary: { status: "True", reason: "Allocated", message },
        ip: allocation.ip,
        ports: allocation.ports,
      };
    }
    case "Pending":
    case "Failed": {
      const reason = CONDITION_REASON.test(allocation.reason) ? allocation.reason : allocation.state;
      const waiting = allocation.state === "Pending" ? " (waiting: served as soon as it becomes possible)" : "";
      const message = `${allocation.message || allocation.state}${waiting}`;
      return {
        action: "write",
        status: {
          ingress: [],
          condition: { status: "False", reason, message },
          allocatedPorts: undefined,
          event: { type: "Warning", reason: "AllocationFailed", note: `${reason}: ${message}`.slice(0, 1000) },
          notices: NO_NOTICES,
        },
        summary: { status: "False", reason, message },
        ...none,
      };
    }
  }
}

/** Ports of the ingress entry: the external ports, in a stable order (the list is atomic). */
function sortedPorts(ports: readonly AllocatedPort[]): DesiredIngress["ports"] {
  return [...ports]
    .sort((a, b) => a.externalPort - b.externalPort || a.protocol.localeCompare(b.protocol))
    .map((p) => ({ port: p.externalPort, protocol: p.protocol }));
}

/** Did sharedlb write to this Service? Our condition or annotation says so. */
export function hasOurMarks(svc: V1Service): boolean {
  return (
    svc.metadata?.annotations?.[ANNOTATIONS.allocatedPorts] !== undefined ||
    (svc.status?.conditions ?? []).some(
      (c) => c.type === CONDITION_ALLOCATED || (NOTICE_CONDITION_TYPES as readonly string[]).includes(c.type),
    )
  );
}
