import { Counter, Gauge, type Registry } from "prom-client";

/** Every way a contract message can end, as the `outcome` label says it (bounded). */
export const MESSAGE_OUTCOMES = ["handled", "retried", "unavailable", "failed", "deadlettered", "exhausted", "deadletter_failed"] as const;
export type MessageOutcome = (typeof MESSAGE_OUTCOMES)[number];

export interface ConsumerMetrics {
  messages: Counter<"consumer" | "outcome">;
  /** Messages of the stream a follower has not applied yet (its lag). */
  pending: Gauge<"consumer">;
}

const MESSAGES = "sharedlb_consumer_messages_total";
const PENDING = "sharedlb_consumer_pending_messages";

/** The consumer metrics of a process, registered once per registry and shared by every consumer. */
export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const messages = registry.getSingleMetric(MESSAGES);
  const pending = registry.getSingleMetric(PENDING);
  if (messages instanceof Counter && pending instanceof Gauge) {
    return { messages: messages as Counter<"consumer" | "outcome">, pending: pending as Gauge<"consumer"> };
  }
  return {
    messages: new Counter({
      name: MESSAGES,
      help: "Contract messages by consumer and outcome (handled, retried, unavailable, failed, deadlettered, exhausted, deadletter_failed)",
      labelNames: ["consumer", "outcome"],
      registers: [registry],
    }),
    pending: new Gauge({
      name: PENDING,
      help: "Messages of the followed stream not applied yet: how far behind the stream this process is",
      labelNames: ["consumer"],
      registers: [registry],
    }),
  };
}
