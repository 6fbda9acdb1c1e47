import { collectDefaultMetrics, Registry } from "prom-client";
import { consumerMetrics } from "./consumer-metrics.js";

/**
 * One registry per process, with Node's default metrics prefixed `sharedlb_` (e.g.
 * `sharedlb_process_cpu_seconds_total`) and the contract consumers' outcome counter.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "sharedlb_" });
  consumerMetrics(registry);
  return registry;
}
