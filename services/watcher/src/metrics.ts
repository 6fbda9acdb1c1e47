import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Watcher metrics; labels are bounded (kind, op, informer name). */
export function watcherMetrics(registry: Registry, queueDepth: () => number) {
  return {
    published: new Counter({
      name: "sharedlb_watcher_published_total",
      help: "Resource events published, by kind and op (upsert, tombstone, duplicate = dropped by the stream's dedupe window)",
      labelNames: ["kind", "op"],
      registers: [registry],
    }),
    publishErrors: new Counter({
      name: "sharedlb_watcher_publish_errors_total",
      help: "Publishes that failed and will be retried, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    invalid: new Counter({
      name: "sharedlb_watcher_invalid_objects_total",
      help: "Objects whose normalized form violates the contract and was not published, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    informerRestarts: new Counter({
      name: "sharedlb_watcher_informer_restarts_total",
      help: "Informer restarts after an error, by informer",
      labelNames: ["informer"],
      registers: [registry],
    }),
    companionWrites: new Counter({
      name: "sharedlb_watcher_companion_writes_total",
      help: "NodePort companion Services written for ClusterIP route backends, by op (created, updated, deleted, error)",
      labelNames: ["op"],
      registers: [registry],
    }),
    leader: new Gauge({ name: "sharedlb_watcher_leader", help: "1 while this replica holds the lease", registers: [registry] }),
    queueDepth: new Gauge({
      name: "sharedlb_watcher_queue_depth",
      help: "Keys waiting or being reconciled",
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    }),
    resyncSeconds: new Histogram({
      name: "sharedlb_watcher_resync_seconds",
      help: "Time to replay the cluster's published state and reconcile every key",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    resyncActions: new Counter({
      name: "sharedlb_watcher_resync_actions_total",
      help: "Differences a resync found between the cluster and the stream, by op",
      labelNames: ["op"],
      registers: [registry],
    }),
  };
}
export type WatcherMetrics = ReturnType<typeof watcherMetrics>;
