#!/usr/bin/env node
// Tenant-side benchmark: Service created through the Kubernetes API → status written back
// (ingress, condition, annotation), for N Services created at once, and Service deleted →
// its slots free. Everything real: kube-apiserver + etcd (tools/envtest), nats-server,
// redis-server, and sharedlb-watcher, sharedlb-allocator and sharedlb-status-reporter as
// OS processes through their real command lines, the tenant services with the
// ServiceAccounts and RBAC of deploy/k8s/tenant.
//
//   node tenant/tenant-bench.mjs                    # N = 1000, 3 runs
//   node tenant/tenant-bench.mjs --n 1000,3000 --repeat 1 --json results/raw/tenant.json
//
// Flags (all optional):
//   --n 1000                 Services per run (comma-separated: several runs)
//   --repeat 3               runs per N (each in a fresh world: own apiserver, NATS, Redis)
//   --create-concurrency 64  create/delete requests in flight from this script
//   --reporter-concurrency 64  the status-reporter's --concurrency
//   --quiet-wait 120         before each run, wait up to this many seconds for the machine to
//                            be quiet (other work under 0.5 core for 3 s); the machine is shared
//   --json FILE              also write every result as JSON
//
// Per Service, the script records when its create call returned, when the watcher's
// resource event, the allocator's allocation and the reporter's status report arrived
// (core NATS subscriptions in this process, so one clock), and when a watch on the
// Services showed the written status. The stage latencies say where the time goes.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoreV1Api, KubernetesObjectApi, loadAllYaml, Watch } from "@kubernetes/client-node";
import { PooledKubeConfig } from "@sharedlb/kube";
import { connect } from "@nats-io/transport-node";
import { startNats, startProcess, startRedis, waitFor } from "@sharedlb/testing";
import { startKubeApiserver } from "@sharedlb/testing/kube";
import { Redis } from "ioredis";
import { children, log, machineCpu, now, pct, sleep } from "../lib/host.mjs";

// Reuse the allocator's own launcher (its real command line) rather than a copy of it.
// Node 24 strips the types of this test-only TypeScript file (it is not shipped in dist).
const testSupport = new URL("../../services/allocator/src/test-support/allocator-process.ts", import.meta.url);
const { startAllocator, writePoolFile } = await import(testSupport.href);

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WATCHER_MAIN = join(ROOT, "services/watcher/dist/main.js");
const REPORTER_MAIN = join(ROOT, "services/status-reporter/dist/main.js");
const MANIFESTS = join(ROOT, "deploy/k8s/tenant");
const SYSTEM_NS = "sharedlb-system";
const CLUSTER = "bench";
const NS = "bench";
const POOL = "bench";

const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    n: { type: "string", default: "1000" },
    repeat: { type: "string", default: "3" },
    "create-concurrency": { type: "string", default: "64" },
    "reporter-concurrency": { type: "string", default: "64" },
    "quiet-wait": { type: "string", default: "120" },
    json: { type: "string" },
  },
});
const SIZES = opts.n
  .split(",")
  .map(Number)
  .filter((x) => x > 0);
const REPEAT = Number(opts.repeat);
const CREATE_CONCURRENCY = Number(opts["create-concurrency"]);


// ---------------------------------------------------------------- measurement helpers

const TICK = 100; // USER_HZ
const CORES = 2;

/** CPU used during a window, per child process (in cores: CPU seconds / wall seconds). */
function cpuWindow(names) {
  const t0 = now();
  const m0 = machineCpu();
  const c0 = children();
  const self0 = process.cpuUsage();
  return () => {
    const wall = (now() - t0) / 1000;
    const m1 = machineCpu();
    const per = {};
    for (const [pid, st] of children()) {
      const name = names.get(pid) ?? st.comm;
      per[name] = Number(((st.ticks - (c0.get(pid)?.ticks ?? 0)) / TICK / wall).toFixed(2));
    }
    const self = process.cpuUsage(self0);
    per.bench = Number(((self.user + self.system) / 1e6 / wall).toFixed(2));
    const busy = 1 - (m1.idle - m0.idle) / Math.max(1, m1.total - m0.total);
    const ours = Object.values(per).reduce((a, b) => a + b, 0);
    return {
      wallS: Number(wall.toFixed(2)),
      machineBusyCores: Number((busy * CORES).toFixed(2)),
      othersCores: Number(Math.max(0, busy * CORES - ours).toFixed(2)),
      perProcessCores: per,
    };
  };
}

async function waitQuiet() {
  const until = now() + Number(opts["quiet-wait"]) * 1000;
  let quietFor = 0;
  let busy = 0;
  while (now() < until) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    busy = CORES * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total));
    quietFor = busy < 0.5 ? quietFor + 1 : 0;
    if (quietFor >= 3) break;
  }
  return { busyCoresBefore: Number(busy.toFixed(2)), quiet: quietFor >= 3 };
}

function stats(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const r = (v) => Math.round(v);
  return { n: s.length, p50: r(pct(s, 50)), p90: r(pct(s, 90)), p99: r(pct(s, 99)), max: r(s.at(-1) ?? Number.NaN) };
}

/** `histogram_bucket` lines of one metric from Prometheus text → {le: count}, plus sum and count. */
function histogram(text, name) {
  const h = { buckets: [], sum: 0, count: 0 };
  for (const line of text.split("\n")) {
    let m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)`).exec(line);
    if (m) h.buckets.push([m[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
    m = new RegExp(`^${name}_(sum|count)(?:\\{[^}]*\\})? (\\S+)`).exec(line);
    if (m) h[m[1]] = Number(m[2]);
  }
  return h;
}
function histQuantileMs(h, q) {
  const target = q * h.count;
  for (const [le, c] of h.buckets) if (c >= target) return Number.isFinite(le) ? le * 1000 : Number.NaN;
  return Number.NaN;
}
function counter(text, name) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)`).exec(line);
    if (m) out[m[1].replace(/service="[^"]*",?/, "")] = Number(m[2]);
  }
  return out;
}
async function metricsOf(proc) {
  const m = proc.output().match(/"http":"([^"]+)"/);
  if (!m) return "";
  return (await fetch(`http://${m[1]}/metrics`)).text();
}

async function inFlight(items, limit, fn) {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const CODE = (() => {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "services/watcher", "services/status-reporter", "services/allocator", "libs").length > 0;
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? "+uncommitted" : ""}`;
  } catch {
    return "unknown";
  }
})();

// ---------------------------------------------------------------- the world

async function applyRbac(kc) {
  const kinds = new Set(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const file of readdirSync(MANIFESTS)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith("kustomization"))
    .sort()) {
    for (const obj of loadAllYaml(readFileSync(join(MANIFESTS, file), "utf8"))) {
      if (!obj?.kind || !kinds.has(obj.kind)) continue;
      if (!["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(obj.kind)) obj.metadata.namespace ??= SYSTEM_NS;
      await api.create(obj);
    }
  }
}

async function startWorld(n) {
  // The default NodePort range (30000-32767) holds 2,768 ports: too few past ~1,800 Services here.
  const kubeOpts = { extraApiserverArgs: ["--service-node-port-range=10000-60000"] };
  const [kube, nats, redis] = await Promise.all([startKubeApiserver(kubeOpts), startNats(), startRedis()]);
  const procs = [];
  const names = new Map();
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop(5000).catch(() => undefined);
    await Promise.all([nats.dispose(), redis.dispose(), kube.stop()]);
  };
  try {
    // The same connection reuse as the services, so the script's own requests stay cheap.
    const kc = new PooledKubeConfig();
    kc.loadFromString(kube.adminKubeconfig);
    await applyRbac(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const [watcherKc, reporterKc] = await Promise.all([
      kube.kubeconfigFor(SYSTEM_NS, "sharedlb-watcher"),
      kube.kubeconfigFor(SYSTEM_NS, "sharedlb-status-reporter"),
    ]);
    for (const sa of ["sharedlb-watcher", "sharedlb-status-reporter"]) {
      const token = await kube.tokenFor(SYSTEM_NS, sa);
      await waitFor(`RBAC of ${sa}`, async () => (await kube.request("/api/v1/services?limit=1", { token })).status === 200, 20_000);
    }
    // Enough room for every Service on its own ports: 16 IPs × 64,512 ports per protocol.
    const pools = `pools:\n  - name: ${POOL}\n    addresses: ["198.51.100.0/28"]\n    ports: "1024-65535"\ndefaultPool: ${POOL}\nreleaseDelaySeconds: 0\nquotas:\n  default: { services: ${n * 2}, ports: ${n * 4} }\n`;
    const allocator = await startAllocator({ config: writePoolFile(pools), natsUrl: nats.url, redisUrl: redis.url, replica: "a1" });
    procs.push(allocator);
    names.set(allocator.child.pid, "allocator");
    const common = ["--cluster", CLUSTER, "--nats-url", nats.url, "--log-level", "info", "--http-addr", "127.0.0.1:0"];
    const watcher = startProcess(process.execPath, [WATCHER_MAIN, ...common, "--kubeconfig", watcherKc, "--replica", "w1"]);
    procs.push(watcher);
    names.set(watcher.child.pid, "watcher");
    const reporter = startProcess(process.execPath, [
      REPORTER_MAIN,
      ...common,
      "--kubeconfig",
      reporterKc,
      "--replica",
      "r1",
      "--concurrency",
      opts["reporter-concurrency"],
    ]);
    procs.push(reporter);
    names.set(reporter.child.pid, "status-reporter");
    // Ready and leading: the first sync is done and the lease is held.
    for (const [p, what] of [
      [watcher, "watcher"],
      [reporter, "status-reporter"],
    ]) {
      await p.waitForOutput(/"http":"[^"]+"/, 30_000);
      const addr = p.output().match(/"http":"([^"]+)"/)[1];
      await waitFor(
        `${what} ready`,
        async () => (await fetch(`http://${addr}/readyz`)).status === 200 && (await metricsOf(p)).includes("_leader 1"),
        60_000,
      );
    }
    for (const [pid, st] of children()) {
      if (names.has(pid)) continue;
      if (st.comm.startsWith("kube-apiserver")) names.set(pid, "kube-apiserver");
      else if (st.comm === "etcd") names.set(pid, "etcd");
      else if (st.comm.startsWith("nats-server")) names.set(pid, "nats-server");
      else if (st.comm.startsWith("redis-server")) names.set(pid, "redis-server");
    }
    /** Stops the watcher and starts a new one (same flags); resolves when it has started. */
    const restartWatcher = async (replica) => {
      await procs.find((p) => p === world.watcher)?.stop(5000);
      const p = startProcess(process.execPath, [WATCHER_MAIN, ...common, "--kubeconfig", watcherKc, "--replica", replica]);
      procs.push(p);
      names.set(p.child.pid, "watcher");
      world.watcher = p;
      return p;
    };
    const world = { kube, kc, core, nats, redis, watcher, reporter, allocator, names, stop, restartWatcher };
    return world;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Arrival times (ms, this process's clock) of each Service's events on NATS. */
async function observeNats(url) {
  const nc = await connect({ servers: url });
  const seen = { resource: new Map(), allocated: new Map(), released: new Map(), report: new Map() };
  const dec = new TextDecoder();
  const sub = (subject, on) => {
    const s = nc.subscribe(subject);
    void (async () => {
      for await (const m of s) on(m.subject.split(".").at(-1), JSON.parse(dec.decode(m.data)), now());
    })();
  };
  sub(`lb.resource.${CLUSTER}.service.${NS}.*`, (name, ev, t) => {
    if (ev.type === "io.sharedlb.service.v1" && !seen.resource.has(name)) seen.resource.set(name, t);
  });
  sub(`lb.allocation.${CLUSTER}.${NS}.*`, (name, ev, t) => {
    if (ev.data.state === "Allocated" && !seen.allocated.has(name)) seen.allocated.set(name, t);
    if (ev.data.state === "Released" && !seen.released.has(name)) seen.released.set(name, t);
  });
  sub(`lb.status.${CLUSTER}.${NS}.*`, (name, ev, t) => {
    if (ev.data.outcome === "Written" && ev.data.condition.status === "True" && !seen.report.has(name)) seen.report.set(name, t);
  });
  await nc.flush();
  return { seen, close: () => nc.close() };
}

/**
 * Arrival times of each Service's written status, from a watch on the namespace's Services.
 * client-node ends a watch after 30 s without data (and on any error): it is re-established
 * from the last resourceVersion seen, so no change is missed.
 */
async function observeStatus(kc) {
  const written = new Map();
  const watch = new Watch(kc);
  let rv = "";
  let req;
  let closed = false;
  let restarts = 0;
  const onEvent = (type, obj) => {
    if (type === "BOOKMARK" || type === "ERROR") return;
    rv = obj.metadata?.resourceVersion ?? rv;
    const name = obj.metadata?.name;
    const ok =
      obj.status?.loadBalancer?.ingress?.[0]?.ipMode === "Proxy" &&
      (obj.status?.conditions ?? []).some((c) => c.type === "sharedlb.io/Allocated" && c.status === "True") &&
      obj.metadata?.annotations?.["sharedlb.io/allocated-ports"];
    if (ok && !written.has(name)) written.set(name, now());
  };
  const start = async () => {
    req = await watch.watch(`/api/v1/namespaces/${NS}/services`, rv ? { resourceVersion: rv } : {}, onEvent, (err) => {
      if (closed) return;
      restarts++;
      if (err && err.name !== "TimeoutError") log(`status watch ended (${err.message ?? err}), re-watching from ${rv}`);
      void start();
    });
  };
  await start();
  return {
    written,
    restarts: () => restarts,
    close: () => {
      closed = true;
      req?.abort();
    },
  };
}

// ---------------------------------------------------------------- one run

async function run(n, attempt) {
  const quiet = await waitQuiet();
  log(`run n=${n} #${attempt}: starting the world`);
  const w = await startWorld(n);
  const natsObs = await observeNats(w.nats.url);
  const statusObs = await observeStatus(w.kc);
  try {
    const names = Array.from({ length: n }, (_, i) => `svc-${String(i).padStart(5, "0")}`);
    const created = new Map();
    const sent = new Map();
    log(`creating ${n} Services`);
    const cpuCreate = cpuWindow(w.names);
    const t0 = now();
    await inFlight(names, CREATE_CONCURRENCY, async (name) => {
      const i = Number(name.slice(4));
      sent.set(name, now());
      await w.core.createNamespacedService({
        namespace: NS,
        body: {
          metadata: { name, annotations: { "sharedlb.io/port-policy": "any" } },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: "sharedlb.io/envoy",
            selector: { app: name },
            ports:
              i % 2 === 0
                ? [{ name: "http", port: 80 }]
                : [
                    { name: "http", port: 80 },
                    { name: "https", port: 443 },
                  ],
          },
        },
      });
      created.set(name, now());
    });
    const createdAllMs = now() - t0;
    await waitFor("every Service's status written", () => statusObs.written.size >= n || undefined, 300_000, 50).catch((err) => {
      throw new Error(
        `${err.message} (${statusObs.written.size} seen, ${natsObs.seen.report.size} reports, ${natsObs.seen.allocated.size} allocated, ${natsObs.seen.resource.size} resources)`,
      );
    });
    const allWrittenMs = now() - t0;
    const createCpu = cpuCreate();
    const reporterText = await metricsOf(w.reporter);
    const allocatorText = await metricsOf(w.allocator);

    const lat = (to, from) => names.map((x) => (to.get(x) ?? Number.NaN) - (from.get(x) ?? Number.NaN));
    const create = {
      createdAllMs: Math.round(createdAllMs),
      allWrittenMs: Math.round(allWrittenMs),
      createCallMs: stats(lat(created, sent)),
      createdToStatusMs: stats(lat(statusObs.written, created)),
      stages: {
        "created → resource event (watcher)": stats(lat(natsObs.seen.resource, created)),
        "resource event → Allocated (allocator)": stats(lat(natsObs.seen.allocated, natsObs.seen.resource)),
        "Allocated → status report (reporter write)": stats(lat(natsObs.seen.report, natsObs.seen.allocated)),
        "status report → seen by a watch": stats(lat(statusObs.written, natsObs.seen.report)),
      },
      reporter: {
        writeMs: (() => {
          const h = histogram(reporterText, "sharedlb_status_reporter_write_seconds");
          return {
            count: h.count,
            meanMs: Math.round((h.sum / Math.max(1, h.count)) * 1000),
            p50leMs: histQuantileMs(h, 0.5),
            p99leMs: histQuantileMs(h, 0.99),
          };
        })(),
        passes: counter(reporterText, "sharedlb_status_reporter_passes_total"),
        events: counter(reporterText, "sharedlb_status_reporter_events_total"),
      },
      allocatorApplyMs: (() => {
        const h = histogram(allocatorText, "sharedlb_allocator_apply_seconds");
        return { count: h.count, meanMs: Math.round((h.sum / Math.max(1, h.count)) * 1000), p99leMs: histQuantileMs(h, 0.99) };
      })(),
      cpu: createCpu,
    };
    log(
      `created in ${create.createdAllMs} ms, all written after ${create.allWrittenMs} ms; p50 ${create.createdToStatusMs.p50} p99 ${create.createdToStatusMs.p99}`,
    );

    // ---- deletion → slots free
    const redis = new Redis(w.redis.url);
    const own = async () => {
      const keys = await redis.keys("sharedlb:alloc:{p:*}:own:*");
      let total = 0;
      for (const k of keys) total += await redis.hlen(k);
      return total;
    };
    const slotsBefore = await own();
    const deleteSent = new Map();
    log(`deleting ${n} Services (${slotsBefore} slots held)`);
    const cpuDelete = cpuWindow(w.names);
    const d0 = now();
    await inFlight(names, CREATE_CONCURRENCY, async (name) => {
      // From the request: the watch event can arrive before the response does.
      deleteSent.set(name, now());
      await w.core.deleteNamespacedService({ name, namespace: NS });
    });
    const deletedAllMs = now() - d0;
    await waitFor("every allocation Released", () => natsObs.seen.released.size >= n || undefined, 300_000, 50);
    const releasedAllMs = now() - d0;
    await waitFor("every slot free", async () => (await own()) === 0 || undefined, 60_000, 50);
    const slotsFreeMs = now() - d0;
    redis.disconnect();
    const del = {
      slotsBefore,
      deletedAllMs: Math.round(deletedAllMs),
      releasedAllMs: Math.round(releasedAllMs),
      slotsFreeAllMs: Math.round(slotsFreeMs),
      deleteSentToReleasedMs: stats(lat(natsObs.seen.released, deleteSent)),
      cpu: cpuDelete(),
    };
    log(`deleted in ${del.deletedAllMs} ms, all released after ${del.releasedAllMs} ms, slots free after ${del.slotsFreeAllMs} ms`);

    // ---- backlog: N Services created while no watcher runs, then one starts
    const backlogNames = names.map((x) => `bl-${x.slice(4)}`);
    await w.watcher.stop(5000);
    log(`creating ${n} Services with the watcher stopped`);
    await inFlight(backlogNames, CREATE_CONCURRENCY, (name) =>
      w.core.createNamespacedService({
        namespace: NS,
        body: {
          metadata: { name, annotations: { "sharedlb.io/port-policy": "any" } },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: "sharedlb.io/envoy",
            selector: { app: name },
            ports: [{ name: "http", port: 80 }],
          },
        },
      }),
    );
    const cpuBacklog = cpuWindow(w.names);
    const b0 = now();
    const watcher = await w.restartWatcher("w2");
    await waitFor(
      "every backlog Service's status written",
      () => backlogNames.every((x) => statusObs.written.has(x)) || undefined,
      300_000,
      50,
    ).catch((err) => {
      const tail = (p) => p.output().split("\n").slice(-15).join("\n");
      throw new Error(`${err.message}\nwatcher:\n${tail(watcher)}\nreporter:\n${tail(w.reporter)}`);
    });
    const backlogAllMs = now() - b0;
    const sinceStart = backlogNames.map((x) => (statusObs.written.get(x) ?? Number.NaN) - b0);
    const watcherReady = Number(/"ms":(\d+),"msg":"informers synced"/.exec(watcher.output())?.[1] ?? Number.NaN);
    const backlog = {
      watcherStartToAllWrittenMs: Math.round(backlogAllMs),
      watcherStartToWrittenMs: stats(sinceStart),
      informersSyncedMs: watcherReady,
      throughputPerS: Math.round(n / (backlogAllMs / 1000)),
      cpu: cpuBacklog(),
    };
    log(`backlog of ${n}: all written ${backlog.watcherStartToAllWrittenMs} ms after the watcher started (${backlog.throughputPerS}/s)`);
    return { n, attempt, code: CODE, load: loadavg().map((x) => Number(x.toFixed(2))), quiet, create, delete: del, backlog };
  } finally {
    statusObs.close();
    await natsObs.close();
    await w.stop();
  }
}

// ---------------------------------------------------------------- main

// process.exit runs the 'exit' handlers of @sharedlb/testing, which kill every server and
// service this script started; a bare signal would leave them running.
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

const results = [];
const budget = setTimeout(() => {
  log("time budget exceeded, exiting");
  process.exit(3);
}, 60 * 60_000);
budget.unref();
try {
  for (const n of SIZES) for (let i = 1; i <= REPEAT; i++) results.push(await run(n, i));
} finally {
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
}
const fmt = (s) => `${s.p50} / ${s.p90} / ${s.p99} / ${s.max}`;
console.log(
  "| N | # | create all (ms) | created → status p50/p90/p99/max (ms) | all written (ms) | delete sent → Released p50/p90/p99/max (ms) | all slots free (ms) | other work (cores) |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.n} | ${r.attempt} | ${r.create.createdAllMs} | ${fmt(r.create.createdToStatusMs)} | ${r.create.allWrittenMs} | ${fmt(r.delete.deleteSentToReleasedMs)} | ${r.delete.slotsFreeAllMs} | ${r.create.cpu.othersCores} |`,
  );
}
console.log(
  "\n| N | # | backlog: watcher start → all written (ms) | → each written p50/p90/p99/max (ms) | Services/s | other work (cores) |",
);
console.log("|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.n} | ${r.attempt} | ${r.backlog.watcherStartToAllWrittenMs} | ${fmt(r.backlog.watcherStartToWrittenMs)} | ${r.backlog.throughputPerS} | ${r.backlog.cpu.othersCores} |`,
  );
}
for (const r of results) {
  console.log(`\nN=${r.n} #${r.attempt} stages (p50 / p90 / p99 / max ms):`);
  for (const [k, v] of Object.entries(r.create.stages)) console.log(`  ${k.padEnd(44)} ${fmt(v)}`);
  console.log(
    `  reporter write (histogram): mean ${r.create.reporter.writeMs.meanMs} ms, p50 ≤ ${r.create.reporter.writeMs.p50leMs} ms, p99 ≤ ${r.create.reporter.writeMs.p99leMs} ms`,
  );
  console.log(`  CPU cores during create: ${JSON.stringify(r.create.cpu.perProcessCores)}; machine busy ${r.create.cpu.machineBusyCores}`);
  console.log(
    `  CPU cores during the backlog: ${JSON.stringify(r.backlog.cpu.perProcessCores)}; machine busy ${r.backlog.cpu.machineBusyCores}`,
  );
}
process.exit(0);
