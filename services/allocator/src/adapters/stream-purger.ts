import type { JetStreamManager } from "@nats-io/jetstream";
import { parseObjectKey, STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { isL7Owner, parseL7Owner } from "../domain/l7-owner.js";
import type { StreamPurger } from "../app/ports.js";

/** Purges one Service's, Gateway's or Ingress's subject on LB_RESOURCES / LB_ALLOCATIONS below a sequence. */
export class JetStreamPurger implements StreamPurger {
  constructor(private readonly jsm: JetStreamManager) {}

  async purgeResource(owner: string, upToSeq: number): Promise<void> {
    // `seq` bounds the purge: a newer message on the subject (a re-created object) stays.
    await this.jsm.streams.purge(STREAM_NAMES.resources, { filter: resourceSubject(owner), seq: upToSeq + 1 });
  }

  async purgeAllocation(owner: string, upToSeq: number): Promise<void> {
    await this.jsm.streams.purge(STREAM_NAMES.allocations, { filter: allocationSubject(owner), seq: upToSeq + 1 });
  }
}

function resourceSubject(owner: string): string {
  if (isL7Owner(owner)) {
    const o = parseL7Owner(owner);
    return subjects.l7Resource(o.cluster, o.kind, o.namespace, o.name);
  }
  const o = parseObjectKey(owner);
  return subjects.service(o.cluster, o.namespace, o.name);
}

function allocationSubject(owner: string): string {
  if (isL7Owner(owner)) {
    const o = parseL7Owner(owner);
    return subjects.l7Allocation(o.cluster, o.namespace, o.name, o.kind);
  }
  const o = parseObjectKey(owner);
  return subjects.allocation(o.cluster, o.namespace, o.name);
}
