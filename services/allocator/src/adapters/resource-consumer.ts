import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { filters, STREAM_NAMES } from "@sharedlb/contracts";

export const CONSUMER_NAME = "allocator";

/** The durable consumer all allocator replicas share; work spreads across them. */
export async function ensureResourceConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  const config = {
    durable_name: CONSUMER_NAME,
    filter_subject: filters.services,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 20_000,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.add(STREAM_NAMES.resources, config);
  } catch (err) {
    const info = await jsm.consumers.info(STREAM_NAMES.resources, CONSUMER_NAME).catch(() => undefined);
    if (!info) throw err;
    if (info.config.filter_subject !== config.filter_subject) {
      throw new Error(`consumer ${CONSUMER_NAME} on ${STREAM_NAMES.resources} filters "${info.config.filter_subject}", expected "${config.filter_subject}"`);
    }
  }
}
