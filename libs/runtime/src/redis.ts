import { Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "./config.js";
import { type Logger, redactUrl } from "./logging.js";

/**
 * Connects to Redis from a URL: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), or
 * `redis-sentinel://[user:pass@]host:port,host:port/<master>[/db]` for Sentinel HA.
 * Commands queue while disconnected and the client reconnects forever.
 */
export function connectRedis(url: string, log: Logger, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    lazyConnect: false,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
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
    });
  } else if (/^rediss?:\/\//.test(url)) {
    client = new Redis(url, base);
  } else {
    throw new ConfigError(`--redis-url ${redactUrl(url)} must start with redis://, rediss:// or redis-sentinel://`);
  }
  let wasDown = false;
  client.on("error", (err: Error) => {
    if (!wasDown) log.warn({ redis: redactUrl(url), err: err.message }, "Redis unavailable, retrying");
    wasDown = true;
  });
  client.on("ready", () => {
    log.info({ redis: redactUrl(url) }, wasDown ? "Redis reconnected" : "connected to Redis");
    wasDown = false;
  });
  return client;
}
