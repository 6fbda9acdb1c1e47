import { CoreV1Api, type V1Service } from "@kubernetes/client-node";
import {
  type LeaderElector,
  leaseMetrics,
  leaseReadiness,
  leaseTimings,
  loadKubeConfig,
  requireCluster,
  runWithLeadership,
  SupervisedInformer,
  TENANT_FLAGS,
} from "@sharedlb/kube";
import {
  COMMON_FLAGS,
  ConfigError,
  consumerMetrics,
  DeadLetterPublisher,
  parseCommandLine,
  positiveInt,
  runMain,
  startServiceRuntime,
} from "@sharedlb/runtime";
import { StreamAllocationFeed } from "./adapters/allocation-feed.js";
import { EventRecorder } from "./adapters/event-recorder.js";
import { StreamL7Feed } from "./adapters/l7-feed.js";
import { KubeL7ObjectStore } from "./adapters/l7-object-store.js";
import { ServiceWriter } from "./adapters/service-writer.js";
import { StatusPublisher } from "./adapters/status-publisher.js";
import { L7Reporter } from "./app/l7-reporter.js";
import { Reporter } from "./app/reporter.js";
import { reporterMetrics } from "./metrics.js";

const FLAGS = {
  ...TENANT_FLAGS,
  maxDeliveries: COMMON_FLAGS.maxDeliveries,
  concurrency: {
    flag: "concurrency",
    env: "SHAREDLB_CONCURRENCY",
    formerly: { env: "STATUS_REPORTER_CONCURRENCY" },
    default: "64",
    description: "Services written at once",
  },
  ackWait: {
    flag: "ack-wait",
    env: "SHAREDLB_ACK_WAIT",
    kind: "duration",
    formerly: { env: "STATUS_REPORTER_ACK_WAIT" },
    legacyBareUnit: "s",
    min: "1s",
    default: "30s",
    description: "redelivery delay of an unacknowledged allocation message",
  },
} as const;

const PROGRAM = "sharedlb-status-reporter";

async function main(): Promise<void> {
  const cli = parseCommandLine(
    PROGRAM,
    "Writes allocations (lb.allocation.<cluster>.>) back to the cluster's Services: status.loadBalancer, sharedlb.io/allocated-ports, the sharedlb.io/Allocated condition and Events.",
    FLAGS,
  );
  if (cli.wantsHelp) {
    process.stdout.write(cli.help);
    return;
  }
  const flags = cli.values;
  const cluster = requireCluster(PROGRAM, flags.cluster);
  const timings = leaseTimings(flags);
  const concurrency = positiveInt("concurrency", flags.concurrency);
  const maxDeliveries = positiveInt("max-deliveries", flags.maxDeliveries);
  const ackWaitMs = flags.ackWait;
  const scope = { loadBalancerClass: flags.loadBalancerClass, defaultClass: flags.defaultClass };
  if (scope.loadBalancerClass === "") throw new ConfigError("--class must not be empty");
  const kubeConfig = loadKubeConfig(flags.kubeconfig);

  let reporter: Reporter | undefined;
  let l7: L7Reporter | undefined;
  let l7Feed: StreamL7Feed | undefined;
  let leading = false;
  let elector: LeaderElector | undefined;
  const { log, lifecycle, registry, nats } = await startServiceRuntime({
    service: "status-reporter",
    connectionName: `${PROGRAM}-${cluster}-${flags.replica}`,
    flags,
    warnings: cli.warnings,
    // A standby is healthy and ready; a leader is ready once its first sync is done.
    readiness: [
      { name: "synced", ready: () => !leading || (reporter?.isReady === true && l7?.isReady === true) },
      // A lease that cannot be taken (namespace missing, RBAC, API server away) is shown, not retried silently.
      leaseReadiness(() => elector),
      // An L7 message this leader could not apply means the statuses it writes may be wrong: say so, naming it.
      { name: "l7-applied", ready: () => l7Feed?.applyDetail() === undefined, detail: () => l7Feed?.applyDetail() },
    ],
  });
  const metrics = reporterMetrics(
    registry,
    () => reporter?.queueDepth ?? 0,
    () => l7?.queueDepth ?? 0,
  );

  const core = kubeConfig.makeApiClient(CoreV1Api);
  const services = new SupervisedInformer<V1Service>({
    name: "services",
    kubeConfig,
    path: "/api/v1/services",
    list: () => core.listServiceForAllNamespaces(),
    onChange: (svc, verb) => reporter?.onServiceChange(svc, verb),
    log: log.child({ component: "informers" }),
    onRestart: () => metrics.informerRestarts.inc(),
  });
  const reporterLog = log.child({ component: "reporter" });
  const deadLetters = new DeadLetterPublisher(nats.nc, nats.js, "status-reporter", flags.replica);
  const r = new Reporter({
    scope,
    concurrency,
    services,
    allocations: new StreamAllocationFeed({
      js: nats.js,
      jsm: nats.jsm,
      cluster,
      replica: flags.replica,
      concurrency,
      ackWaitMs,
      metrics,
      log: reporterLog,
      deadLetters,
      consumerMetrics: consumerMetrics(registry),
      maxDeliveries,
    }),
    writer: new ServiceWriter(kubeConfig),
    recorder: new EventRecorder(kubeConfig, flags.replica),
    reports: new StatusPublisher(nats.js, cluster),
    metrics,
    log: reporterLog,
  });
  reporter = r;
  l7Feed = new StreamL7Feed({
    js: nats.js,
    cluster,
    log: reporterLog,
    deadLetters,
    metrics,
    consumerMetrics: consumerMetrics(registry),
    onServiceProgrammed: (p, source, seq) => r.programmed(p, source, seq),
  });
  const l7r = new L7Reporter({
    concurrency,
    feed: l7Feed,
    objects: new KubeL7ObjectStore(kubeConfig),
    recorder: new EventRecorder(kubeConfig, flags.replica),
    metrics,
    log: log.child({ component: "l7-reporter" }),
  });
  l7 = l7r;

  elector = runWithLeadership({
    kubeConfig,
    metrics: leaseMetrics(registry),
    lease: { namespace: flags.leaseNamespace, name: `sharedlb-status-reporter-${cluster}`, identity: flags.replica, ...timings },
    lifecycle,
    log,
    onLeaderChange: (v) => {
      leading = v;
      metrics.leader.set(v ? 1 : 0);
    },
    start: async () => {
      await Promise.all([r.start(), l7r.start()]);
      log.info("status-reporter writing");
    },
  });
  lifecycle.onDrain("reporter", () => Promise.all([r.stop(), l7r.stop()]).then(() => undefined));
  log.info(
    { cluster, class: scope.loadBalancerClass, defaultClass: scope.defaultClass, replica: flags.replica },
    "status-reporter started",
  );
}

runMain(PROGRAM, main);
