import { objectKey, type ProgrammedKind } from "@sharedlb/contracts";

/** A tenant object whose programming the gateway reports on lb.programmed. */
export interface ProgrammedObject {
  readonly kind: ProgrammedKind;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** allocationVersion: the allocation's resourceSequence for a Service, the generation for L7 kinds. */
  readonly version: number;
}

/** The id resources are attributed to (ResourceEntry.objects). */
export function programmedObjectId(o: Pick<ProgrammedObject, "kind" | "cluster" | "namespace" | "name">): string {
  return `${o.kind}/${objectKey(o.cluster, o.namespace, o.name)}`;
}
