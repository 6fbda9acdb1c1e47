import { objectKey, type ProgrammedKind, type ProgrammedWarning } from "@sharedlb/contracts";

/** A tenant object whose programming the gateway reports on lb.programmed. */
export interface ProgrammedObject {
  readonly kind: ProgrammedKind;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** allocationVersion: the allocation's resourceSequence for a Service, the generation for L7 kinds. */
  readonly version: number;
  /** What the tenant is told is not served (lb.programmed `warnings`); absent: nothing. */
  readonly warnings?: readonly ProgrammedWarning[];
  /**
   * The pool it is allocated in, set with warnings: an object with nothing left to serve
   * (every port dropped) is still reported to the fleets of its pool, so the tenant hears why.
   */
  readonly pool?: string;
}

/** Whether two lists of programmedObjectIds are the same, in the same order. */
export function sameObjectIds(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((id, i) => b[i] === id));
}

/** The id resources are attributed to (ResourceEntry.objects). */
export function programmedObjectId(o: Pick<ProgrammedObject, "kind" | "cluster" | "namespace" | "name">): string {
  return `${o.kind}/${objectKey(o.cluster, o.namespace, o.name)}`;
}
