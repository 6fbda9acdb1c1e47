import type { JetStreamManager } from "@nats-io/jetstream";
import { filters, STREAM_NAMES } from "@sharedlb/contracts";
import { ensureDurableConsumer } from "@sharedlb/runtime";

export const CONSUMER_NAME = "allocator";
/** Gateways and Ingresses have their own durable consumer, so the Services' one stays as it was. */
export const L7_CONSUMER_NAME = "allocator-l7";
/** Only objects that own listeners get an L7 allocation; routes are served on those listeners. */
export const L7_FILTERS = ["lb.resource.*.gateway.>", "lb.resource.*.ingress.>"] as const;

/** The durable consumer all allocator replicas share; work spreads across them. */
export function ensureResourceConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  return ensureDurableConsumer(jsm, STREAM_NAMES.resources, CONSUMER_NAME, filters.services, ackWaitMs);
}

/** The L7 durable consumer, shared by the replicas like the Services' one. */
export function ensureL7Consumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  return ensureDurableConsumer(jsm, STREAM_NAMES.resources, L7_CONSUMER_NAME, L7_FILTERS, ackWaitMs);
}
