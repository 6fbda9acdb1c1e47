import { collectDefaultMetrics, Registry } from "prom-client";

/** One registry per process, with Node's default metrics under `sharedlb_<service>_`. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "sharedlb_process_" });
  return registry;
}
