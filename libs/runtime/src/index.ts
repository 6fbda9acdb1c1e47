// The public surface of @sharedlb/runtime, named one by one: what services, the CLI and the
// test harness use, and the types and error classes of those signatures. Everything else in
// this package (flag parsers, the health server, duration parsing, stream verification,
// dead-letter encoding) is internal and reached only through these.

export { backoffMs, delay } from "./backoff.js";
// Flags, config files, errors
export { type CommandLine, type FlagSpec, type FlagValues, type FormerNames, parseCommandLine } from "./command-line.js";
export { COMMON_FLAGS, ConfigError, loadYamlConfig, parseHostPort, positiveInt, RUNTIME_FLAGS, validateConfig } from "./config.js";
export { type ConsumerMetrics, consumerMetrics, type MessageOutcome } from "./consumer-metrics.js";
export {
  ContractPipeline,
  type ContractPipelineOptions,
  type DeadLetterSink,
  type HandleResult,
  type RetryLater,
} from "./contract-pipeline.js";
export { DeadLetterPublisher, type RejectedMessage } from "./dead-letters.js";
export { ConsumerConfigConflict, DurableConsumer, ensureDurableConsumer } from "./durable-consumer.js";
export { describeError, type ErrorDetails, errorDetails } from "./errors.js";
export type { ReadinessCheck } from "./health.js";
export { KeyedQueue } from "./keyed-queue.js";
export { Lifecycle } from "./lifecycle.js";
export { createRootLogger, type Logger, redactUrl } from "./logging.js";
export { createMetricsRegistry } from "./metrics.js";
// NATS JetStream: connection, streams, the contract consumer pipeline
export {
  connectNats,
  ensureStreams,
  headers,
  isNatsUnavailable,
  NatsAuthRefused,
  type ConsumerStart,
  type NatsHandle,
  openFilteredConsumer,
  publishEvent,
  readLastValues,
  StreamConfigConflict,
  StreamMissing,
  type StreamOptions,
  streamLastSeq,
} from "./nats.js";
export { type NatsConnectSettings, type NatsSecurity, natsConnectSettings, natsSecurityFromEnv } from "./nats-auth.js";
// Redis
export { connectRedis, connectRedisCluster, type RedisSecurity } from "./redis.js";
// Process lifecycle, logging, health, metrics
export { runMain, type ServiceRuntime, type ServiceRuntimeOptions, startServiceRuntime } from "./service.js";
