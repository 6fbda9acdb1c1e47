import { type Allocation, MAX_PROGRAMMED_WARNINGS, type ProgrammedWarning, type ServiceResource } from "@sharedlb/contracts";
import type { NodeSelection, ServicePlan, UnservedNode } from "@sharedlb/serving";

/** What the tenant is told about one served Service: its view of the LB side's decisions. */
export interface ServiceWarningInputs {
  readonly service: ServiceResource | undefined;
  readonly allocation: Allocation | undefined;
  readonly plan: ServicePlan;
  readonly selection: NodeSelection | undefined;
}

/**
 * The parts of a served Service that the tenant asked for and does not get, as lb.programmed
 * warnings: UDP ports left out because its loadBalancerSourceRanges cannot be enforced for
 * UDP, and each of its cluster's Nodes whose address the policy refuses (any Node may be
 * sent a Service's traffic, so a refused one concerns every Service of the cluster). Only
 * the tenant's own objects and addresses are named. Deterministic (replicas publish the
 * same) and bounded: past MAX_PROGRAMMED_WARNINGS the last warning counts the rest.
 */
export function serviceWarnings(inputs: ServiceWarningInputs): ProgrammedWarning[] {
  const out: ProgrammedWarning[] = [];
  const udp = unservedUdpPorts(inputs);
  if (udp.length > 0) {
    const list = udp.map((p) => `${p.port}/UDP`).join(", ");
    out.push({
      reason: "UDPSourceRangesUnsupported",
      message: clip(
        `port${udp.length > 1 ? "s" : ""} ${list} not served: loadBalancerSourceRanges cannot be enforced for UDP, and a UDP port open to every source would ignore them`,
      ),
      ports: udp.map((p) => ({ protocol: "UDP", port: p.port })),
    });
  }
  const refused = (inputs.selection?.notServing ?? []).filter((n) => n.reason === "AddressRefused");
  const room = MAX_PROGRAMMED_WARNINGS - out.length;
  const shown = refused.length > room ? refused.slice(0, room - 1) : refused;
  for (const n of shown) out.push({ reason: "AddressRefused", node: n.node, message: clip(`Node ${n.node} is not served: ${refusalText(n)}`) });
  if (shown.length < refused.length) {
    out.push({
      reason: "AddressRefused",
      message: `${refused.length - shown.length} more Node(s) not served because of their address`,
    });
  }
  return out;
}

/** Allocated UDP ports the plan left out while the Service restricts its sources. */
function unservedUdpPorts({ service, allocation, plan }: ServiceWarningInputs): { port: number }[] {
  if (!service || !allocation || (service.loadBalancerSourceRanges ?? []).length === 0) return [];
  const served = new Set(plan.ports.filter((p) => p.protocol === "UDP").map((p) => p.servicePort));
  return allocation.ports
    .filter((p) => p.protocol === "UDP" && !served.has(p.port))
    .map((p) => ({ port: p.port }))
    .sort((a, b) => a.port - b.port);
}

/**
 * The policy's sentence, except for the LB cluster's own ranges: which ranges those are is
 * the operator's business, not a tenant's (it would map the LB cluster's networks).
 */
function refusalText(n: UnservedNode): string {
  if (n.refusal === "LbClusterRange") return `address ${n.address ?? "?"} is inside the load balancer cluster's own networks`;
  return n.message;
}

const MAX_MESSAGE = 1024;
const clip = (s: string) => (s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 1)}…` : s);

/** Equal warnings in equal order: a report needs publishing again only when they differ. */
export function sameWarnings(a: readonly ProgrammedWarning[] | undefined, b: readonly ProgrammedWarning[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}
