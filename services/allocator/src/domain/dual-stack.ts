import type { Allocation, IpFamily } from "@sharedlb/contracts";
import { requestedFamilies, secondFamily } from "./request.js";
import { recordResource, type SlotRecord, toAllocation } from "./slot-record.js";

// A dual-stack Service holds two records in the slot table: its first family's under the
// Service's own owner key (so a single-stack Service is exactly what it always was), and
// its second family's under a family-qualified key, `<cluster>/<namespace>/<name>#IPv6`.
// `#` never occurs in a Kubernetes name and keeps the key at three `/` parts (four mean an
// L7 object). The published allocation merges the two.

const FAMILY_SEPARATOR = "#";

export const familyOwner = (owner: string, family: IpFamily): string => `${owner}${FAMILY_SEPARATOR}${family}`;

/** Whether an owner key is a Service's second-family record. */
export const isFamilyOwner = (owner: string): boolean => owner.includes(FAMILY_SEPARATOR);

/** The Service's own owner key of a record, whichever family it holds. */
export const serviceOwner = (owner: string): string => owner.split(FAMILY_SEPARATOR)[0] ?? owner;

export function ownerFamily(owner: string): IpFamily | undefined {
  const f = owner.split(FAMILY_SEPARATOR)[1];
  return f === "IPv4" || f === "IPv6" ? f : undefined;
}

/**
 * The sequence a second-family record is applied under: twice the first record's, plus one
 * once the first is Allocated. It grows with every event, like the stream sequence, and
 * also when the first family stops waiting, so the second follows a retry of the first
 * under the same event.
 */
export const secondSeq = (first: Pick<SlotRecord, "seq" | "state">): number => 2 * first.seq + (first.state === "Allocated" ? 1 : 0);

/** The owner key of a Service's second-family record, from the Service its first record keeps. */
export function secondOwnerOf(primary: SlotRecord): string {
  const svc = recordResource(primary);
  return familyOwner(primary.owner, secondFamily(svc ?? {}));
}

/**
 * The allocation of a Service from its first-family record and, when there is one, its
 * second-family record. The second record counts only while the Service (as its first
 * record last saw it) asks for two families and both were applied for the same event:
 * both Allocated gives one address per family; a second family still waiting leaves
 * PreferDualStack served on one address (the message says why) and RequireDualStack
 * Pending. The version is the sum of both records' versions: each only grows, so the sum
 * grows with every change of either.
 */
export function mergeStack(primary: SlotRecord, second: SlotRecord | null): Allocation {
  const base = toAllocation(primary);
  if (!second) return base;
  const version = primary.version + second.version;
  const svc = recordResource(primary);
  const inStep = second.seq === secondSeq(primary) && second.uid === primary.uid;
  if (!svc || requestedFamilies(svc).length < 2 || !inStep || base.state !== "Allocated") return { ...base, allocationVersion: version };
  const family = ownerFamily(second.owner) ?? secondFamily(svc);
  if (second.state === "Allocated") return { ...base, ips: [base.ip, second.ip], allocationVersion: version };
  if (second.state === "Pending" && svc.ipFamilyPolicy === "RequireDualStack") {
    return { ...base, state: "Pending", ip: "", ports: [], reason: second.reason, message: `${family} address: ${second.message}`, allocationVersion: version };
  }
  if (second.state === "Pending") return { ...base, message: `${family} address not yet served: ${second.message}`, allocationVersion: version };
  // Failed: PreferDualStack with no usable pool of the second family (a note, not an error).
  return { ...base, message: second.message, allocationVersion: version };
}
