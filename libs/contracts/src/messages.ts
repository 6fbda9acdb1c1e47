import { ContractViolation } from "./errors.js";
import { type AnyCloudEvent, type CloudEvent, decodeEvent } from "./events.js";
import type { L7AllocationKind } from "./l7-allocation.js";
import type { RouteSourceKind } from "./l7-resources.js";
import {
  type AllocationSubject,
  parseAllocationSubject,
  parseProgrammedSubject,
  parseResourceSubject,
  type ProgrammedSubject,
  type ResourceKind,
  type ResourceSubject,
} from "./subjects.js";

/** Which event type belongs on which resource kind's subjects (besides tombstones). */
const RESOURCE_TYPES = {
  service: "io.sharedlb.service.v1",
  node: "io.sharedlb.node.v1",
  endpoints: "io.sharedlb.endpoints.v1",
  ingress: "io.sharedlb.route.v1",
  gateway: "io.sharedlb.gateway.v1",
  httproute: "io.sharedlb.route.v1",
  grpcroute: "io.sharedlb.route.v1",
  tlsroute: "io.sharedlb.route.v1",
  secret: "io.sharedlb.secret.v1",
} as const satisfies Record<ResourceKind, string>;

/** The kind token of each route source kind: a route event must sit on its own kind's subject. */
export const ROUTE_KIND_TOKENS = {
  Ingress: "ingress",
  HTTPRoute: "httproute",
  GRPCRoute: "grpcroute",
  TLSRoute: "tlsroute",
} as const satisfies Record<RouteSourceKind, ResourceKind>;

export type ResourceMessage = {
  subject: ResourceSubject;
  event:
    | CloudEvent<"io.sharedlb.service.v1">
    | CloudEvent<"io.sharedlb.node.v1">
    | CloudEvent<"io.sharedlb.endpoints.v1">
    | CloudEvent<"io.sharedlb.gateway.v1">
    | CloudEvent<"io.sharedlb.route.v1">
    | CloudEvent<"io.sharedlb.secret.v1">
    | CloudEvent<"io.sharedlb.deleted.v1">;
};

/**
 * Decodes a message from `lb.resource.>` and checks that its data names the very object
 * its subject names. Publish permissions are granted per subject (a tenant's credentials
 * only allow `lb.resource.<its cluster>.>`), so a payload claiming another cluster's
 * object must be rejected, not applied.
 */
export function decodeResourceMessage(natsSubject: string, payload: Uint8Array | string): ResourceMessage {
  const subject = parseResourceSubject(natsSubject);
  const event = decodeEvent(payload);
  const expectedType = RESOURCE_TYPES[subject.kind];
  if (event.type !== expectedType && event.type !== "io.sharedlb.deleted.v1") {
    throw new ContractViolation(
      "SubjectMismatch",
      `event type ${event.type} does not belong on ${natsSubject} (expected ${expectedType} or io.sharedlb.deleted.v1)`,
      "/type",
    );
  }
  const data = event.data as { cluster: string; namespace?: string; name: string; kind?: string };
  const mismatch: string[] = [];
  if (data.cluster !== subject.cluster) mismatch.push(`cluster "${data.cluster}"`);
  if ((data.namespace ?? "") !== subject.namespace) mismatch.push(`namespace "${data.namespace ?? ""}"`);
  if (data.name !== subject.name) mismatch.push(`name "${data.name}"`);
  if (event.type === "io.sharedlb.deleted.v1" && data.kind !== subject.kind) mismatch.push(`kind "${data.kind}"`);
  if (event.type === "io.sharedlb.route.v1" && ROUTE_KIND_TOKENS[event.data.sourceKind] !== subject.kind) {
    mismatch.push(`sourceKind "${event.data.sourceKind}"`);
  }
  if (mismatch.length > 0) {
    throw new ContractViolation(
      "SubjectMismatch",
      `data names ${mismatch.join(", ")} but the subject is ${natsSubject}`,
      "/data",
    );
  }
  return { subject, event } as ResourceMessage;
}

/**
 * Decodes a Service allocation from `lb.allocation.<cluster>.<namespace>.<name>`. L7
 * allocations (one token more) are not Service allocations: consumers that serve only
 * Services skip them with `isServiceAllocationSubject` before calling this.
 */
export function decodeAllocationMessage(
  natsSubject: string,
  payload: Uint8Array | string,
): CloudEvent<"io.sharedlb.allocation.v1"> {
  const decoded = decodeAnyAllocationMessage(natsSubject, payload);
  if (decoded.kind !== "service") {
    throw new ContractViolation("SubjectMismatch", `${natsSubject} is an L7 allocation, not a Service's`, "/type");
  }
  return decoded.event;
}

export type AllocationMessage =
  | { kind: "service"; subject: AllocationSubject; event: CloudEvent<"io.sharedlb.allocation.v1"> }
  | { kind: L7AllocationKind; subject: AllocationSubject; event: CloudEvent<"io.sharedlb.l7allocation.v1"> };

/** Decodes any message of `lb.allocation.>` (Service or L7) and checks data against subject. */
export function decodeAnyAllocationMessage(natsSubject: string, payload: Uint8Array | string): AllocationMessage {
  const subject = parseAllocationSubject(natsSubject);
  const event: AnyCloudEvent = decodeEvent(payload);
  const expected = subject.kind === "service" ? "io.sharedlb.allocation.v1" : "io.sharedlb.l7allocation.v1";
  if (event.type !== expected) {
    throw new ContractViolation("SubjectMismatch", `event type ${event.type} does not belong on ${natsSubject}`, "/type");
  }
  const d = event.data as { cluster: string; namespace: string; name: string; kind?: string };
  const kind = d.kind ?? "service";
  if (d.cluster !== subject.cluster || d.namespace !== subject.namespace || d.name !== subject.name || kind !== subject.kind) {
    throw new ContractViolation(
      "SubjectMismatch",
      `data names ${kind} ${d.cluster}/${d.namespace}/${d.name} but the subject is ${natsSubject}`,
      "/data",
    );
  }
  return { kind: subject.kind, subject, event } as AllocationMessage;
}

/** Decodes a message from `lb.programmed.>` and checks data against subject. */
export function decodeProgrammedMessage(
  natsSubject: string,
  payload: Uint8Array | string,
): { subject: ProgrammedSubject; event: CloudEvent<"io.sharedlb.programmed.v1"> } {
  const subject = parseProgrammedSubject(natsSubject);
  const event: AnyCloudEvent = decodeEvent(payload);
  if (event.type !== "io.sharedlb.programmed.v1") {
    throw new ContractViolation("SubjectMismatch", `event type ${event.type} does not belong on ${natsSubject}`, "/type");
  }
  const d = event.data;
  if (d.cluster !== subject.cluster || d.namespace !== subject.namespace || d.name !== subject.name || d.kind !== subject.kind) {
    throw new ContractViolation(
      "SubjectMismatch",
      `data names ${d.kind} ${d.cluster}/${d.namespace}/${d.name} but the subject is ${natsSubject}`,
      "/data",
    );
  }
  return { subject, event };
}
