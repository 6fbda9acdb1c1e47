import type { JsMsg } from "@nats-io/jetstream";
import { STREAM_NAMES } from "@sharedlb/contracts";
import {
  COMMON_FLAGS,
  ConfigError,
  consumerMetrics,
  DeadLetterPublisher,
  describeError,
  loadYamlConfig,
  parseCommandLine,
  positiveInt,
  RUNTIME_FLAGS,
  runMain,
  startServiceRuntime,
} from "@sharedlb/runtime";
import {
  FleetConfigError,
  FleetFileSchema,
  type NodeAddressPolicy,
  type PoolHealthChecks,
  resolveFleets,
  resolveHealthChecks,
  resolveNodeAddressPolicy,
} from "@sharedlb/serving";
import { AdsServer } from "./adapters/ads-server.js";
import { ADS_TLS_FLAGS, adsTransport, resolveAdsTls } from "./adapters/ads-transport-config.js";
import { NodeProber } from "./adapters/node-probe.js";
import { NatsProgrammedPublisher } from "./adapters/programmed-publisher.js";
import { describePublicKeys, readSealingKeyFiles } from "./adapters/sealing-key-files.js";
import { StreamFollower } from "./adapters/stream-follower.js";
import { reportingTenantView } from "./adapters/tenant-view-reporting.js";
import { SERVICE_NAME, ViewFeed } from "./adapters/view-feed.js";
import { WriteBudget } from "./adapters/write-budget.js";
import { NatsXdsEvents } from "./adapters/xds-events.js";
import { Gateway } from "./app/gateway.js";
import { ProgrammedReporter } from "./app/programmed-reporter.js";
import { SealingKeyring } from "./domain/sealing-keyring.js";
import { gatewayMetrics } from "./metrics.js";

const FLAGS = {
  ...RUNTIME_FLAGS,
  config: { ...COMMON_FLAGS.config, description: "fleet file (YAML): fleets: [{ name, pools: [...] }]" },
  grpcAddr: COMMON_FLAGS.grpcAddr,
  ...ADS_TLS_FLAGS,
  keepaliveTime: {
    flag: "keepalive-time",
    env: "SHAREDLB_KEEPALIVE_TIME",
    kind: "duration",
    formerly: { flag: "keepalive-time-ms", env: "XDS_KEEPALIVE_TIME_MS" },
    legacyBareUnit: "ms",
    default: "30s",
    description: "gRPC server keepalive ping interval (grpc.keepalive_time_ms)",
  },
  keepaliveTimeout: {
    flag: "keepalive-timeout",
    env: "SHAREDLB_KEEPALIVE_TIMEOUT",
    kind: "duration",
    formerly: { flag: "keepalive-timeout-ms", env: "XDS_KEEPALIVE_TIMEOUT_MS" },
    legacyBareUnit: "ms",
    default: "10s",
    description: "how long a keepalive ping may go unanswered",
  },
  maxConnectionAge: {
    flag: "max-connection-age",
    env: "SHAREDLB_MAX_CONNECTION_AGE",
    kind: "duration",
    formerly: { flag: "max-connection-age-ms", env: "XDS_MAX_CONNECTION_AGE_MS" },
    legacyBareUnit: "ms",
    default: "30m",
    description: "close connections after this age (±10%) so Envoys rebalance across replicas",
  },
  maxConnectionAgeGrace: {
    flag: "max-connection-age-grace",
    env: "SHAREDLB_MAX_CONNECTION_AGE_GRACE",
    kind: "duration",
    formerly: { flag: "max-connection-age-grace-ms", env: "XDS_MAX_CONNECTION_AGE_GRACE_MS" },
    legacyBareUnit: "ms",
    default: "60s",
    description: "time streams get after a connection reached its age",
  },
  drainGrace: {
    flag: "drain-grace",
    env: "SHAREDLB_DRAIN_GRACE",
    kind: "duration",
    formerly: { flag: "drain-grace-ms", env: "XDS_DRAIN_GRACE_MS" },
    legacyBareUnit: "ms",
    default: "5s",
    description: "on shutdown, time clients get to move before streams are cut",
  },
  writeBudgetBytes: {
    flag: "write-budget-bytes",
    env: "SHAREDLB_WRITE_BUDGET_BYTES",
    formerly: { env: "XDS_WRITE_BUDGET_BYTES" },
    default: String(64 * 1024 * 1024),
    description: "bytes of responses buffered for all streams at once",
  },
  streamUnackedBytes: {
    flag: "stream-unacked-bytes",
    env: "SHAREDLB_STREAM_UNACKED_BYTES",
    default: String(16 * 1024 * 1024),
    description: "bytes of responses one stream may have unanswered (ACK/NACK) before it is sent more",
  },
  streamEvictAfter: {
    flag: "stream-evict-after",
    env: "SHAREDLB_STREAM_EVICT_AFTER",
    kind: "duration",
    default: "30s",
    description: "end a stream whose client has not read a response for this long (an lb.xds evicted event)",
  },
  writeStallAfter: {
    flag: "write-stall-after",
    env: "SHAREDLB_WRITE_STALL_AFTER",
    kind: "duration",
    default: "2s",
    description: "a response unwritten this long stops counting against --write-budget-bytes (its client is not reading)",
  },
  sealingKeys: {
    flag: "sealing-keys",
    env: "SHAREDLB_SEALING_KEYS",
    description:
      "X25519 private key PEM file(s) (openssl genpkey -algorithm X25519), comma-separated, current first: TLS keys sealed to them are opened in memory",
  },
  programmedInterval: {
    flag: "programmed-interval",
    env: "SHAREDLB_PROGRAMMED_INTERVAL",
    kind: "duration",
    default: "250ms",
    description:
      "how often changed ACK/NACK counts are published on lb.programmed (at most one report per object and fleet per interval; longer after a long flush)",
  },
  rebuildQuiet: {
    flag: "rebuild-quiet",
    env: "SHAREDLB_REBUILD_QUIET",
    kind: "duration",
    min: "0ms",
    default: "10ms",
    description:
      "a burst of changes is built once no message came for this long and no stream holds more (one response per stream for the burst)",
  },
  rebuildMaxDelay: {
    flag: "rebuild-max-delay",
    env: "SHAREDLB_REBUILD_MAX_DELAY",
    kind: "duration",
    default: "100ms",
    description: "the longest a change waits for the rest of its burst before it is built (bounds its latency while changes keep coming)",
  },
  nodeProbeInterval: {
    flag: "node-probe-interval",
    env: "SHAREDLB_NODE_PROBE_INTERVAL",
    kind: "duration",
    default: "2s",
    description: "how often the tenant nodes' kube-proxy health signals are probed for pools with healthChecks: kubeProxy",
  },
  nodeProbeTimeout: {
    flag: "node-probe-timeout",
    env: "SHAREDLB_NODE_PROBE_TIMEOUT",
    kind: "duration",
    default: "1s",
    description: "how long one node probe (connect and answer) may take before it counts as failed",
  },
  nodeProbeUnhealthyThreshold: {
    flag: "node-probe-unhealthy-threshold",
    env: "SHAREDLB_NODE_PROBE_UNHEALTHY_THRESHOLD",
    default: "2",
    description: "consecutive failed probes before a node's endpoints are served UNHEALTHY",
  },
  nodeProbeHealthyThreshold: {
    flag: "node-probe-healthy-threshold",
    env: "SHAREDLB_NODE_PROBE_HEALTHY_THRESHOLD",
    default: "2",
    description: "consecutive passed probes before an UNHEALTHY node's endpoints are served healthy again",
  },
  nodeProbeConcurrency: {
    flag: "node-probe-concurrency",
    env: "SHAREDLB_NODE_PROBE_CONCURRENCY",
    default: "32",
    description: "node probes in flight at once, over all tenants and nodes",
  },
  printPublicKey: {
    flag: "print-public-key",
    env: "SHAREDLB_PRINT_PUBLIC_KEY",
    kind: "boolean",
    description: "print the id and public key (PEM) of each --sealing-keys key, for the watchers, and exit",
  },
} as const;

async function main(): Promise<void> {
  const cli = parseCommandLine(
    "sharedlb-xds-gateway",
    "Serves Envoy fleets (and proxyless gRPC clients) over ADS from lb.resource.> and lb.allocation.>.",
    FLAGS,
  );
  if (cli.wantsHelp) {
    process.stdout.write(cli.help);
    return;
  }
  const flags = cli.values;
  const sealingKeys = new SealingKeyring(readSealingKeyFiles(flags.sealingKeys));
  if (flags.printPublicKey) {
    if (sealingKeys.keys.length === 0) throw new ConfigError("sharedlb-xds-gateway: --print-public-key needs --sealing-keys");
    process.stdout.write(describePublicKeys(sealingKeys.keys));
    return;
  }
  if (!flags.config) throw new ConfigError("sharedlb-xds-gateway: --config <fleet file> is required (see --help)");
  const adsOptions = {
    keepaliveTimeMs: flags.keepaliveTime,
    keepaliveTimeoutMs: flags.keepaliveTimeout,
    maxConnectionAgeMs: flags.maxConnectionAge,
    maxConnectionAgeGraceMs: flags.maxConnectionAgeGrace,
    maxReceiveMessageBytes: 64 * 1024 * 1024,
  };
  const drainGraceMs = flags.drainGrace;
  const writeBudget = positiveInt("write-budget-bytes", flags.writeBudgetBytes);
  const limits = {
    unackedBytes: positiveInt("stream-unacked-bytes", flags.streamUnackedBytes),
    evictAfterMs: flags.streamEvictAfter,
  };
  let fleets: ReturnType<typeof resolveFleets>;
  let addressPolicy: NodeAddressPolicy;
  let healthChecks: PoolHealthChecks;
  try {
    const fleetFile = loadYamlConfig(flags.config, FleetFileSchema);
    fleets = resolveFleets(fleetFile);
    addressPolicy = resolveNodeAddressPolicy(fleetFile);
    healthChecks = resolveHealthChecks(fleetFile);
  } catch (err) {
    if (err instanceof FleetConfigError) throw new ConfigError(`${flags.config}: ${err.message}`);
    throw err;
  }
  if (flags.rebuildMaxDelay < flags.rebuildQuiet) {
    throw new ConfigError(
      `sharedlb-xds-gateway: --rebuild-max-delay (${flags.rebuildMaxDelay}ms) must be at least --rebuild-quiet (${flags.rebuildQuiet}ms)`,
    );
  }
  const rebuildWindow = Object.freeze({ quietMs: flags.rebuildQuiet, maxDelayMs: flags.rebuildMaxDelay });
  const adsTls = resolveAdsTls(flags);
  const probeOptions = {
    intervalMs: flags.nodeProbeInterval,
    timeoutMs: flags.nodeProbeTimeout,
    concurrency: positiveInt("node-probe-concurrency", flags.nodeProbeConcurrency),
    thresholds: {
      unhealthy: positiveInt("node-probe-unhealthy-threshold", flags.nodeProbeUnhealthyThreshold),
      healthy: positiveInt("node-probe-healthy-threshold", flags.nodeProbeHealthyThreshold),
    },
  };

  const followers: StreamFollower[] = [];
  let ads: AdsServer | undefined;
  const { log, lifecycle, registry, nats } = await startServiceRuntime({
    service: "xds-gateway",
    connectionName: `sharedlb-xds-gateway-${flags.replica}`,
    flags,
    warnings: cli.warnings,
    readiness: [
      // Caught up with both streams since the last (re)connect: never ready while serving a stale view.
      {
        name: "replayed",
        ready: () => followers.length === 2 && followers.every((f) => f.caughtUp),
        detail: () => joinDetails(followers.map((f) => f.lagDetail())),
      },
      // A message the view could not apply makes this replica diverge: not ready until superseded.
      { name: "applied", ready: () => followers.every((f) => f.applied), detail: () => joinDetails(followers.map((f) => f.applyDetail())) },
      { name: "ads", ready: () => ads !== undefined },
    ],
  });
  const metrics = gatewayMetrics(registry);
  const transport = adsTransport(adsTls, flags.adsTlsRefresh, metrics, log.child({ component: "ads-tls" }));
  log.info({ fleets: fleets.map((f) => ({ name: f.name, pools: [...f.pools] })) }, "fleet configuration loaded");
  if (sealingKeys.keys.length > 0) log.info({ keyIds: sealingKeys.keyIds }, "sealing keys loaded (TLS private keys open in memory only)");
  else log.warn("no --sealing-keys: TLS Secrets cannot be opened, HTTPS listeners get no certificates");

  const gatewayLog = log.child({ component: "gateway" });
  const view = reportingTenantView({ addressPolicy, healthChecks }, metrics, log.child({ component: "view" }));
  const gateway = new Gateway(
    fleets,
    {
      onWarning: (service, warnings) => gatewayLog.warn({ service, warnings }, "parts of a Service or an L7 slot are not served"),
      onBuildError: (service, err) => {
        metrics.buildErrors.inc();
        gatewayLog.error({ service, err: describeError(err) }, "building a Service's resources failed; it keeps its previous ones");
      },
      onConflict: (c) => {
        metrics.conflicts.inc();
        gatewayLog.warn({ type: c.typeUrl, name: c.name, owners: c.owners, winner: c.winner }, "two Services built the same resource name");
      },
      onRebuild: (s) => {
        metrics.rebuildSeconds.observe(s.ms / 1000);
        metrics.rebuilds.inc({ trigger: s.trigger });
        if (s.trigger === "quiet" || s.trigger === "max_delay") metrics.rebuildWait.observe(s.waitedMs / 1000);
        metrics.resources.set(gateway.resourceCount);
        if (s.changes > 0) gatewayLog.debug(s, "resources rebuilt");
      },
    },
    view,
    sealingKeys.opener((secret, err) => {
      metrics.sealedKeyFailures.inc({ reason: err.reason });
      // The object and the key id, never key material.
      gatewayLog.warn(
        {
          object: `${secret.cluster}/${secret.namespace}/${secret.name}`,
          keyId: secret.privateKey.keyId,
          reason: err.reason,
          err: err.message,
        },
        "TLS private key not opened; its certificate is not served",
      );
    }),
    rebuildWindow,
  );
  const consumers = consumerMetrics(registry);
  const deadLetters = new DeadLetterPublisher(nats.nc, nats.js, SERVICE_NAME, flags.replica);
  const feed = new ViewFeed(gateway, deadLetters, metrics, consumers, log.child({ component: "feed" }));
  const follow = (stream: string, handle: (m: JsMsg) => void) =>
    new StreamFollower({ ...nats, stream, handle, metrics: consumers, log: log.child({ component: "follower" }) });
  followers.push(follow(STREAM_NAMES.resources, feed.onResource), follow(STREAM_NAMES.allocations, feed.onAllocation));
  for (const f of followers) {
    f.start();
    lifecycle.onDrain(`follow ${f.stream}`, () => f.stop());
  }
  await Promise.all(followers.map((f) => f.whenCaughtUp()));
  const built = gateway.goLive();
  log.info(
    {
      services: gateway.view.serviceCount,
      allocations: gateway.view.allocationCount,
      resources: gateway.resourceCount,
      ms: Math.round(built.ms),
    },
    "view replayed and resources built",
  );

  // Only pools following kube-proxy's signals are probed; with none, no probe ever leaves.
  if (healthChecks.anyKubeProxy) {
    const prober = new NodeProber({
      ...probeOptions,
      targets: () => gateway.view.probeTargets(),
      onVerdicts: (failing) => gateway.applyProbeVerdicts(failing),
      metrics,
      log: log.child({ component: "node-probe" }),
    });
    prober.start();
    lifecycle.onDrain("node probes", () => prober.stop());
  }

  const server = new AdsServer(
    {
      fleets: gateway.fleets,
      metrics,
      events: new NatsXdsEvents(nats.nc, flags.replica, log.child({ component: "events" })),
      budget: new WriteBudget(writeBudget, { stallAfterMs: flags.writeStallAfter }),
      limits,
      log: log.child({ component: "ads" }),
    },
    adsOptions,
    transport,
  );
  const programmed = new ProgrammedReporter(
    gateway,
    new NatsProgrammedPublisher(nats.nc, flags.replica, log.child({ component: "programmed" }), () => metrics.programmedReports.inc()),
    (seconds) => metrics.programmedFlush.observe(seconds),
  );
  programmed.start(flags.programmedInterval);
  lifecycle.onDrain("programmed", () => programmed.stop());
  const bound = await server.listen(flags.grpcAddr);
  ads = server;
  lifecycle.onDrain("ads", () => server.shutdown(drainGraceMs));
  log.info({ grpc: `${bound.host}:${bound.port}`, replica: flags.replica, security: transport.security }, "ADS listening");
}

function joinDetails(details: (string | undefined)[]): string | undefined {
  const present = details.filter((d) => d !== undefined);
  return present.length > 0 ? present.join("; ") : undefined;
}

runMain("sharedlb-xds-gateway", main);
