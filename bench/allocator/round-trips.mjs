#!/usr/bin/env node
// Redis calls per Service event, counted rather than read from the code: one
// `sharedlb-allocator` (its real command line) allocates N benchmark Services, then handles
// the same N events again (a resync: nothing changes), while a MONITOR connection counts
// the commands its clients send. Commands a script runs inside Redis (MONITOR marks them
// `[<db> lua]`) are not calls; EVALSHA is told apart by script. Small N: MONITOR costs Redis.
//
//   node allocator/round-trips.mjs --n 500
//
// The janitor's own calls (every 100 ms) are counted too; they are a few per tick and are
// reported as the calls of an idle second before the Services are published.
import { parseArgs } from "node:util";
import { natsFixture, startNats, startRedis, waitFor } from "@sharedlb/testing";
import { Redis } from "ioredis";
import { log, sleep } from "../lib/host.mjs";
import { makeWorkload } from "./workload.mjs";

const testSupport = new URL("../../services/allocator/src/test-support/allocator-process.ts", import.meta.url);
const { startAllocator, writePoolFile } = await import(testSupport.href);

const { values: opts } = parseArgs({ options: { n: { type: "string", default: "500" } } });
const N = Number(opts.n);

const [nats, redisSrv] = await Promise.all([startNats(), startRedis()]);
const fx = await natsFixture(nats.url);
const config = writePoolFile(
  ["pools:", "  - name: public", '    addresses: ["203.0.113.1-203.0.113.4"]', '    ports: "1-65535"', "defaultPool: public", "releaseDelaySeconds: 30", ""].join("\n"),
);
const admin = new Redis(redisSrv.url);
const scripts = new Map();
const proc = await startAllocator({ config, natsUrl: nats.url, redisUrl: redisSrv.url, replica: "r1" });
try {
  // Script names by SHA, from the allocator's loaded scripts (SCRIPT LOAD of each file gives the same SHA).
  const { luaScript } = await import(new URL("../../services/allocator/dist/adapters/lua-scripts.js", import.meta.url).href);
  for (const name of ["apply", "ledger", "published", "evict", "expire", "l7-expire", "forget"]) {
    scripts.set(String(await admin.script("LOAD", luaScript(name))), name);
  }

  const monitorClient = new Redis(redisSrv.url);
  const monitor = await monitorClient.monitor();
  let counts = new Map();
  monitor.on("monitor", (_time, args, source) => {
    if (/lua/.test(source)) return;
    const cmd = String(args[0]).toLowerCase();
    if (cmd === "monitor" || cmd === "script") return;
    const name = cmd === "evalsha" ? `evalsha ${scripts.get(String(args[1])) ?? String(args[1]).slice(0, 8)}` : cmd;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  const take = () => {
    const c = counts;
    counts = new Map();
    return c;
  };

  await sleep(1000);
  const idle = take();
  const workload = makeWorkload(20261122);
  const services = Array.from({ length: N }, (_, i) => workload(i));
  const phase = async (what) => {
    for (const svc of services) await fx.publishService(svc);
    await waitFor(`${what}: the allocator drains the stream`, async () => {
      const c = await fx.jsm.consumers.info("LB_RESOURCES", "allocator");
      return c.num_pending === 0 && c.num_ack_pending === 0;
    }, 120_000, 100);
    await sleep(300);
    return take();
  };
  const fresh = await phase("new Services");
  const resync = await phase("the same events again");
  const per = (m) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number((v / N).toFixed(2))]));
  const total = (m) => Number(([...m.values()].reduce((a, b) => a + b, 0) / N).toFixed(2));
  const out = {
    n: N,
    idleCallsPerSecond: Object.fromEntries(idle),
    newService: { callsPerEvent: total(fresh), byCommand: per(fresh) },
    unchangedEvent: { callsPerEvent: total(resync), byCommand: per(resync) },
  };
  console.log(JSON.stringify(out, null, 1));
  monitor.disconnect();
  monitorClient.disconnect();
} finally {
  log("stopping");
  await proc.stop(15_000).catch(() => undefined);
  admin.disconnect();
  await fx.close().catch(() => undefined);
  await Promise.all([nats.dispose(), redisSrv.dispose()]);
}
process.exit(0);
