import type { JetStreamManager } from "@nats-io/jetstream";
import { STREAM_NAMES, subjects } from "@sharedlb/contracts";
import type { StreamPurger } from "../app/ports.js";

/** Purges one Service's subject on LB_RESOURCES / LB_ALLOCATIONS below a sequence. */
export class JetStreamPurger implements StreamPurger {
  constructor(private readonly jsm: JetStreamManager) {}

  async purgeResource(cluster: string, namespace: string, name: string, upToSeq: number): Promise<void> {
    // `seq` bounds the purge: a newer message on the subject (a re-created Service) stays.
    await this.jsm.streams.purge(STREAM_NAMES.resources, { filter: subjects.service(cluster, namespace, name), seq: upToSeq + 1 });
  }

  async purgeAllocation(cluster: string, namespace: string, name: string, upToSeq: number): Promise<void> {
    await this.jsm.streams.purge(STREAM_NAMES.allocations, { filter: subjects.allocation(cluster, namespace, name), seq: upToSeq + 1 });
  }
}
