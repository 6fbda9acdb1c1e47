import { filters } from "@sharedlb/contracts";
import {
  type LeaderElector,
  leaseMetrics,
  leaseReadiness,
  leaseTimings,
  loadKubeConfig,
  requireCluster,
  runWithLeadership,
  TENANT_FLAGS,
} from "@sharedlb/kube";
import {
  ConfigError,
  parseCommandLine,
  positiveInt,
  runMain,
  startServiceRuntime,
} from "@sharedlb/runtime";
import { KubeCompanionStore } from "./adapters/companion-store.js";
import { KubeSources } from "./adapters/kube-sources.js";
import { L7Sources } from "./adapters/l7-sources.js";
import { StreamPublishedState } from "./adapters/published-state.js";
import { ResourcePublisher } from "./adapters/resource-publisher.js";
import { loadSealingPublicKey } from "./adapters/sealing-key.js";
import { L7Publisher } from "./app/l7.js";
import { Watcher } from "./app/watcher.js";
import { watcherMetrics } from "./metrics.js";

const FLAGS = {
  ...TENANT_FLAGS,
  resyncInterval: {
    flag: "resync-interval",
    env: "SHAREDLB_RESYNC_INTERVAL",
    kind: "duration",
    legacyBareUnit: "s",
    min: "1s",
    default: "5m",
    description: "how often the stream is compared with the cluster (republish lost state, tombstone vanished objects)",
  },
  sealingPublicKey: {
    flag: "sealing-public-key",
    env: "SHAREDLB_SEALING_PUBLIC_KEY",
    description:
      "the xds-gateways' X25519 public key (PEM, base64url raw, or a file holding either); TLS private keys are sealed to it, and without it no TLS Secret is published",
  },
  gatewayApiPollMax: {
    flag: "gateway-api-poll-max",
    env: "SHAREDLB_GATEWAY_API_POLL_MAX",
    kind: "duration",
    default: "60s",
    min: "100ms",
    description: "longest pause between checks whether the cluster serves the Gateway API (CRDs installed later are picked up)",
  },
  concurrency: {
    flag: "concurrency",
    env: "SHAREDLB_CONCURRENCY",
    formerly: { env: "WATCHER_CONCURRENCY" },
    default: "128",
    description: "objects published at once",
  },
} as const;

const PROGRAM = "sharedlb-watcher";

async function main(): Promise<void> {
  const cli = parseCommandLine(
    PROGRAM,
    "Publishes the cluster's LoadBalancer Services, Nodes and Local endpoints, Ingresses, Gateways, routes and their TLS Secrets, normalized, on lb.resource.<cluster>.>.",
    FLAGS,
  );
  if (cli.wantsHelp) {
    process.stdout.write(cli.help);
    return;
  }
  const flags = cli.values;
  const cluster = requireCluster(PROGRAM, flags.cluster);
  const timings = leaseTimings(flags);
  const resyncIntervalMs = flags.resyncInterval;
  const concurrency = positiveInt("concurrency", flags.concurrency);
  const scope = { loadBalancerClass: flags.loadBalancerClass, defaultClass: flags.defaultClass };
  if (scope.loadBalancerClass === "") throw new ConfigError("--class must not be empty");
  const kubeConfig = loadKubeConfig(flags.kubeconfig);
  const sealingKey = loadSealingPublicKey(flags.sealingPublicKey);

  let watcher: Watcher | undefined;
  let leading = false;
  let elector: LeaderElector | undefined;
  const { log, lifecycle, registry, nats } = await startServiceRuntime({
    service: "watcher",
    connectionName: `${PROGRAM}-${cluster}-${flags.replica}`,
    flags,
    warnings: cli.warnings,
    // A standby is healthy and ready; a leader is ready once its first sync is done.
    readiness: [
      { name: "synced", ready: () => !leading || watcher?.isReady === true },
      // A lease that cannot be taken (namespace missing, RBAC, API server away) is shown, not retried silently.
      leaseReadiness(() => elector),
    ],
  });
  const metrics = watcherMetrics(registry, () => watcher?.queueDepth ?? 0);

  const sources = new KubeSources({
    kubeConfig,
    log: log.child({ component: "informers" }),
    onKey: (key) => watcher?.onKey(key),
    onInformerRestart: (informer) => metrics.informerRestarts.inc({ informer }),
  });
  const l7Objects = new L7Sources({
    kubeConfig,
    log: log.child({ component: "l7-informers" }),
    onKey: (key) => watcher?.onKey(key),
    onContext: () => watcher?.onL7Context(),
    onSecret: (namespace, name) => watcher?.onSecret(namespace, name),
    onInformerRestart: (informer) => metrics.informerRestarts.inc({ informer }),
    discoveryCapMs: flags.gatewayApiPollMax,
  });
  const l7 = new L7Publisher({
    cluster,
    objects: l7Objects,
    services: sources,
    companions: new KubeCompanionStore(kubeConfig),
    sealingKey,
    log: log.child({ component: "l7" }),
  });
  if (!sealingKey) log.warn("no --sealing-public-key: TLS Secrets are not published, so HTTPS listeners cannot be served");
  watcher = new Watcher({
    cluster,
    scope,
    concurrency,
    resyncIntervalMs,
    objects: sources,
    published: new StreamPublishedState(nats.js, nats.jsm, cluster),
    sink: new ResourcePublisher(nats.js, cluster),
    metrics,
    log: log.child({ component: "watcher" }),
    l7: { publisher: l7, objects: l7Objects },
  });

  const w = watcher;
  elector = runWithLeadership({
    kubeConfig,
    metrics: leaseMetrics(registry),
    lease: { namespace: flags.leaseNamespace, name: `sharedlb-watcher-${cluster}`, identity: flags.replica, ...timings },
    lifecycle,
    log,
    onLeaderChange: (v) => {
      leading = v;
      metrics.leader.set(v ? 1 : 0);
    },
    start: async () => {
      await w.start();
      log.info({ subjects: filters.clusterResources(cluster) }, "watcher publishing");
    },
  });
  lifecycle.onDrain("watcher", () => w.stop());
  log.info({ cluster, class: scope.loadBalancerClass, defaultClass: scope.defaultClass, replica: flags.replica }, "watcher started");
}

runMain(PROGRAM, main);
