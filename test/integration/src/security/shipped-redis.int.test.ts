import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connectRedis, createRootLogger } from "@sharedlb/runtime";
import { canConnect, freePort, makeTestPki, type ManagedProcess, startProcess, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

// redis.conf exactly as deploy/k8s/lb/30-redis.yaml ships it (only the mount paths and the
// port mapped), started the way its StatefulSet starts it: TLS only, password required.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const dir = mkdtempSync(join(tmpdir(), "sharedlb-shipped-redis-"));
const PASSWORD = "shipped-redis-pw-31d4";
const log = createRootLogger("test", "silent");
let port: number;
let caFile: string;
let proc: ManagedProcess;

function shippedRedisConf(): string {
  const docs = parseAllDocuments(readFileSync(join(ROOT, "deploy/k8s/lb/30-redis.yaml"), "utf8")).map(
    (d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> },
  );
  const conf = docs.find((d) => d?.kind === "ConfigMap" && d.metadata?.name === "redis-config")?.data?.["redis.conf"];
  if (!conf) throw new Error("30-redis.yaml: no redis-config ConfigMap");
  return conf;
}

beforeAll(async () => {
  const pki = makeTestPki(dir, "redis-ca");
  caFile = pki.caFile;
  const server = pki.issue("redis", { ip: ["127.0.0.1"] });
  const tlsDir = join(dir, "tls");
  mkdirSync(tlsDir);
  copyFileSync(server.certFile, join(tlsDir, "tls.crt"));
  copyFileSync(server.keyFile, join(tlsDir, "tls.key"));
  copyFileSync(caFile, join(tlsDir, "ca.crt"));
  port = await freePort();
  const conf = shippedRedisConf()
    .replaceAll("/etc/redis-tls/", `${tlsDir}/`)
    .replace(/^dir \/data$/m, `dir ${dir}`)
    .replace(/^tls-port 6379$/m, `tls-port ${port}`)
    .replace(/^bind 0\.0\.0\.0$/m, "bind 127.0.0.1");
  writeFileSync(join(dir, "redis.conf"), conf);
  proc = startProcess(process.env.REDIS_SERVER_BIN ?? "redis-server", [join(dir, "redis.conf"), "--requirepass", PASSWORD]);
  await waitFor("shipped redis", () => canConnect(port), 15_000);
});

afterAll(async () => {
  await proc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Redis as shipped", () => {
  it("refuses a client without the password, serves one with it over TLS", async () => {
    const url = `rediss://127.0.0.1:${port}`;
    const anonymous = connectRedis(url, log, { maxRetriesPerRequest: 1 }, { caFile });
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    const authed = connectRedis(url, log, {}, { caFile, password: PASSWORD });
    expect(await authed.ping()).toBe("PONG");
    authed.disconnect();
  });

  it("has no plaintext port", async () => {
    const plain = connectRedis(`redis://127.0.0.1:${port}`, log, { maxRetriesPerRequest: 1, retryStrategy: () => null }, { password: PASSWORD });
    await expect(plain.ping()).rejects.toThrow();
    plain.disconnect();
  });
});
