#!/usr/bin/env node
// Redis-side cost of the allocator's Lua scripts alone (no NATS, no allocator process): the
// allocator benchmark's Services, claimed through the allocator's own SlotStore and planner
// (ledger.lua's begin, apply.lua in the pool's tag, ledger.lua's settle when one is due; then
// published.lua as the publisher does), 64 applies in flight, on a private
// redis-server. Shows what one allocation costs Redis's single thread, and how that grows
// with the number of IPs in the pool.
//
//   node allocator/lua-cost.mjs [--n 20000] [--ips 4,16,64] [--by-script] [--commands]
// (--commands: each Redis command's calls and µs per apply, those inside scripts included.)
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { objectKey } from "@sharedlb/contracts";
import { startRedis } from "@sharedlb/testing";
import { Redis } from "ioredis";
import { makeWorkload } from "./workload.mjs";

const entry = import.meta.resolve("@sharedlb/allocator");
const { SlotStore, resolvePolicy } = await import(entry);
const { planClaim } = await import(new URL("domain/request.js", entry).href);

const { values: opts } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    ips: { type: "string", default: "4,16,64" },
    "by-script": { type: "boolean", default: false },
    commands: { type: "boolean", default: false },
  },
});
const { luaScript } = await import(new URL("adapters/lua-scripts.js", entry).href);
/** sha1 → script name, for --by-script (SLOWLOG names a script by its EVALSHA digest). */
const SCRIPT_NAMES = new Map(
  readdirSync(new URL("../lua/", entry))
    .filter((f) => f.endsWith(".lua"))
    .map((f) => f.slice(0, -4))
    .map((name) => [createHash("sha1").update(luaScript(name)).digest("hex"), name]),
);

/**
 * --by-script: Redis's own time per script (SLOWLOG at 0 µs: every command, its duration and
 * its first arguments), in µs per allocation. Tracing costs Redis time itself: use the shares.
 * The commands a script runs are logged too, so the log is drained (read and reset in one
 * MULTI) every DRAIN_EVERY applies: a script-heavy pool filled it and lost the first calls.
 */
const DRAIN_EVERY = 500;
async function traceOn(redis) {
  await redis.config("SET", "slowlog-log-slower-than", "0");
  await redis.config("SET", "slowlog-max-len", "1000000");
  await redis.slowlog("RESET");
  return new Map();
}
async function traceDrain(redis, by) {
  const [[, entries]] = await redis.multi().slowlog("GET", -1).slowlog("RESET").exec();
  for (const [, , us, args] of entries) {
    const cmd = String(args[0]).toLowerCase();
    const name = cmd === "evalsha" ? (SCRIPT_NAMES.get(String(args[1])) ?? "evalsha ?") : cmd;
    const e = by.get(name) ?? { calls: 0, us: 0 };
    e.calls += 1;
    e.us += Number(us);
    by.set(name, e);
  }
}
async function traceBy(redis, by, n) {
  await traceDrain(redis, by);
  await redis.config("SET", "slowlog-log-slower-than", "10000");
  by.delete("slowlog");
  by.delete("multi");
  by.delete("exec");
  return Object.fromEntries(
    [...by].sort((a, b) => b[1].us - a[1].us).map(([k, e]) => [k, { callsPerAlloc: +(e.calls / n).toFixed(2), usPerAlloc: +(e.us / n).toFixed(1), usPerCall: +(e.us / e.calls).toFixed(1) }]),
  );
}
const N = Number(opts.n);

function info(text) {
  return Object.fromEntries(
    text
      .split("\r\n")
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]),
  );
}
async function snapshot(redis) {
  const cpu = info(await redis.info("cpu"));
  const cmd = info(await redis.info("commandstats"));
  const m = /calls=(\d+),usec=(\d+)/.exec(cmd.cmdstat_evalsha ?? "") ?? [0, 0, 0];
  /** Every command's calls and µs (those run inside scripts included), for --commands. */
  const byCommand = new Map();
  for (const [k, v] of Object.entries(cmd)) {
    const c = /calls=(\d+),usec=(\d+)/.exec(v);
    if (k.startsWith("cmdstat_") && c) byCommand.set(k.slice(8), { calls: Number(c[1]), usec: Number(c[2]) });
  }
  return { cpuS: Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys), calls: Number(m[1]), usec: Number(m[2]), byCommand };
}
/** --commands: calls and µs per apply of each command between two snapshots, most time first. */
function commandsBetween(s0, s1, n) {
  const out = [];
  for (const [name, e] of s1.byCommand) {
    const b = s0.byCommand.get(name) ?? { calls: 0, usec: 0 };
    if (e.calls > b.calls && name !== "evalsha" && name !== "info") out.push([name, { callsPerApply: +((e.calls - b.calls) / n).toFixed(2), usPerApply: +((e.usec - b.usec) / n).toFixed(1) }]);
  }
  return Object.fromEntries(out.sort((x, y) => y[1].usPerApply - x[1].usPerApply));
}
async function inFlight(items, limit, fn) {
  const running = new Set();
  for (const it of items) {
    const p = fn(it).then(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}

/** n IPs: a range for small pools, a CIDR block (n a power of two) for large ones. */
function poolAddresses(n) {
  if (n <= 254) return `198.51.100.1-198.51.100.${n}`;
  const bits = Math.log2(n);
  if (!Number.isInteger(bits)) throw new Error(`--ips ${n}: pools over 254 IPs must be a power of two`);
  return `10.0.0.0/${32 - bits}`;
}

const rows = [];
for (const ipCount of opts.ips.split(",").map(Number)) {
  const server = await startRedis();
  const redis = new Redis(server.url, { enableAutoPipelining: true });
  try {
    const policy = resolvePolicy({
      pools: [{ name: "public", addresses: [poolAddresses(ipCount)], ports: "1-65535", clusters: ["*"], namespaces: ["*"] }],
      defaultPool: "public",
      releaseDelaySeconds: 30,
      purgeAfterSeconds: 3600,
    });
    const store = new SlotStore(redis, undefined, [...policy.pools.keys()]);
    // A fresh slot table, as the allocator marks it at start (nothing to re-import).
    if (typeof store.markReady === "function") await store.markReady();
    // The allocator writes each pool's IP index at start, before it claims anything.
    for (const pool of policy.pools.values()) await store.ensurePoolIndex(pool.name, pool.ips);
    const gen = makeWorkload(N);
    const services = Array.from({ length: N }, (_, i) => gen(i));
    let argBytes = 0;
    const records = [];
    const trace = opts["by-script"] ? await traceOn(redis) : undefined;
    const s0 = await snapshot(redis);
    const t0 = performance.now();
    let applied = 0;
    await inFlight(services, 64, async (svc) => {
      if (trace && ++applied % DRAIN_EVERY === 0) await traceDrain(redis, trace);
      const plan = planClaim(svc, policy);
      const args = {
        owner: objectKey(svc.cluster, svc.namespace, svc.name),
        cluster: svc.cluster,
        namespace: svc.namespace,
        name: svc.name,
        uid: svc.uid,
        seq: records.length + 1,
        now: Date.now(),
        releaseDelayMs: 30_000,
      };
      const change =
        plan.kind === "claim"
          ? { mode: "claim", request: plan.request, resource: svc }
          : { mode: "reject", rejection: plan.rejection, resource: svc };
      // What travels to Redis: the pool's IPs stay in its index, only a pinned IP is sent.
      const request = change.mode === "claim" && !change.request.pinned ? { ...change.request, ips: [] } : change.request;
      argBytes += JSON.stringify({ ...args, ...change, request }).length;
      const res = await store.apply(args, change);
      records.push(res.record);
    });
    const t1 = performance.now();
    const s1 = await snapshot(redis);
    await inFlight(records, 64, (rec) => store.markPublished(rec.owner, rec.version, 1));
    const t2 = performance.now();
    const s2 = await snapshot(redis);
    const byScript = trace ? await traceBy(redis, trace, N) : undefined;
    const recordBytes = await redis.strlen(`${store.poolPrefix("public")}svc:${records[0].owner}`);
    const allocated = records.filter((r) => r.state === "Allocated").length;
    const row = {
      ips: ipCount,
      n: N,
      allocated,
      applyPerS: Math.round(N / ((t1 - t0) / 1000)),
      // Script calls per apply: the ledger's steps (global tag) around apply.lua (pool tag);
      // the SlotStore sends those due together in one call each, so with 64 in flight it is
      // far below one per script.
      scriptsPerApply: Number(((s1.calls - s0.calls) / N).toFixed(2)),
      applyUsPerCall: Number(((s1.usec - s0.usec) / (s1.calls - s0.calls)).toFixed(1)),
      applyRedisCpuUs: Number((((s1.cpuS - s0.cpuS) * 1e6) / N).toFixed(1)),
      publishedPerS: Math.round(N / ((t2 - t1) / 1000)),
      publishedUsPerCall: Number(((s2.usec - s1.usec) / (s2.calls - s1.calls)).toFixed(1)),
      publishedRedisCpuUs: Number((((s2.cpuS - s1.cpuS) * 1e6) / N).toFixed(1)),
      argBytes: Math.round(argBytes / N),
      recordBytes,
      load: loadavg()
        .map((x) => x.toFixed(2))
        .join(" "),
      ...(byScript ? { byScript } : {}),
      ...(opts.commands ? { commands: commandsBetween(s0, s1, N) } : {}),
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  } finally {
    redis.disconnect();
    await server.dispose();
  }
}
console.log(
  "\n| IPs in pool | Services | allocated | applies/s (64 in flight) | script calls per apply | µs per script call (Redis) | Redis CPU µs per apply | published.lua µs/call | Redis CPU µs per published | ARGV bytes | record bytes | load 1/5/15 |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.ips} | ${r.n} | ${r.allocated} | ${r.applyPerS} | ${r.scriptsPerApply} | ${r.applyUsPerCall} | ${r.applyRedisCpuUs} | ${r.publishedUsPerCall} | ${r.publishedRedisCpuUs} | ${r.argBytes} | ${r.recordBytes} | ${r.load} |`,
  );
}
process.exit(0);
