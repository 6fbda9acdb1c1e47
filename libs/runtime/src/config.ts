import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import type { FlagSpec } from "./command-line.js";

/** Bad configuration: the process must exit non-zero with this message. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly reason = "InvalidConfig";
}

export const COMMON_FLAGS = {
  natsUrl: { flag: "nats-url", env: "NATS_URL", default: "nats://127.0.0.1:4222", description: "NATS server URL(s), comma-separated" },
  redisUrl: { flag: "redis-url", env: "REDIS_URL", default: "redis://127.0.0.1:6379", description: "Redis URL (redis://[user:pass@]host:port/db; sentinel: redis-sentinel://host:port,host:port/master)" },
  redisCluster: {
    flag: "redis-cluster",
    env: "SHAREDLB_REDIS_CLUSTER",
    kind: "boolean",
    description: "--redis-url names Redis Cluster nodes (redis[s]://host:port,host:port; seeds, the rest is discovered)",
  },
  redisPassword: { flag: "redis-password", env: "SHAREDLB_REDIS_PASSWORD", description: "Redis AUTH password (also for Sentinel); prefer the env variable" },
  redisCa: { flag: "redis-ca", env: "SHAREDLB_REDIS_CA", description: "CA bundle the Redis (and Sentinel) server certificate must chain to; turns TLS on" },
  redisCert: { flag: "redis-cert", env: "SHAREDLB_REDIS_CERT", description: "client certificate for Redis (mutual TLS)" },
  redisKey: { flag: "redis-key", env: "SHAREDLB_REDIS_KEY", description: "client key for Redis (mutual TLS)" },
  httpAddr: { flag: "http-addr", env: "HTTP_ADDR", default: "127.0.0.1:0", description: "address for /healthz, /readyz, /metrics" },
  logLevel: { flag: "log-level", env: "LOG_LEVEL", default: "info", description: "trace|debug|info|warn|error|fatal" },
  config: { flag: "config", env: "SHAREDLB_CONFIG", description: "configuration file (YAML)" },
  cluster: { flag: "cluster", env: "SHAREDLB_CLUSTER", description: "tenant cluster id (DNS label)" },
  kubeconfig: { flag: "kubeconfig", env: "KUBECONFIG", description: "kubeconfig path (default: in-cluster config)" },
  grpcAddr: { flag: "grpc-addr", env: "GRPC_ADDR", default: "0.0.0.0:18000", description: "gRPC (ADS) listen address" },
  replica: { flag: "replica", env: "SHAREDLB_REPLICA", default: `${hostname()}-${process.pid}`, defaultShown: "<hostname>-<pid>", description: "replica name: in events, logs and as lease holder identity" },
  streamReplicas: { flag: "stream-replicas", env: "SHAREDLB_STREAM_REPLICAS", default: "1", description: "JetStream replicas for streams this process creates (3 in production)" },
  natsUser: { flag: "nats-user", env: "NATS_USER", description: "NATS user name (with --nats-password)" },
  natsPassword: { flag: "nats-password", env: "NATS_PASSWORD", description: "NATS password (prefer the env variable: flags show in ps)" },
  natsToken: { flag: "nats-token", env: "NATS_TOKEN", description: "NATS authentication token" },
  natsCreds: { flag: "nats-creds", env: "NATS_CREDS", description: "NATS .creds file (JWT and nkey seed)" },
  natsNkey: { flag: "nats-nkey", env: "NATS_NKEY", description: "file holding a NATS nkey seed" },
  natsCa: { flag: "nats-ca", env: "NATS_CA", description: "CA bundle the NATS server certificate must chain to (requires TLS)" },
  natsCert: { flag: "nats-cert", env: "NATS_CERT", description: "client certificate for NATS (mutual TLS)" },
  natsKey: { flag: "nats-key", env: "NATS_KEY", description: "client key for NATS (mutual TLS)" },
  natsInboxPrefix: { flag: "nats-inbox-prefix", env: "NATS_INBOX_PREFIX", description: "reply subject prefix (tenants: _INBOX_<cluster>, as their permissions require)" },
  streamMode: { flag: "stream-mode", env: "SHAREDLB_STREAM_MODE", default: "create", description: "create: create/update the contract's streams; verify: only check they exist (tenant processes, no JetStream admin)" },
  streamStorage: { flag: "stream-storage", env: "SHAREDLB_STREAM_STORAGE", default: "file", description: "JetStream storage for streams this process creates: file | memory (memory: development only)" },
  maxDeliveries: {
    flag: "max-deliveries",
    env: "SHAREDLB_MAX_DELIVERIES",
    default: "10",
    description: "a message whose handling fails this many times is dead-lettered and terminated (a dependency being down does not count)",
  },
} as const satisfies Record<string, FlagSpec>;

/** The flags every sharedlb service has because startServiceRuntime consumes them. */
export const RUNTIME_FLAGS = {
  natsUrl: COMMON_FLAGS.natsUrl,
  httpAddr: COMMON_FLAGS.httpAddr,
  logLevel: COMMON_FLAGS.logLevel,
  replica: COMMON_FLAGS.replica,
  streamReplicas: COMMON_FLAGS.streamReplicas,
  streamStorage: COMMON_FLAGS.streamStorage,
  streamMode: COMMON_FLAGS.streamMode,
  natsUser: COMMON_FLAGS.natsUser,
  natsPassword: COMMON_FLAGS.natsPassword,
  natsToken: COMMON_FLAGS.natsToken,
  natsCreds: COMMON_FLAGS.natsCreds,
  natsNkey: COMMON_FLAGS.natsNkey,
  natsCa: COMMON_FLAGS.natsCa,
  natsCert: COMMON_FLAGS.natsCert,
  natsKey: COMMON_FLAGS.natsKey,
  natsInboxPrefix: COMMON_FLAGS.natsInboxPrefix,
} as const satisfies Record<string, FlagSpec>;

/**
 * Loads a YAML file and validates it against a schema. Errors name the file and the field;
 * a bad file is never partially applied. The result is deeply frozen.
 */
export function loadYamlConfig<T extends TSchema>(path: string, schema: T): Readonly<Static<T>> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  return validateConfig(path, raw, schema);
}

export function validateConfig<T extends TSchema>(origin: string, raw: unknown, schema: T): Readonly<Static<T>> {
  const check = TypeCompiler.Compile(schema);
  const withDefaults = Value.Default(schema, structuredClone(raw));
  if (!check.Check(withDefaults)) {
    const errors = [...check.Errors(withDefaults)].slice(0, 5).map((e) => `field ${fieldName(e.path)}: ${e.message}`);
    throw new ConfigError(`${origin}: ${errors.join("; ")}`);
  }
  return deepFreeze(withDefaults as Static<T>);
}

function fieldName(path: string): string {
  if (path === "") return "(root)";
  return path
    .slice(1)
    .split("/")
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** `host:port` → parts; port 0 means "any free port". */
export function parseHostPort(what: string, value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`${what} "${value}" is not host:port`);
  return { host: m[1] || "0.0.0.0", port };
}

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--${flag} "${value}" must be a positive integer`);
  return n;
}

/** `--stream-mode`: create (LB side) or verify (tenant processes, which have no JetStream admin). */
export function streamMode(value: string): "create" | "verify" {
  if (value !== "create" && value !== "verify") throw new ConfigError(`--stream-mode "${value}" must be create or verify`);
  return value;
}

/** `--stream-storage`: file (the default, and what production needs) or memory. */
export function streamStorage(value: string): "file" | "memory" {
  if (value !== "file" && value !== "memory") throw new ConfigError(`--stream-storage "${value}" must be file or memory`);
  return value;
}
