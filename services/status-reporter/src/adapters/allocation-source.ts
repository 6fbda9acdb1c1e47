import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { type Allocation, decodeAllocationMessage, filters, STREAM_NAMES } from "@sharedlb/contracts";
import { readLastValues } from "@sharedlb/runtime";

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
export async function ensureAllocationConsumer(jsm: JetStreamManager, cluster: string, ackWaitMs: number): Promise<void> {
  const name = consumerName(cluster);
  const config = {
    durable_name: name,
    filter_subject: filters.clusterAllocations(cluster),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 20_000,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.add(STREAM_NAMES.allocations, config);
  } catch (err) {
    const info = await jsm.consumers.info(STREAM_NAMES.allocations, name).catch(() => undefined);
    if (!info) throw err;
    if (info.config.filter_subject !== config.filter_subject) {
      throw new Error(
        `consumer ${name} on ${STREAM_NAMES.allocations} filters "${info.config.filter_subject}", expected "${config.filter_subject}"`,
      );
    }
  }
}
