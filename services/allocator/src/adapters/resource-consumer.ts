import type { JetStreamManager } from "@nats-io/jetstream";
import { filters, STREAM_NAMES } from "@sharedlb/contracts";
import { ensureDurableConsumer } from "@sharedlb/runtime";

export const CONSUMER_NAME = "allocator";

/** The durable consumer all allocator replicas share; work spreads across them. */
export function ensureResourceConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  return ensureDurableConsumer(jsm, STREAM_NAMES.resources, CONSUMER_NAME, filters.services, ackWaitMs);
}
