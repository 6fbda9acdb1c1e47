import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Status-reporter metrics; labels are bounded (outcome, status class, event reason). */
export function reporterMetrics(registry: Registry, queueDepth: () => number, l7QueueDepth: () => number = () => 0) {
  return {
    passes: new Counter({
      name: "sharedlb_status_reporter_passes_total",
      help: "Reconcile passes of a Service, by outcome (Written, Unchanged, Failed)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    l7Passes: new Counter({
      name: "sharedlb_status_reporter_l7_passes_total",
      help: "Reconcile passes of an L7 object, by kind (gatewayclass, gateway, httproute, grpcroute, tlsroute, ingress) and outcome (Written, Unchanged, Failed)",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    apiErrors: new Counter({
      name: "sharedlb_status_reporter_api_errors_total",
      help: "Failed Kubernetes writes, by status class (network, 403, 404, 409, 422, 429, 5xx)",
      labelNames: ["class"],
      registers: [registry],
    }),
    writeSeconds: new Histogram({
      name: "sharedlb_status_reporter_write_seconds",
      help: "Duration of one status write (including conflict retries)",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    allocationLagSeconds: new Histogram({
      name: "sharedlb_status_reporter_allocation_lag_seconds",
      help: "Time from an allocation's publication to the end of its pass (written or not)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    events: new Counter({
      name: "sharedlb_status_reporter_events_total",
      help: "Kubernetes Events, by reason and result (recorded, exists, failed)",
      labelNames: ["reason", "result"],
      registers: [registry],
    }),
    deadletters: new Counter({
      name: "sharedlb_status_reporter_deadletters_total",
      help: "Allocation messages that violated the contract and were dead-lettered",
      registers: [registry],
    }),
    informerRestarts: new Counter({
      name: "sharedlb_status_reporter_informer_restarts_total",
      help: "Service informer restarts after an error",
      registers: [registry],
    }),
    leader: new Gauge({ name: "sharedlb_status_reporter_leader", help: "1 while this replica holds the lease", registers: [registry] }),
    queueDepth: new Gauge({
      name: "sharedlb_status_reporter_queue_depth",
      help: "Services waiting or being reconciled",
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    }),
    l7QueueDepth: new Gauge({
      name: "sharedlb_status_reporter_l7_queue_depth",
      help: "L7 objects (Gateways, routes, Ingresses, GatewayClasses) waiting or being reconciled",
      registers: [registry],
      collect() {
        this.set(l7QueueDepth());
      },
    }),
  };
}
export type ReporterMetrics = ReturnType<typeof reporterMetrics>;
