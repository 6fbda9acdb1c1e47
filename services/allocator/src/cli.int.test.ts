import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect, it } from "vitest";
import { startNats, startProcess, startRedis } from "@sharedlb/testing";
import { ALLOCATOR_MAIN, startAllocator, writePoolFile } from "./test-support/allocator-process.js";

async function run(args: string[]) {
  const p = startProcess(process.execPath, [ALLOCATOR_MAIN, ...args], { NATS_URL: "nats://127.0.0.1:1" });
  const code = await p.exited;
  return { code, out: p.output() };
}

it("lists every flag with its environment variable in --help", async () => {
  const { code, out } = await run(["--help"]);
  expect(code).toBe(0);
  for (const [flag, env] of [["--config", "SHAREDLB_CONFIG"], ["--nats-url", "NATS_URL"], ["--redis-url", "REDIS_URL"], ["--http-addr", "HTTP_ADDR"], ["--log-level", "LOG_LEVEL"]]) {
    expect(out).toMatch(new RegExp(`${flag}\\s.*\\[env ${env}\\]`));
  }
});

it("exits non-zero naming the file and the field of a bad pool file, before connecting anywhere", async () => {
  const cases: [string, RegExp][] = [
    ["pools:\n  - name: public\n    addresses: []\n", /field pools\[0\]\.addresses/],
    ["pools:\n  - name: public\n    addresses: ['203.0.113.1']\n    ports: '70000'\n", /field pools\[0\]\.ports: "70000"/],
    ["pools:\n  - name: Public_1\n    addresses: ['203.0.113.1']\n", /field pools\[0\]\.name/],
    ["pools:\n  - name: a\n    addresses: ['10.0.0.1']\ndefaultPool: b\n", /field defaultPool: no pool is named "b"/],
    ["pools: [\n", /not valid YAML/],
    ["pools:\n  - name: a\n    addresses: ['10.0.0.1']\n    colour: blue\n", /field pools\[0\]/],
  ];
  for (const [yaml, message] of cases) {
    const path = writePoolFile(yaml);
    const { code, out } = await run(["--config", path]);
    expect(code, yaml).toBe(2);
    expect(out, yaml).toContain(path);
    expect(out, yaml).toMatch(message);
  }
  const missing = await run(["--config", "/nonexistent/pools.yaml"]);
  expect(missing.code).toBe(2);
  expect(missing.out).toMatch(/\/nonexistent\/pools\.yaml: cannot read: ENOENT/);
  const unknownFlag = await run(["--confg", "x"]);
  expect(unknownFlag.code).toBe(2);
  expect(unknownFlag.out).toMatch(/--confg/);
});

it("creates streams with the configured storage, and refuses to start against a stream that means something else", async () => {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const config = writePoolFile("pools:\n  - name: public\n    addresses: ['203.0.113.1']\n");
  try {
    const first = await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica: "mem", extra: ["--stream-storage", "memory"] });
    await first.stop();
    const fx = await natsFixtureWithoutEnsure(nats.url);
    expect((await fx.jsm.streams.info("LB_RESOURCES")).config.storage).toBe("memory");
    await fx.nc.drain();

    const second = startProcess(process.execPath, [ALLOCATOR_MAIN, "--config", config, "--nats-url", nats.url, "--redis-url", redis.url]);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/stream LB_RESOURCES exists with a conflicting configuration: storage memory ≠ file/);
  } finally {
    await Promise.all([nats.dispose(), redis.dispose()]);
  }
});

/** A plain connection: the fixture's own stream check would itself conflict here. */
async function natsFixtureWithoutEnsure(url: string) {
  const nc = await connect({ servers: url });
  return { nc, jsm: await jetstreamManager(nc) };
}
