import { decodeResourceMessage, type ResourceMessage, STREAM_NAMES } from "@sharedlb/contracts";
import {
  COMMON_FLAGS,
  ConfigError,
  ContractPipeline,
  connectRedis,
  connectRedisCluster,
  consumerMetrics,
  DeadLetterPublisher,
  DurableConsumer,
  isNatsUnavailable,
  loadYamlConfig,
  parseCommandLine,
  positiveInt,
  runMain,
  RUNTIME_FLAGS,
  startServiceRuntime,
} from "@sharedlb/runtime";
import { L7SlotStore } from "./adapters/l7-slot-store.js";
import { JetStreamAllocationPublisher, JetStreamL7AllocationPublisher } from "./adapters/publisher.js";
import { JetStreamPublishedState } from "./adapters/published-state.js";
import { CONSUMER_NAME, ensureL7Consumer, ensureResourceConsumer, L7_CONSUMER_NAME } from "./adapters/resource-consumer.js";
import { DEFAULT_PREFIX, SlotStore, SlotTableNotReady } from "./adapters/slot-store.js";
import { JetStreamPurger } from "./adapters/stream-purger.js";
import { Allocator } from "./app/allocator.js";
import { SlotTableImporter } from "./app/importer.js";
import { Janitor } from "./app/janitor.js";
import { L7Allocator } from "./app/l7-allocator.js";
import { PoolConfigError, PoolFileSchema, poolOfIp, resolvePolicy } from "./domain/pools.js";
import { allocatorMetrics } from "./metrics.js";

const FLAGS = {
  ...RUNTIME_FLAGS,
  config: { ...COMMON_FLAGS.config, description: "pool file (YAML): pools, defaultPool, releaseDelaySeconds, quotas" },
  redisUrl: COMMON_FLAGS.redisUrl,
  redisCluster: COMMON_FLAGS.redisCluster,
  redisPassword: COMMON_FLAGS.redisPassword,
  redisCa: COMMON_FLAGS.redisCa,
  redisCert: COMMON_FLAGS.redisCert,
  redisKey: COMMON_FLAGS.redisKey,
  concurrency: {
    flag: "concurrency",
    env: "SHAREDLB_CONCURRENCY",
    formerly: { env: "ALLOCATOR_CONCURRENCY" },
    default: "256",
    description: "resource events handled at once (ordered per Service)",
  },
  redisPrefix: { flag: "redis-prefix", env: "SHAREDLB_REDIS_PREFIX", default: DEFAULT_PREFIX, description: "Redis key prefix, without braces: each pool's keys get their own {hash tag} after it" },
  janitorInterval: {
    flag: "janitor-interval",
    env: "SHAREDLB_JANITOR_INTERVAL",
    kind: "duration",
    formerly: { flag: "janitor-interval-ms", env: "SHAREDLB_JANITOR_INTERVAL_MS" },
    legacyBareUnit: "ms",
    default: "500ms",
    description: "how often quarantine, retries and purging run",
  },
  maxDeliveries: COMMON_FLAGS.maxDeliveries,
  ackWait: {
    flag: "ack-wait",
    env: "SHAREDLB_ACK_WAIT",
    kind: "duration",
    min: "1s",
    default: "5s",
    description: "redelivery delay of a resource event a replica took and never settled (it died); messages in hand get progress acks meanwhile",
  },
} as const;

async function main(): Promise<void> {
  const cli = parseCommandLine("sharedlb-allocator", "Claims shared IP/port slots for tenant Services (consumes lb.resource.>, publishes lb.allocation.>).", FLAGS);
  if (cli.wantsHelp) {
    process.stdout.write(cli.help);
    return;
  }
  const flags = cli.values;
  if (!flags.config) throw new ConfigError("sharedlb-allocator: --config <pool file> is required (see --help)");
  const concurrency = positiveInt("concurrency", flags.concurrency);
  // A tag in the prefix would put every pool on one Redis Cluster shard again (and name the
  // keys of the layout before per-pool tags, which must be re-imported, not reused).
  if (/[{}]/.test(flags.redisPrefix)) throw new ConfigError(`--redis-prefix ${flags.redisPrefix}: no braces; the allocator adds a {hash tag} per pool`);
  const maxDeliveries = positiveInt("max-deliveries", flags.maxDeliveries);
  let policy: ReturnType<typeof resolvePolicy>;
  try {
    policy = resolvePolicy(loadYamlConfig(flags.config, PoolFileSchema));
  } catch (err) {
    if (err instanceof PoolConfigError) throw new ConfigError(`${flags.config}: ${err.message}`);
    throw err;
  }

  let consumer: DurableConsumer | undefined;
  let l7Consumer: DurableConsumer | undefined;
  const { log, lifecycle, registry, nats } = await startServiceRuntime({
    service: "allocator",
    connectionName: `sharedlb-allocator-${flags.replica}`,
    flags,
    warnings: cli.warnings,
    readiness: [
      { name: "consumer", ready: () => consumer?.ready === true },
      { name: "l7-consumer", ready: () => l7Consumer?.ready === true },
    ],
  });
  const metrics = allocatorMetrics(registry);
  log.info({ pools: [...policy.pools.values()].map((p) => ({ name: p.name, ips: p.ips.length, ports: `${p.ports.lo}-${p.ports.hi}` })) }, "pool configuration loaded");

  const security = { password: flags.redisPassword, caFile: flags.redisCa, certFile: flags.redisCert, keyFile: flags.redisKey };
  const redisLog = log.child({ component: "redis" });
  const redis = flags.redisCluster ? connectRedisCluster(flags.redisUrl, redisLog, {}, security) : connectRedis(flags.redisUrl, redisLog, {}, security);
  lifecycle.onClose("redis", async () => {
    await redis.quit();
  });

  const store = new SlotStore(redis, flags.redisPrefix, [...policy.pools.values()].map((p) => p.name));
  const source = `sharedlb/allocator/${flags.replica}`;
  const publisher = new JetStreamAllocationPublisher(nats.js, store, source);
  const allocator = new Allocator({ policy, slots: store, publisher, metrics, log: log.child({ component: "allocator" }) });
  const l7Store = new L7SlotStore(redis, flags.redisPrefix);
  const l7Publisher = new JetStreamL7AllocationPublisher(nats.js, l7Store, store, source);
  const l7Allocator = new L7Allocator({ policy, slots: l7Store, publisher: l7Publisher, metrics, log: log.child({ component: "l7-allocator" }) });
  const published = new JetStreamPublishedState(nats.js, nats.jsm);
  const importer = new SlotTableImporter({
    slots: store,
    published,
    log: log.child({ component: "import" }),
    replica: flags.replica,
    poolOfIp: (ip) => poolOfIp(policy, ip)?.name,
  });

  // One pipeline per durable consumer (Services; Gateways and Ingresses), the same rules.
  const pipelineFor = (name: string, apply: (decoded: ResourceMessage, seq: number) => Promise<Awaited<ReturnType<Allocator["handle"]>>>) =>
    new ContractPipeline({
      consumer: name,
      decode: decodeResourceMessage,
      handle: async (decoded, m) => {
        const started = performance.now();
        let outcome: Awaited<ReturnType<Allocator["handle"]>>;
        try {
          outcome = await apply(decoded, m.seq);
        } catch (err) {
          if (!(err instanceof SlotTableNotReady)) throw err;
          // Redis came back empty: re-import before claiming anything, then take this again.
          void importer.ensure();
          return { retryLater: "SlotTableNotReady", delayMs: 500 };
        }
        metrics.events.inc({ outcome });
        metrics.applySeconds.observe((performance.now() - started) / 1000);
        metrics.eventLagSeconds.observe(Math.max(0, Date.now() - m.info.timestampNanos / 1e6) / 1000);
        return undefined;
      },
      deadLetters: new DeadLetterPublisher(nats.nc, nats.js, "allocator", flags.replica),
      metrics: consumerMetrics(registry),
      log: log.child({ component: "consumer", consumer: name }),
      maxDeliveries,
      // Redis or NATS trouble: retried for as long as it lasts; the claim script makes the retry idempotent.
      isUnavailable: (err) => isNatsUnavailable(err) || redis.status !== "ready",
      onOutcome: (o) => {
        if (o === "deadlettered" || o === "exhausted") metrics.events.inc({ outcome: "deadletter" });
        else if (o === "failed" || o === "unavailable") metrics.events.inc({ outcome: "error" });
      },
    });
  const pipeline = pipelineFor(CONSUMER_NAME, (d, seq) => allocator.handle(d, seq));
  const l7Pipeline = pipelineFor(L7_CONSUMER_NAME, (d, seq) => l7Allocator.handle(d, seq));

  await ensureResourceConsumer(nats.jsm, flags.ackWait);
  await ensureL7Consumer(nats.jsm, flags.ackWait);
  await importer.ensure();
  // Written once per pool (a /16 in about a second), so no claim waits for it later.
  for (const pool of policy.pools.values()) await store.ensurePoolIndex(pool.name, pool.ips);
  const janitor = new Janitor({
    slots: store,
    allocator,
    publisher,
    l7: { slots: l7Store, allocator: l7Allocator, publisher: l7Publisher },
    importer,
    purger: new JetStreamPurger(nats.jsm),
    metrics,
    log: log.child({ component: "janitor" }),
    intervalMs: flags.janitorInterval,
    purgeAfterMs: policy.purgeAfterMs,
    replica: flags.replica,
  });
  janitor.start();
  lifecycle.onDrain("janitor", () => janitor.stop());
  consumer = new DurableConsumer(nats.js, STREAM_NAMES.resources, CONSUMER_NAME, pipeline.process, log.child({ component: "consumer" }), concurrency, Math.max(250, Math.floor(flags.ackWait / 3)));
  consumer.start();
  lifecycle.onDrain("consumer", () => consumer?.drain());
  l7Consumer = new DurableConsumer(nats.js, STREAM_NAMES.resources, L7_CONSUMER_NAME, l7Pipeline.process, log.child({ component: "l7-consumer" }), concurrency, Math.max(250, Math.floor(flags.ackWait / 3)));
  l7Consumer.start();
  lifecycle.onDrain("l7-consumer", () => l7Consumer?.drain());
  log.info({ replica: flags.replica, concurrency }, "allocator started");
}

runMain("sharedlb-allocator", main);
