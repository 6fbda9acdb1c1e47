import { collectDefaultMetrics, Registry } from "prom-client";

/** One registry per process, with Node's default metrics prefixed `sharedlb_` (e.g. `sharedlb_process_cpu_seconds_total`). */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "sharedlb_" });
  return registry;
}
