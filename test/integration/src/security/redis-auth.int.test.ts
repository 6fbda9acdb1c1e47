import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  makeTestPki,
  type NatsFixture,
  natsFixture,
  serviceResource,
  startNats,
  startProcess,
  startRedis,
  type TestNats,
  type TestRedis,
} from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALLOCATOR_MAIN,
  waitForAllocation,
  writePoolFile,
} from "../../../../services/allocator/src/test-support/allocator-process.js";

// Redis with AUTH and TLS, NATS with a password: the allocator is refused without the
// password, serves with it, and none of the secrets appear in anything it logs.

const REDIS_PASSWORD = "redis-pw-5f1c9e";
const NATS_PASSWORD = "nats-pw-77ab0d";
const POOLS = writePoolFile(`
pools:
  - name: public
    addresses: ["203.0.113.10"]
defaultPool: public
`);
const dir = mkdtempSync(join(tmpdir(), "sharedlb-redis-auth-"));
let redis: TestRedis;
let nats: TestNats;
let fx: NatsFixture;
let caFile: string;

beforeAll(async () => {
  const pki = makeTestPki(dir, "redis-ca");
  caFile = pki.caFile;
  const server = pki.issue("redis", { ip: ["127.0.0.1"], dns: ["localhost"] });
  redis = await startRedis({ password: REDIS_PASSWORD, tls: { certFile: server.certFile, keyFile: server.keyFile, caFile } });
  nats = await startNats({ config: `authorization { user: lb, password: "${NATS_PASSWORD}" }` });
  fx = await natsFixture(nats.url, { user: "lb", password: NATS_PASSWORD });
});

afterAll(async () => {
  await fx?.close();
  await Promise.all([redis?.dispose(), nats?.dispose()]);
  rmSync(dir, { recursive: true, force: true });
});

const allocator = (extra: string[], env: Record<string, string> = {}) =>
  startProcess(process.execPath, [
    ALLOCATOR_MAIN,
    "--config",
    POOLS,
    "--nats-url",
    nats.url.replace("nats://", `nats://lb:${NATS_PASSWORD}@`),
    "--redis-url",
    redis.url,
    "--redis-ca",
    caFile,
    "--log-level",
    "debug",
    ...extra,
  ], env);

describe("Redis with AUTH and TLS", () => {
  it("refuses the allocator without the password: it reports Redis unavailable and never becomes ready", async () => {
    const p = allocator([]);
    try {
      await p.waitForOutput(/"err":"NOAUTH Authentication required.*Redis unavailable/, 30_000);
      expect(p.output()).not.toMatch(/connected to Redis/);
    } finally {
      await p.stop(5_000);
    }
  });

  it("serves with the password over TLS, and no secret appears in any log line", async () => {
    const withPassword = allocator(["--replica", "auth-1", "--log-level", "trace"], { SHAREDLB_REDIS_PASSWORD: REDIS_PASSWORD });
    try {
      await withPassword.waitForOutput(/allocator started/, 30_000);
      await withPassword.waitForOutput(/connected to Redis/, 30_000);
      await fx.publishService(serviceResource("a", "shop", "web"));
      const a = await waitForAllocation(fx, "a/shop/web", (x) => x.state === "Allocated");
      expect(a.ip).toBe("203.0.113.10");
    } finally {
      await withPassword.stop(5_000);
    }
    expect(withPassword.output()).not.toContain(REDIS_PASSWORD);
    expect(withPassword.output()).not.toContain(NATS_PASSWORD);
    expect(withPassword.output()).toMatch(/"tls":true/);
  });
});
