import { ContractViolation } from "./errors.js";
import { type AnyCloudEvent, type CloudEvent, decodeEvent } from "./events.js";
import { type ResourceSubject, parseAllocationSubject, parseResourceSubject } from "./subjects.js";

/** Which event types may appear on which resource kind's subjects. */
const RESOURCE_TYPES = {
  service: "io.sharedlb.service.v1",
  node: "io.sharedlb.node.v1",
  endpoints: "io.sharedlb.endpoints.v1",
  route: "io.sharedlb.route.v1",
} as const;

export type ResourceMessage = {
  subject: ResourceSubject;
  event:
    | CloudEvent<"io.sharedlb.service.v1">
    | CloudEvent<"io.sharedlb.node.v1">
    | CloudEvent<"io.sharedlb.endpoints.v1">
    | CloudEvent<"io.sharedlb.route.v1">
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
  if (mismatch.length > 0) {
    throw new ContractViolation(
      "SubjectMismatch",
      `data names ${mismatch.join(", ")} but the subject is ${natsSubject}`,
      "/data",
    );
  }
  return { subject, event } as ResourceMessage;
}

/** Decodes a message from `lb.allocation.>` and checks data against subject. */
export function decodeAllocationMessage(
  natsSubject: string,
  payload: Uint8Array | string,
): CloudEvent<"io.sharedlb.allocation.v1"> {
  const ref = parseAllocationSubject(natsSubject);
  const event: AnyCloudEvent = decodeEvent(payload);
  if (event.type !== "io.sharedlb.allocation.v1") {
    throw new ContractViolation("SubjectMismatch", `event type ${event.type} does not belong on ${natsSubject}`, "/type");
  }
  const d = event.data;
  if (d.cluster !== ref.cluster || d.namespace !== ref.namespace || d.name !== ref.name) {
    throw new ContractViolation(
      "SubjectMismatch",
      `data names ${d.cluster}/${d.namespace}/${d.name} but the subject is ${natsSubject}`,
      "/data",
    );
  }
  return event;
}
