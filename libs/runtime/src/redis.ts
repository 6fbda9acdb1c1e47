import { readFileSync } from "node:fs";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "./config.js";
import { type Logger, redactUrl } from "./logging.js";

/**
 * Connects to Redis from a URL: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), or
 * `redis-sentinel://[user:pass@]host:port,host:port/<master>[/db]` for Sentinel HA.
 * Commands queue while disconnected and the client reconnects forever.
 */
export function connectRedis(url: string, log: Logger, extra: RedisOptions = {}, security: RedisSecurity = {}): Redis {
  const tls = redisTls(url, security);
  const base: RedisOptions = {
    lazyConnect: false,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...(security.password !== undefined ? { password: security.password } : {}),
    ...(tls ? { tls } : {}),
    ...extra,
  };
  let client: Redis;
  if (url.startsWith("redis-sentinel://")) {
    const m = /^redis-sentinel:\/\/(?:([^:@]*):([^@]*)@)?([^/]+)\/([^/]+)(?:\/(\d+))?$/.exec(url);
    if (!m) throw new ConfigError(`--redis-url ${redactUrl(url)} is not redis-sentinel://host:port,…/<master>[/db]`);
    const sentinels = (m[3] ?? "").split(",").map((hp) => {
      const [host = "", port = "26379"] = hp.split(":");
      return { host, port: Number(port) };
    });
    client = new Redis({
      ...base,
      sentinels,
      name: m[4] ?? "",
      db: m[5] ? Number(m[5]) : 0,
      ...(m[1] ? { username: decodeURIComponent(m[1]) } : {}),
      ...(m[2] ? { password: decodeURIComponent(m[2]) } : {}),
      // Sentinels are secured like the master: same password and TLS settings.
      ...(security.password !== undefined ? { sentinelPassword: security.password } : {}),
      ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    });
  } else if (/^rediss?:\/\//.test(url)) {
    client = new Redis(url, base);
  } else {
    throw new ConfigError(`--redis-url ${redactUrl(url)} must start with redis://, rediss:// or redis-sentinel://`);
  }
  watchRedis(client, url, log, security, tls !== undefined);
  return client;
}

/**
 * Connects to a Redis Cluster from `redis://[user:pass@]host:port[,host:port…]` (or
 * `rediss://`): the nodes listed are seeds, the client discovers the rest and routes each
 * command to the master of its key's hash slot. AUTH and TLS apply to every node as for a
 * single Redis.
 */
export function connectRedisCluster(url: string, log: Logger, extra: ClusterOptions = {}, security: RedisSecurity = {}): Cluster {
  const m = /^(rediss?):\/\/(?:([^:@]*):([^@]*)@)?([^/]+)\/?$/.exec(url);
  if (!m) throw new ConfigError(`--redis-url ${redactUrl(url)} is not redis[s]://[user:pass@]host:port[,host:port…] (Redis Cluster takes no /db)`);
  const tls = redisTls(url, security);
  const nodes = (m[4] ?? "").split(",").map((hp) => {
    const [host = "", port = "6379"] = hp.split(":");
    return { host, port: Number(port) };
  });
  const password = m[3] ? decodeURIComponent(m[3]) : security.password;
  const client = new Cluster(nodes, {
    enableAutoPipelining: true,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    redisOptions: {
      maxRetriesPerRequest: null,
      ...(m[2] ? { username: decodeURIComponent(m[2]) } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(tls ? { tls } : {}),
    },
    ...extra,
  });
  watchRedis(client, url, log, security, tls !== undefined);
  return client;
}

function watchRedis(client: Redis | Cluster, url: string, log: Logger, security: RedisSecurity, tls: boolean): void {
  let wasDown = false;
  log.info({ redis: redactUrl(url), auth: security.password !== undefined || /\/\/[^@/]+@/.test(url), tls }, "connecting to Redis");
  client.on("error", (err: Error) => {
    if (!wasDown) log.warn({ redis: redactUrl(url), err: err.message }, "Redis unavailable, retrying");
    wasDown = true;
  });
  client.on("ready", () => {
    log.info({ redis: redactUrl(url) }, wasDown ? "Redis reconnected" : "connected to Redis");
    wasDown = false;
  });
}

/** Redis AUTH and TLS beyond what the URL says (docs/security.md). */
export interface RedisSecurity {
  password?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

function redisTls(url: string, s: RedisSecurity): { ca?: string; cert?: string; key?: string } | undefined {
  if ((s.certFile === undefined) !== (s.keyFile === undefined)) throw new ConfigError("--redis-cert and --redis-key go together");
  if (s.caFile === undefined && s.certFile === undefined && !url.startsWith("rediss://")) return undefined;
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`${flag} ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  };
  return {
    ...(s.caFile !== undefined ? { ca: read("--redis-ca", s.caFile) } : {}),
    ...(s.certFile !== undefined && s.keyFile !== undefined ? { cert: read("--redis-cert", s.certFile), key: read("--redis-key", s.keyFile) } : {}),
  };
}
