import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Gateway metrics. Labels are bounded: protocol (sotw|delta), type (lds|cds|eds|rds),
 * fleet (names from the fleet file, or "_unknown"), outcome and stream from fixed sets.
 */
export function gatewayMetrics(registry: Registry) {
  return {
    streams: new Gauge({
      name: "sharedlb_xds_streams",
      help: "Open ADS streams",
      labelNames: ["protocol", "fleet"],
      registers: [registry],
    }),
    requests: new Counter({
      name: "sharedlb_xds_requests_total",
      help: "Discovery requests, by what they meant (initial, ack, nack, stale, update)",
      labelNames: ["protocol", "type", "outcome"],
      registers: [registry],
    }),
    pushes: new Counter({
      name: "sharedlb_xds_pushes_total",
      help: "Discovery responses written",
      labelNames: ["protocol", "type"],
      registers: [registry],
    }),
    pushBytes: new Counter({
      name: "sharedlb_xds_push_bytes_total",
      help: "Bytes of discovery responses written",
      labelNames: ["protocol", "type"],
      registers: [registry],
    }),
    pushResources: new Counter({
      name: "sharedlb_xds_push_resources_total",
      help: "Resources carried by the discovery responses written",
      labelNames: ["protocol", "type"],
      registers: [registry],
    }),
    nacks: new Counter({
      name: "sharedlb_xds_nacks_total",
      help: "Responses rejected by a client",
      labelNames: ["protocol", "type", "fleet"],
      registers: [registry],
    }),
    pushLatency: new Histogram({
      name: "sharedlb_xds_push_latency_seconds",
      help: "From a resource change being built to the response carrying it being handed to the connection",
      labelNames: ["protocol"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    rebuildSeconds: new Histogram({
      name: "sharedlb_xds_rebuild_seconds",
      help: "Time to rebuild the resources of changed Services",
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    rebuilds: new Counter({
      name: "sharedlb_xds_rebuilds_total",
      help: "Rebuilds of changed resources, by trigger (replay, quiet: a burst was over, max_delay: changes kept arriving)",
      labelNames: ["trigger"],
      registers: [registry],
    }),
    rebuildWait: new Histogram({
      name: "sharedlb_xds_rebuild_wait_seconds",
      help: "From the first change a rebuild carries being applied to the rebuild starting (the coalescing window)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    nodeProbes: new Counter({
      name: "sharedlb_xds_node_probes_total",
      help: "HTTP probes of tenant nodes' health signals (kube-proxy's health port, healthCheckNodePort), by outcome (healthy, unhealthy, timeout, error)",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    nodeProbeTargets: new Gauge({
      name: "sharedlb_xds_node_probe_targets",
      help: "Tenant node health signals probed per round",
      labelNames: ["kind"],
      registers: [registry],
    }),
    nodeProbeFailing: new Gauge({
      name: "sharedlb_xds_node_probe_failing_targets",
      help: "Tenant node health signals judged failing (their endpoints are served UNHEALTHY)",
      labelNames: ["kind"],
      registers: [registry],
    }),
    nodeProbeRoundSeconds: new Histogram({
      name: "sharedlb_xds_node_probe_round_seconds",
      help: "Time one round of node probes takes (all targets, bounded concurrency)",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    resources: new Gauge({
      name: "sharedlb_xds_resources",
      help: "Resources built (all fleets)",
      registers: [registry],
    }),
    messages: new Counter({
      name: "sharedlb_xds_view_messages_total",
      help: "Messages read from LB_RESOURCES and LB_ALLOCATIONS, by outcome (applied, deadletter)",
      labelNames: ["stream", "outcome"],
      registers: [registry],
    }),
    conflicts: new Counter({
      name: "sharedlb_xds_name_conflicts_total",
      help: "Resources two Services built under one name (the lower Service key wins)",
      registers: [registry],
    }),
    buildErrors: new Counter({
      name: "sharedlb_xds_build_errors_total",
      help: "Services whose resources could not be built (they keep their previous ones)",
      registers: [registry],
    }),
    evictions: new Counter({
      name: "sharedlb_xds_evictions_total",
      help: "Streams ended because their client did not read a response for --stream-evict-after",
      labelNames: ["protocol", "fleet"],
      registers: [registry],
    }),
    invalidRequests: new Counter({
      name: "sharedlb_xds_invalid_requests_total",
      help: "Streams ended because of a malformed request",
      labelNames: ["protocol", "reason"],
      registers: [registry],
    }),
    refusals: new Counter({
      name: "sharedlb_xds_refused_streams_total",
      help: "ADS streams refused because the client certificate is missing or does not name the fleet asked for",
      labelNames: ["protocol", "reason"],
      registers: [registry],
    }),
    tlsReloads: new Counter({
      name: "sharedlb_xds_tls_reloads_total",
      help: "Changes of the ADS certificate, key or client CA files, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    refusedNodes: new Gauge({
      name: "sharedlb_xds_refused_nodes",
      help: "Tenant nodes whose address the node address policy refuses (never served), by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    programmedReports: new Counter({
      name: "sharedlb_xds_programmed_reports_total",
      help: "lb.programmed reports published (a fleet's ACK/NACK counts for an object changed)",
      registers: [registry],
    }),
    programmedFlush: new Histogram({
      name: "sharedlb_xds_programmed_flush_seconds",
      help: "Time to count a fleet's ACK/NACKs and publish the changed lb.programmed reports, per flush (a long flush delays the next one)",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sealedKeyFailures: new Counter({
      name: "sharedlb_xds_sealed_key_failures_total",
      help: "TLS Secrets whose sealed private key did not open (their certificate chains are left out), by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    staleIncarnations: new Counter({
      name: "sharedlb_xds_stale_incarnation_total",
      help: "Service deletions ignored because they name another object (uid) than the Service held under that name",
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
