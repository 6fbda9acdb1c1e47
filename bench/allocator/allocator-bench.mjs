#!/usr/bin/env node
// Allocator benchmark: allocations per second and publish→allocation latency, with real
// NATS JetStream, real Redis and real `sharedlb-allocator` OS processes (started exactly
// as the allocator's own integration tests start them: services/allocator/src/test-support/allocator-process.ts).
//
//   node allocator/allocator-bench.mjs                      # everything (~6 min when the machine is quiet)
//   node allocator/allocator-bench.mjs --scenario throughput --replicas 1,3 --n 10000,100000
//   node allocator/allocator-bench.mjs --scenario latency --replicas 1,3 --rates 1000,3000
//   node allocator/allocator-bench.mjs --scenario throughput --replicas 1 --n 10000 --profile
//   node allocator/allocator-bench.mjs --scenario all --replicas 3 --n 10000 --ips 4     # issue 11: a 4-IP pool
//   node allocator/allocator-bench.mjs --scenario all --replicas 3 --n 10000 --ips /16   # issue 11: a /16 pool
//   node allocator/allocator-bench.mjs --preset issue11 --json /tmp/alloc-issue11.json    # issue 11's aims, ≤ 12 min
//
// Flags (all optional):
//   --scenario throughput|latency|all   what to run (default all)
//   --replicas 1,3                      allocator replica counts
//   --n 10000,100000                    Services pre-published for the throughput runs
//   --rates 1000,3000                   events/s for the latency runs
//   --duration 25                       seconds of steady publishing per latency run
//   --base 10000                        Services allocated before a latency run starts
//   --ips 16                            IPs in the pool (ports 1-65535): a count up to 254, or a
//                                       power of two / a prefix length for a block (4096, /16);
//                                       a list (4,/16) runs every scenario once per pool
//   --preset issue11                    issue 11's aims in one run: throughput with 1 and 3
//                                       replicas for 10,000 Services and latency at 1,000 events/s,
//                                       each for a 4-IP pool and a /16, quiet-wait 30 s (8 runs,
//                                       4-8 min when quiet; explicit flags still override)
//   --concurrency 256                   the allocator's --concurrency
//   --profile                           run replica r1 under `node --cpu-prof` and summarise
//                                       (implies --redis-trace)
//   --redis-trace                       time every Redis command (SLOWLOG at 0 µs, last 100,000
//                                       commands) and report per-script µs; adds a little overhead
//   --json FILE                         also write every result as JSON
//   --repeat 1                          run every scenario this many times (the machine is shared:
//                                       compare runs by the "other work" CPU recorded with each)
//   --quiet-wait 180                    before each run, wait up to this many seconds for the
//                                       machine to be quiet (other work under 0.5 core for 3 s)
//
// Every run uses its own nats-server and redis-server (from @sharedlb/testing) and stops by
// itself; all processes are killed when the run (or this script) ends.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DeliverPolicy } from "@nats-io/jetstream";
import { filters, objectKey, STREAM_NAMES } from "@sharedlb/contracts";
import { natsFixture, startNats, startRedis } from "@sharedlb/testing";
import { Redis } from "ioredis";
import { children, log, machineCpu, now, pct, sleep, vmHwmMb } from "../lib/host.mjs";
import { summarizeProfile } from "./profile-summary.mjs";
import { makeWorkload, rng } from "./workload.mjs";

// Reuse the allocator's own launcher (its real command line) rather than a copy of it.
// Node 24 strips the types of this test-only TypeScript file (it is not shipped in dist).
const testSupport = new URL("../../services/allocator/src/test-support/allocator-process.ts", import.meta.url);
const { startAllocator, writePoolFile } = await import(testSupport.href);

const { values: given } = parseArgs({
  // `pnpm run allocator -- --flag` passes the "--" through: ignore it.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    scenario: { type: "string", default: "all" },
    replicas: { type: "string", default: "1,3" },
    n: { type: "string", default: "10000,100000" },
    rates: { type: "string", default: "1000,3000" },
    duration: { type: "string", default: "25" },
    base: { type: "string", default: "10000" },
    ips: { type: "string", default: "16" },
    concurrency: { type: "string", default: "256" },
    profile: { type: "boolean", default: false },
    "redis-trace": { type: "boolean", default: false },
    json: { type: "string" },
    "quiet-wait": { type: "string", default: "180" },
    repeat: { type: "string", default: "1" },
    preset: { type: "string" },
  },
});
/** Named flag sets; a flag given on the command line wins over its preset value. */
const PRESETS = {
  issue11: { scenario: "all", replicas: "1,3", n: "10000", rates: "1000", ips: "4,/16", "quiet-wait": "30" },
};
if (given.preset !== undefined && !(given.preset in PRESETS))
  throw new Error(`--preset ${given.preset}: one of ${Object.keys(PRESETS).join(", ")}`);
const explicit = new Set(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith("--"))
    .map((a) => a.slice(2).split("=")[0]),
);
const opts = { ...given };
for (const [k, v] of Object.entries(PRESETS[given.preset] ?? {})) if (!explicit.has(k)) opts[k] = v;
const list = (s) =>
  s
    .split(",")
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isFinite(x) && x > 0);
const REPLICAS = list(opts.replicas);
const SIZES = list(opts.n);
const RATES = list(opts.rates);
const DURATION_S = Number(opts.duration);
const BASE = Number(opts.base);
/** `--ips 16`, `--ips 4096` or `--ips /16`: the pool's address entry and its size. */
function poolBlock(spec) {
  const text = spec.trim();
  const bits = text.startsWith("/") ? Number(text.slice(1)) : undefined;
  const n = bits === undefined ? Number(text) : 2 ** (32 - bits);
  if (!Number.isInteger(n) || n < 1 || n > 65_536) throw new Error(`--ips ${text}: a count of 1-65536 IPs, or /16 to /32`);
  if (n <= 254) return { n, entry: `198.51.100.1-198.51.100.${n}` };
  const prefix = 32 - Math.log2(n);
  if (!Number.isInteger(prefix)) throw new Error(`--ips ${text}: pools over 254 IPs must be a power of two`);
  return { n, entry: `10.64.0.0/${prefix}` };
}
const POOLS = opts.ips.split(",").map(poolBlock);
const CONCURRENCY = Number(opts.concurrency);

/** Which code was measured: the commit, and whether the allocator or its libraries differ from it. */
const CODE = (() => {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: new URL("../..", import.meta.url), encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--", "services/allocator", "libs/runtime", "libs/contracts", "libs/testing");
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " (+ uncommitted changes)" : ""}`;
  } catch {
    return "unknown";
  }
})();

const REDIS_TRACE = opts.profile || opts["redis-trace"];
const LUA_DIR = new URL("../lua/", import.meta.resolve("@sharedlb/allocator"));
/** sha1 → script name, as ioredis sends EVALSHA for the allocator's scripts. */
const SCRIPT_NAMES = new Map(
  readdirSync(LUA_DIR)
    .filter((f) => f.endsWith(".lua"))
    .map((f) => [
      createHash("sha1")
        .update(readFileSync(new URL(f, LUA_DIR), "utf8"))
        .digest("hex"),
      f,
    ]),
);

const poolYaml = (pool) => `
pools:
  - name: public
    addresses: ["${pool.entry}"]
    ports: "1-65535"
defaultPool: public
releaseDelaySeconds: 30
`;

// ---------------------------------------------------------------- measurement helpers

const TICK = 100; // USER_HZ

/** CPU used during a window, per process (cores = CPU seconds / wall seconds). */
function cpuWindow() {
  const t0 = now();
  const m0 = machineCpu();
  const c0 = children();
  const self0 = process.cpuUsage();
  return (names) => {
    const wall = (now() - t0) / 1000;
    const m1 = machineCpu();
    const c1 = children();
    const per = {};
    for (const [pid, st] of c1) {
      const before = c0.get(pid)?.ticks ?? 0;
      const name = names.get(pid) ?? st.comm;
      per[name] = Number(((st.ticks - before) / TICK / wall).toFixed(2));
    }
    const self = process.cpuUsage(self0);
    per.bench = Number(((self.user + self.system) / 1e6 / wall).toFixed(2));
    const busy = 1 - (m1.idle - m0.idle) / Math.max(1, m1.total - m0.total);
    const ours = Object.values(per).reduce((a, b) => a + b, 0);
    return {
      wallS: Number(wall.toFixed(2)),
      machineBusyCores: Number((busy * 2).toFixed(2)),
      oursCores: Number(ours.toFixed(2)),
      /** CPU used by everything else on the machine meanwhile (other workers' tests). */
      othersCores: Number(Math.max(0, busy * 2 - ours).toFixed(2)),
      perProcessCores: per,
    };
  };
}

/** Waits (bounded) until other work on the machine uses under 0.5 core for 3 s in a row. */
async function waitQuiet() {
  const until = now() + Number(opts["quiet-wait"]) * 1000;
  let quietFor = 0;
  let busy = 0;
  const started = now();
  while (now() < until) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    busy = 2 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total));
    quietFor = busy < 0.5 ? quietFor + 1 : 0;
    if (quietFor >= 3) break;
  }
  return { waitedS: Math.round((now() - started) / 1000), busyCoresBefore: Number(busy.toFixed(2)), quiet: quietFor >= 3 };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** Prometheus text → { name: { buckets: Map(le → count), sum, count } } for histograms, summed over replicas. */
function addHistograms(acc, text) {
  for (const line of text.split("\n")) {
    let m = /^(sharedlb_allocator_\w+)_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (m) {
      acc[m[1]] ??= { buckets: new Map(), sum: 0, count: 0 };
      const h = acc[m[1]];
      h.buckets.set(m[2], (h.buckets.get(m[2]) ?? 0) + Number(m[3]));
      continue;
    }
    m = /^(sharedlb_allocator_\w+)_(sum|count)(?:\{[^}]*\})? (\S+)/.exec(line);
    if (m && acc[m[1]]) acc[m[1]][m[2]] += Number(m[3]);
    m = /^sharedlb_allocator_events_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)/.exec(line);
    if (m) {
      acc.events ??= {};
      acc.events[m[1]] = (acc.events[m[1]] ?? 0) + Number(m[2]);
    }
    m = /^sharedlb_process_nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)/.exec(line);
    if (m) {
      acc.loopLagP99Ms ??= [];
      acc.loopLagP99Ms.push(Number((Number(m[1]) * 1000).toFixed(1)));
    }
  }
  return acc;
}
/** Quantile estimate from cumulative buckets (upper bound of the bucket holding it). */
function histQuantile(h, q) {
  if (!h || h.count === 0) return undefined;
  const entries = [...h.buckets.entries()]
    .map(([le, c]) => [le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), c])
    .sort((a, b) => a[0] - b[0]);
  const target = q * h.count;
  for (const [le, c] of entries) if (c >= target) return le === Number.POSITIVE_INFINITY ? `>${entries.at(-2)?.[0]}` : le;
  return undefined;
}
function histSummary(h) {
  if (!h || h.count === 0) return undefined;
  const ms = (v) => (typeof v === "number" ? `≤${+(v * 1000).toFixed(1)}ms` : `${v}s`);
  return {
    count: h.count,
    meanMs: Number(((h.sum / h.count) * 1000).toFixed(2)),
    p50: ms(histQuantile(h, 0.5)),
    p90: ms(histQuantile(h, 0.9)),
    p99: ms(histQuantile(h, 0.99)),
  };
}

function redisInfo(text) {
  const o = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}
async function redisStats(redis) {
  const mem = redisInfo(await redis.info("memory"));
  const cpu = redisInfo(await redis.info("cpu"));
  const cmd = redisInfo(await redis.info("commandstats"));
  const calls = {};
  let scriptUsec = 0;
  for (const [k, v] of Object.entries(cmd)) {
    const m = /calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(v);
    if (!m) continue;
    // Commands a script runs are counted both on their own and inside the script's time:
    // the time Redis's one thread spent in scripts is what EVAL/EVALSHA record.
    if (k === "cmdstat_evalsha" || k === "cmdstat_eval") scriptUsec += Number(m[2]);
    calls[k.replace("cmdstat_", "")] = { calls: Number(m[1]), usec: Number(m[2]), usecPerCall: Number(m[3]) };
  }
  const keys = redisInfo(await redis.info("keyspace"));
  return {
    usedMemoryMb: Number((Number(mem.used_memory) / 1048576).toFixed(1)),
    peakMemoryMb: Number((Number(mem.used_memory_peak) / 1048576).toFixed(1)),
    rssMb: Number((Number(mem.used_memory_rss) / 1048576).toFixed(1)),
    cpuSeconds: Number((Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)).toFixed(2)),
    scriptUsec,
    commands: calls,
    keyspace: keys.db0,
  };
}

async function startRedisTrace(redis) {
  await redis.config("SET", "slowlog-log-slower-than", "0");
  await redis.config("SET", "slowlog-max-len", "100000");
  await redis.call("SLOWLOG", "RESET");
}
/** Per command (per script for EVALSHA) server-side time of the last ≤100,000 commands. */
async function readRedisTrace(redis) {
  const entries = await redis.call("SLOWLOG", "GET", "100000");
  await redis.config("SET", "slowlog-log-slower-than", "10000");
  const by = new Map();
  for (const [, , us, args] of entries) {
    const cmd = String(args[0]).toLowerCase();
    const name = cmd === "evalsha" ? `evalsha ${SCRIPT_NAMES.get(String(args[1])) ?? String(args[1]).slice(0, 8)}` : cmd;
    const arr = by.get(name) ?? [];
    arr.push(Number(us));
    by.set(name, arr);
  }
  const total = [...by.values()].flat().reduce((a, b) => a + b, 0);
  return [...by.entries()]
    .map(([name, arr]) => {
      arr.sort((a, b) => a - b);
      const sum = arr.reduce((a, b) => a + b, 0);
      return {
        name,
        calls: arr.length,
        meanUs: Number((sum / arr.length).toFixed(1)),
        p50Us: pct(arr, 50),
        p99Us: pct(arr, 99),
        shareOfRedisTime: `${((100 * sum) / total).toFixed(1)}%`,
      };
    })
    .sort((a, b) => b.calls * b.meanUs - a.calls * a.meanUs);
}

/**
 * Load-independent costs of one allocation: CPU µs by process group (from the consumption
 * window's /proc ticks) and Redis script calls and script µs (commandstats; a script's own
 * commands are inside its µs). The machine is shared, so these travel better than rates.
 */
function perAllocation(cpuUse, redis0, redis1, got) {
  const us = (prefix) =>
    Math.round(
      (Object.entries(cpuUse.perProcessCores ?? {})
        .filter(([name]) => name.startsWith(prefix))
        .reduce((a, [, cores]) => a + cores, 0) *
        cpuUse.wallS *
        1e6) /
        Math.max(1, got),
    );
  const calls = (k) => (redis1.commands[k]?.calls ?? 0) - (redis0.commands[k]?.calls ?? 0);
  return {
    cpuUs: { allocators: us("allocator"), redis: us("redis"), nats: us("nats"), bench: us("bench") },
    scriptCalls: Number(((calls("evalsha") + calls("eval")) / Math.max(1, got)).toFixed(2)),
    redisScriptUs: Math.round((redis1.scriptUsec - redis0.scriptUsec) / Math.max(1, got)),
  };
}

// ---------------------------------------------------------------- one environment

/** Private nats-server + redis-server, a fixture, and a core subscription to allocations. */
async function environment(pool) {
  const [nats, redisSrv] = await Promise.all([startNats(), startRedis()]);
  const fx = await natsFixture(nats.url);
  const redis = new Redis(redisSrv.url);
  const config = writePoolFile(poolYaml(pool));
  const names = new Map();
  for (const [pid, st] of children()) {
    if (st.comm.includes("nats")) names.set(pid, "nats-server");
    if (st.comm.includes("redis")) names.set(pid, "redis-server");
  }
  /** Allocation receipts, from a core subscription (not JetStream): what a live consumer sees. */
  const seen = {
    messages: 0,
    allocated: new Map(), // key → first receipt time of an Allocated state
    states: new Map(), // key → last state
    listeners: new Set(),
    firstAt: 0,
    lastAt: 0,
  };
  const dec = new TextDecoder();
  fx.nc.subscribe(filters.allocations, {
    callback: (err, m) => {
      if (err) return;
      const t = now();
      const ev = JSON.parse(dec.decode(m.data));
      const d = ev.data;
      const key = objectKey(d.cluster, d.namespace, d.name);
      seen.messages++;
      seen.states.set(key, d.state);
      if (d.state === "Allocated" && !seen.allocated.has(key)) {
        seen.allocated.set(key, t);
        if (!seen.firstAt) seen.firstAt = t;
        seen.lastAt = t;
      }
      for (const l of seen.listeners) l(key, d, t);
    },
  });
  await fx.nc.flush();
  const replicas = [];
  const dispose = async () => {
    await Promise.all(replicas.map((r) => r.proc.stop(15_000).catch(() => undefined)));
    redis.disconnect();
    await withTimeout(fx.close(), 10_000, "closing the NATS connection").catch(() => fx.nc.close());
    await Promise.all([nats.dispose(), redisSrv.dispose()]);
  };
  return { nats, redisSrv, fx, redis, config, names, seen, replicas, dispose };
}

async function publishMany(fx, services, inflightMax = 500) {
  const inflight = new Set();
  for (const svc of services) {
    const p = fx.publishService(svc).then(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= inflightMax) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

async function startReplicas(env, count, profileDir) {
  const started = [];
  const launch = async (i) => {
    const replica = `r${i + 1}`;
    const saved = process.env.NODE_OPTIONS;
    if (profileDir && i === 0) process.env.NODE_OPTIONS = `${saved ?? ""} --cpu-prof --cpu-prof-dir=${profileDir}`.trim();
    // startAllocator spawns synchronously, before its first await: the env applies to r1 only.
    const pending = startAllocator({
      config: env.config,
      natsUrl: env.nats.url,
      redisUrl: env.redisSrv.url,
      replica,
      extra: ["--concurrency", String(CONCURRENCY)],
    });
    if (profileDir && i === 0) {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    const proc = await pending;
    const upAt = now();
    const http = /"http":"([^"]+)"/.exec(proc.output())?.[1];
    env.names.set(proc.child.pid, `allocator ${replica}`);
    const r = { replica, proc, http, upAt, pid: proc.child.pid };
    env.replicas.push(r);
    started.push(r);
    return r;
  };
  await Promise.all(Array.from({ length: count }, (_, i) => launch(i)));
  return started;
}

async function scrapeAllocators(env) {
  const acc = {};
  for (const r of env.replicas) {
    if (!r.http) continue;
    try {
      const res = await fetch(`http://${r.http}/metrics`);
      addHistograms(acc, await res.text());
    } catch {
      /* a replica that went away has no metrics */
    }
  }
  return acc;
}

function diffHistogram(after, before) {
  if (!after) return undefined;
  if (!before) return after;
  const buckets = new Map([...after.buckets].map(([le, c]) => [le, c - (before.buckets.get(le) ?? 0)]));
  return { buckets, sum: after.sum - before.sum, count: after.count - before.count };
}

/** Allocator metrics over a window (`before` from scrapeAllocators at its start), and memory. */
async function collectAllocatorStats(env, before = {}) {
  const acc = await scrapeAllocators(env);
  const memory = {};
  for (const r of env.replicas) memory[r.replica] = vmHwmMb(r.pid);
  const events = {};
  for (const [k, v] of Object.entries(acc.events ?? {})) events[k] = v - (before.events?.[k] ?? 0);
  return {
    allocatorVmHwmMb: memory,
    applySeconds: histSummary(diffHistogram(acc.sharedlb_allocator_apply_seconds, before.sharedlb_allocator_apply_seconds)),
    eventLagSeconds: histSummary(diffHistogram(acc.sharedlb_allocator_event_lag_seconds, before.sharedlb_allocator_event_lag_seconds)),
    allocatorEvents: events,
    eventLoopLagP99Ms: acc.loopLagP99Ms,
  };
}

function natsHwm(env) {
  for (const [pid, name] of env.names) if (name === "nats-server") return vmHwmMb(pid);
  return undefined;
}

/** Rejects when `p` takes longer than `ms`: every wait in a run is bounded. */
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** The last allocation per Service, replayed from LB_ALLOCATIONS with an ordered consumer. */
async function replayAllocations(env) {
  const info = await env.fx.jsm.streams.info(STREAM_NAMES.allocations);
  const out = new Map();
  if (info.state.messages === 0) return out;
  const consumer = await env.fx.js.consumers.get(STREAM_NAMES.allocations, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000 });
  const dec = new TextDecoder();
  for await (const m of messages) {
    const d = JSON.parse(dec.decode(m.data)).data;
    out.set(objectKey(d.cluster, d.namespace, d.name), d);
    if (m.seq >= info.state.last_seq) break;
  }
  return out;
}

/** Checks the final state from the LB_ALLOCATIONS stream: counts, and no slot with two owners. */
async function verify(env, expected) {
  let all;
  try {
    all = await withTimeout(replayAllocations(env), 120_000, "replaying LB_ALLOCATIONS");
  } catch (err) {
    return { error: String(err.message ?? err) };
  }
  const owners = new Map();
  let allocated = 0;
  let doubles = 0;
  const states = {};
  for (const [key, a] of all) {
    states[a.state] = (states[a.state] ?? 0) + 1;
    if (a.state !== "Allocated") continue;
    allocated++;
    for (const p of a.ports) {
      const slot = `${a.ip}|${p.protocol}|${p.externalPort}`;
      if (owners.has(slot)) doubles++;
      owners.set(slot, key);
    }
  }
  return { streamServices: all.size, streamAllocated: allocated, expected, states, slots: owners.size, doubleOwnedSlots: doubles };
}

// ---------------------------------------------------------------- scenarios

async function throughput(replicas, n, pool) {
  const quiet = await waitQuiet();
  const loadBefore = load();
  log(`throughput: ${replicas} replica(s), ${n} Services, ${pool.n} IPs (load ${loadBefore})`);
  const env = await environment(pool);
  const profileDir = opts.profile ? mkdtempSync(join(tmpdir(), "sharedlb-alloc-prof-")) : undefined;
  try {
    const gen = makeWorkload(n);
    const services = Array.from({ length: n }, (_, i) => gen(i));
    const p0 = now();
    await publishMany(env.fx, services);
    const publishS = (now() - p0) / 1000;
    log(`  published ${n} in ${publishS.toFixed(1)} s (${Math.round(n / publishS)}/s); starting allocators`);
    await env.redis.config("RESETSTAT");
    if (REDIS_TRACE) await startRedisTrace(env.redis);
    const redis0 = await redisStats(env.redis);
    const cpu = cpuWindow();
    const spawnAt = now();
    const started = await startReplicas(env, replicas, profileDir);
    const cpuRun = cpuWindow(); // from the moment every replica is up: the consumption window
    const firstUp = Math.min(...started.map((r) => r.upAt));
    const lastUp = Math.max(...started.map((r) => r.upAt));
    // Bounded wait: all allocated; or the consumer is drained and nothing new came for 2 s
    // (some Services Pending); or nothing new for 15 s; or a hard deadline.
    const deadline = now() + Math.max(120_000, n * 5);
    let lastCount = -1;
    let lastChange = now();
    const timeline = [];
    let tick = now();
    let drained = false;
    while (env.seen.allocated.size < n && now() < deadline && now() - lastChange < 15_000 && !(drained && now() - lastChange > 2000)) {
      await sleep(50);
      if (env.seen.allocated.size !== lastCount) {
        lastCount = env.seen.allocated.size;
        lastChange = now();
      }
      if (now() - tick >= 1000) {
        tick = now();
        timeline.push(env.seen.allocated.size);
        const c = await env.fx.jsm.consumers.info(STREAM_NAMES.resources, "allocator").catch(() => undefined);
        drained = c !== undefined && c.num_pending === 0 && c.num_ack_pending === 0;
      }
    }
    const endAt = env.seen.lastAt;
    const cpuUse = cpuRun(env.names);
    const cpuWithStartup = cpu(env.names);
    const got = env.seen.allocated.size;
    const times = [...env.seen.allocated.values()].sort((a, b) => a - b);
    const t10 = pct(times, 10);
    const t90 = pct(times, 90);
    const steady = (0.8 * got) / ((t90 - t10) / 1000);
    const elapsedS = (endAt - firstUp) / 1000;
    const redis1 = await redisStats(env.redis);
    const redisTrace = REDIS_TRACE ? await readRedisTrace(env.redis) : undefined;
    const alloc = await collectAllocatorStats(env);
    const consumer = await env.fx.jsm.consumers.info(STREAM_NAMES.resources, "allocator").catch(() => undefined);
    const v = await verify(env, n);
    const res = {
      scenario: "throughput",
      date: new Date().toISOString(),
      code: CODE,
      loadBefore,
      loadAfter: load(),
      quiet,
      replicas,
      concurrency: CONCURRENCY,
      ips: pool.n,
      n,
      publishPerS: Math.round(n / publishS),
      allocated: got,
      messages: env.seen.messages,
      startupS: Number(((firstUp - spawnAt) / 1000).toFixed(2)),
      replicaStartSpreadS: Number(((lastUp - firstUp) / 1000).toFixed(2)),
      firstAllocationAfterStartMs: Math.round(env.seen.firstAt - firstUp),
      elapsedS: Number(elapsedS.toFixed(2)),
      allocationsPerS: Math.round(got / elapsedS),
      steadyAllocationsPerS: Math.round(steady),
      perSecondTimeline: timeline.map((c, i) => c - (timeline[i - 1] ?? 0)),
      cpu: cpuUse,
      perAllocation: perAllocation(cpuUse, redis0, redis1, got),
      cpuWithStartup,
      redis: {
        usedMemoryMb: redis1.usedMemoryMb,
        peakMemoryMb: redis1.peakMemoryMb,
        rssMb: redis1.rssMb,
        cpuSeconds: Number((redis1.cpuSeconds - redis0.cpuSeconds).toFixed(2)),
        scriptBusyShare: Number(((redis1.scriptUsec - redis0.scriptUsec) / 1e6 / elapsedS).toFixed(2)),
        evalsha: redis1.commands.evalsha,
        commands: Object.fromEntries(Object.entries(redis1.commands).map(([k, c]) => [k, `${c.calls} calls, ${c.usecPerCall} µs/call`])),
        keyspace: redis1.keyspace,
        trace: redisTrace,
      },
      natsVmHwmMb: natsHwm(env),
      ...alloc,
      consumer: consumer
        ? { pending: consumer.num_pending, ackPending: consumer.num_ack_pending, redelivered: consumer.num_redelivered }
        : undefined,
      verify: v,
    };
    log(
      `  ${got}/${n} allocated in ${elapsedS.toFixed(2)} s: ${res.allocationsPerS}/s (steady ${res.steadyAllocationsPerS}/s); CPU ${JSON.stringify(cpuUse.perProcessCores)}`,
    );
    if (profileDir) {
      await Promise.all(env.replicas.map((r) => r.proc.stop(15_000)));
      const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
      if (file) {
        res.profile = { file: join(profileDir, file), ...summarizeProfile(JSON.parse(readFileSync(join(profileDir, file), "utf8"))) };
        log(`  profile of r1: ${res.profile.file}`);
      }
    }
    return res;
  } finally {
    await env.dispose();
  }
}

async function latency(replicas, rate, pool) {
  const quiet = await waitQuiet();
  const loadBefore = load();
  log(
    `latency: ${replicas} replica(s), ${rate} events/s for ${DURATION_S} s over ${BASE} existing Services, ${pool.n} IPs (load ${loadBefore})`,
  );
  const env = await environment(pool);
  try {
    const gen = makeWorkload(rate * 7 + replicas);
    const base = Array.from({ length: BASE }, (_, i) => gen(i));
    await publishMany(env.fx, base);
    await startReplicas(env, replicas);
    const warm = now() + 120_000;
    while (env.seen.allocated.size < BASE && now() < warm) await sleep(100);
    if (env.seen.allocated.size < BASE) throw new Error(`only ${env.seen.allocated.size}/${BASE} base Services were allocated`);
    await sleep(1000); // let the outbox and janitor settle
    log(`  ${BASE} base Services allocated; publishing at ${rate}/s`);

    // Changes target distinct base Services (one change each), so every event must produce
    // an allocation: a second change could supersede the first on the last-value stream.
    const shuffled = base.map((s) => s);
    const rand = rng(99);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const sent = new Map(); // `${key}@${nodePort of port 0}` → publish time
    const lat = [];
    const latByHalf = [[], []];
    const latBySec = [];
    let half = 0;
    let sec = 0;
    env.seen.listeners.add((key, d, t) => {
      if (d.state !== "Allocated") return;
      const k = `${key}@${d.ports[0]?.nodePort}`;
      const s = sent.get(k);
      if (s === undefined) return;
      sent.delete(k);
      lat.push(t - s.t);
      latByHalf[s.half].push(t - s.t);
      latBySec[s.sec] ??= [];
      latBySec[s.sec].push(t - s.t);
    });

    await env.redis.config("RESETSTAT");
    const redis0 = await redisStats(env.redis);
    const metrics0 = await scrapeAllocators(env);
    const cpu = cpuWindow();
    // Each second: how much CPU other work on the machine took (other workers' tests).
    const othersBySec = [];
    let secWindow = cpuWindow();
    const sampler = setInterval(() => {
      othersBySec.push(secWindow(env.names).othersCores);
      secWindow = cpuWindow();
    }, 1000);
    const total = Math.round(rate * DURATION_S);
    let next = BASE;
    let changes = 0;
    let published = 0;
    let inflightMax = 0;
    const inflight = new Set();
    const t0 = now();
    while (published < total) {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate));
      half = now() - t0 < (DURATION_S * 1000) / 2 ? 0 : 1;
      sec = Math.floor((now() - t0) / 1000);
      while (published < due) {
        let svc;
        if (changes < shuffled.length && rand() < 0.3) {
          const old = shuffled[changes++];
          svc = { ...old, ports: old.ports.map((p, k) => (k === 0 ? { ...p, nodePort: p.nodePort + 1 } : p)) };
        } else {
          svc = gen(next++);
        }
        const key = objectKey(svc.cluster, svc.namespace, svc.name);
        sent.set(`${key}@${svc.ports[0].nodePort}`, { t: now(), half, sec });
        const p = env.fx.publishService(svc).then(
          () => inflight.delete(p),
          () => inflight.delete(p),
        );
        inflight.add(p);
        published++;
        if (inflight.size > inflightMax) inflightMax = inflight.size;
      }
      await sleep(2);
    }
    const pubS = (now() - t0) / 1000;
    await Promise.all(inflight);
    // Bounded drain: everything received, or 60 s.
    const drainUntil = now() + 60_000;
    while (sent.size > 0 && now() < drainUntil) await sleep(50);
    const drainS = (now() - t0) / 1000 - pubS;
    clearInterval(sampler);
    const cpuUse = cpu(env.names);
    const redis1 = await redisStats(env.redis);
    const alloc = await collectAllocatorStats(env, metrics0);
    lat.sort((a, b) => a - b);
    const q = (arr, p) =>
      Number(
        pct(
          arr.sort((a, b) => a - b),
          p,
        ).toFixed(1),
      );
    const res = {
      scenario: "latency",
      date: new Date().toISOString(),
      code: CODE,
      loadBefore,
      loadAfter: load(),
      quiet,
      replicas,
      concurrency: CONCURRENCY,
      ips: pool.n,
      base: BASE,
      rate,
      durationS: DURATION_S,
      events: total,
      changes,
      achievedPublishPerS: Math.round(total / pubS),
      publishInflightMax: inflightMax,
      received: lat.length,
      missing: sent.size,
      drainAfterLastPublishS: Number(drainS.toFixed(2)),
      latencyMs: { p50: q(lat, 50), p90: q(lat, 90), p99: q(lat, 99), max: Number((lat.at(-1) ?? Number.NaN).toFixed(1)) },
      latencyFirstHalfMs: { p50: q(latByHalf[0], 50), p99: q(latByHalf[0], 99) },
      latencySecondHalfMs: { p50: q(latByHalf[1], 50), p99: q(latByHalf[1], 99) },
      // Per second of publishing: p99 of the events sent in it, and other work's CPU then.
      perSecond: latBySec.map((arr, i) => ({ s: i, p99Ms: arr ? q(arr, 99) : null, othersCores: othersBySec[i] })),
      // Events sent in seconds when other work took under 0.3 core (this second and the one before).
      latencyQuietSecondsMs: (() => {
        const quietLat = latBySec.flatMap((arr, i) => ((othersBySec[i] ?? 9) < 0.3 && (othersBySec[i - 1] ?? 0) < 0.3 ? (arr ?? []) : []));
        return {
          seconds: latBySec.filter((_, i) => (othersBySec[i] ?? 9) < 0.3 && (othersBySec[i - 1] ?? 0) < 0.3).length,
          events: quietLat.length,
          p50: q(quietLat, 50),
          p99: q(quietLat, 99),
        };
      })(),
      cpu: cpuUse,
      redis: {
        usedMemoryMb: redis1.usedMemoryMb,
        cpuSeconds: Number((redis1.cpuSeconds - redis0.cpuSeconds).toFixed(2)),
        scriptBusyShare: Number(((redis1.scriptUsec - redis0.scriptUsec) / 1e6 / cpuUse.wallS).toFixed(2)),
        evalsha: redis1.commands.evalsha,
      },
      natsVmHwmMb: natsHwm(env),
      ...alloc,
    };
    log(
      `  latency p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, max ${res.latencyMs.max} ms; missing ${res.missing}; CPU ${JSON.stringify(cpuUse.perProcessCores)}`,
    );
    return res;
  } finally {
    await env.dispose();
  }
}

// ---------------------------------------------------------------- main

function row(r) {
  const mem = Object.values(r.allocatorVmHwmMb ?? {}).join("/");
  const machine = `${r.loadBefore}; others ${r.cpu.othersCores}`;
  if (r.scenario === "throughput") {
    return `| ${r.date.slice(0, 16)} | ${machine} | ${r.replicas} | ${r.n} (${r.ips} IPs) | ${r.allocated} | ${r.elapsedS} | **${r.allocationsPerS}** | ${r.steadyAllocationsPerS} | ${r.applySeconds?.p50}/${r.applySeconds?.p99} | ${
      r.cpu.perProcessCores
        ? Object.entries(r.cpu.perProcessCores)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")
        : ""
    } | ${mem} | ${r.redis.usedMemoryMb} | ${r.natsVmHwmMb} |`;
  }
  return `| ${r.date.slice(0, 16)} | ${machine} | ${r.replicas} | ${r.rate} (${r.ips} IPs) | ${r.achievedPublishPerS} | ${r.received}/${r.events} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | **${r.latencyMs.p99}** | ${r.latencyMs.max} | ${r.latencyQuietSecondsMs.p99} (${r.latencyQuietSecondsMs.seconds} s) | ${r.eventLagSeconds?.p99} | ${Object.entries(
    r.cpu.perProcessCores,
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")} | ${mem} |`;
}

const results = [];
const budgetMin = 45 * Number(opts.repeat);
const hardStop = setTimeout(() => {
  log(`benchmark exceeded its ${budgetMin}-minute budget; exiting`);
  process.exit(3);
}, budgetMin * 60_000);
hardStop.unref();
try {
  if (opts.scenario === "throughput" || opts.scenario === "all") {
    for (let k = 0; k < Number(opts.repeat); k++)
      for (const pool of POOLS) for (const n of SIZES) for (const r of REPLICAS) results.push(await throughput(r, n, pool));
  }
  if (opts.scenario === "latency" || opts.scenario === "all") {
    for (let k = 0; k < Number(opts.repeat); k++)
      for (const pool of POOLS) for (const rate of RATES) for (const r of REPLICAS) results.push(await latency(r, rate, pool));
  }
} catch (err) {
  log(`benchmark failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
}
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
const tp = results.filter((r) => r.scenario === "throughput");
const lt = results.filter((r) => r.scenario === "latency");
if (tp.length) {
  console.log(
    "\n| date (UTC) | load 1/5/15; other work (cores) | replicas | N | allocated | seconds | allocations/s | steady 10–90% /s | apply p50/p99 | CPU cores by process | allocator VmHWM MB | Redis used MB | nats VmHWM MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of tp) console.log(row(r));
  console.log(
    "\n| replicas | IPs | allocations/s | machine busy / other work (cores) | CPU µs per allocation: allocators / Redis / NATS / bench | script calls per allocation | Redis µs in scripts per allocation |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const r of tp) {
    const p = r.perAllocation;
    console.log(
      `| ${r.replicas} | ${r.ips} | ${r.allocationsPerS} | ${r.cpu.machineBusyCores} / ${r.cpu.othersCores} | ${p.cpuUs.allocators} / ${p.cpuUs.redis} / ${p.cpuUs.nats} / ${p.cpuUs.bench} | ${p.scriptCalls} | ${p.redisScriptUs} |`,
    );
  }
}
if (lt.length) {
  console.log(
    "\n| date (UTC) | load 1/5/15; other work (cores) | replicas | events/s | achieved/s | received | p50 ms | p90 ms | p99 ms | max ms | p99 ms in quiet seconds | allocator lag p99 | CPU cores by process | allocator VmHWM MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of lt) console.log(row(r));
}
for (const r of results) {
  console.log(
    `\n<details><summary>${r.scenario} ${r.replicas} replica(s) ${r.n ?? `${r.rate}/s`}</summary>\n\n\`\`\`json\n${JSON.stringify({ ...r, profile: r.profile ? { ...r.profile, top: r.profile.top?.slice(0, 25) } : undefined }, null, 1)}\n\`\`\`\n</details>`,
  );
}
process.exit(process.exitCode ?? 0);
