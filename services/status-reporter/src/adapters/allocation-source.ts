import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type Allocation, decodeAllocationMessage, filters, isServiceAllocationSubject, STREAM_NAMES } from "@sharedlb/contracts";
import { ensureDurableConsumer, readLastValues } from "@sharedlb/runtime";

export function consumerName(cluster: string): string {
  return `status-${cluster}`;
}

/** Every current allocation of the cluster (last value per Service), with its stream sequence. */
export async function replayAllocations(
  js: JetStreamClient,
  jsm: JetStreamManager,
  cluster: string,
  onInvalid: (subject: string, err: unknown) => void,
): Promise<{ allocation: Allocation; seq: number }[]> {
  const all = await readLastValues(
    js,
    jsm,
    STREAM_NAMES.allocations,
    (subject, data, seq) => {
      // L7 allocations are the L7 feed's (adapters/l7-feed.ts); they are not invalid.
      if (!isServiceAllocationSubject(subject)) return undefined;
      try {
        return [subject, { allocation: decodeAllocationMessage(subject, data).data, seq }];
      } catch (err) {
        onInvalid(subject, err);
        return undefined;
      }
    },
    filters.clusterAllocations(cluster),
  );
  return [...all.values()];
}

/**
 * The cluster's durable consumer on LB_ALLOCATIONS. Only the leader pulls from it; a new
 * leader resumes where the last one acked.
 */
export function ensureAllocationConsumer(jsm: JetStreamManager, cluster: string, ackWaitMs: number): Promise<void> {
  return ensureDurableConsumer(jsm, STREAM_NAMES.allocations, consumerName(cluster), filters.clusterAllocations(cluster), ackWaitMs);
}
