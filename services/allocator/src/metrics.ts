import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Allocator metrics; labels are bounded (outcome, state, reason, pool names from config). */
export function allocatorMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: "sharedlb_allocator_events_total",
      help: "Resource events handled, by outcome (applied, unchanged, stale, staleIncarnation, deadletter, error)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    allocations: new Counter({
      name: "sharedlb_allocator_allocations_total",
      help: "Allocation changes published, by resulting state and reason",
      labelNames: ["state", "reason"],
      registers: [registry],
    }),
    applySeconds: new Histogram({
      name: "sharedlb_allocator_apply_seconds",
      help: "Time to apply one resource event: decode, plan, claim in Redis, publish",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventLagSeconds: new Histogram({
      name: "sharedlb_allocator_event_lag_seconds",
      help: "Time from a resource event's publication to its allocation being published",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    waiting: new Gauge({
      name: "sharedlb_allocator_waiting_services",
      help: "Services Pending for capacity or quota, retried when it frees",
      registers: [registry],
    }),
    staleIncarnation: new Counter({
      name: "sharedlb_allocator_stale_incarnation_total",
      help: "Deletions ignored because they name another object (uid) than the Service held under that name",
      registers: [registry],
    }),
    quarantineFreed: new Counter({
      name: "sharedlb_allocator_quarantine_freed_total",
      help: "Slots freed after their release delay",
      registers: [registry],
    }),
  };
}
export type AllocatorMetrics = ReturnType<typeof allocatorMetrics>;
