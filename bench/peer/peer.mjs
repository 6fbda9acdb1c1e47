// Peer benchmark (issue 11): sharedlb's xds-gateway against go-control-plane's
// SnapshotCache and muxed LinearCaches, serving the same resources to the same load client.
//   node bench/peer/peer.mjs [--cases l4,rds] [--streams 100,500] [--protocols sotw,delta]
//                            [--servers snapshot,linear,sharedlb] [--services 10000] [--clusters 20]
//                            [--routes 1000] [--ips 4] [--service-pairs 2] [--quick] [--record [FILE]]
// With no options it runs the whole matrix; --record appends the run's tables to
// results/peer.md. --quick is a smoke run of every case, server and protocol on a small
// fixture (1,000 Services, 200 HTTPRoutes, 10 streams; explicit options still win).
// See bench/README.md ("peer") for what is measured and how.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { changeWatch, connectStreams, EDS, holdsAll, RDS } from "../lib/ads-load.mjs";
import { log, machineCpu, pct, procStat, vmHwmMb } from "../lib/host.mjs";
import { capture } from "./capture.mjs";
import { buildPeerServer, startPeerServer } from "./peer-server.mjs";
import { startRdsWorld } from "./rds-world.mjs";
import { renderRun } from "./table.mjs";
import { startWorld } from "./world.mjs";

const list = (s) => s.split(",").filter(Boolean);
const DEFAULTS = {
  cases: "l4,rds",
  services: "10000",
  clusters: "20",
  routes: "1000",
  ips: "4",
  streams: "100,500",
  protocols: "sotw,delta",
  servers: "snapshot,linear,sharedlb",
  "service-pairs": "2",
  "max-rss-mib": "8192",
  "sync-timeout": "300",
  "change-timeout": "120",
  skip: "",
  json: new URL("../results/raw/peer.json", import.meta.url).pathname,
  "record-file": new URL("../results/peer.md", import.meta.url).pathname,
};
/** What --quick changes: the fixture's size and the streams, never which cases, servers or protocols run. */
const QUICK = { services: "1000", routes: "200", streams: "10", json: join(tmpdir(), "sharedlb-peer-quick.json") };
const { values: given } = parseArgs({
  options: {
    ...Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, { type: "string" }])),
    record: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
const values = { ...DEFAULTS, ...(given.quick ? QUICK : {}), ...given };
const MAX_RSS = Number(values["max-rss-mib"]);
const SYNC_TIMEOUT_MS = Number(values["sync-timeout"]) * 1000;
const CHANGE_TIMEOUT_MS = Number(values["change-timeout"]) * 1000;
/** `case:server:protocol:streams` rows not to run, e.g. l4:snapshot:sotw:500. */
const SKIP = new Set(list(values.skip));
const wallClock = () => performance.timeOrigin + performance.now();

if (values.quick && values.record) throw new Error("--quick is a smoke run: it is not recorded (leave out --record)");
const WORLDS = {
  l4: () =>
    startWorld({ services: Number(values.services), clusters: Number(values.clusters), servicePairs: Number(values["service-pairs"]) }),
  rds: () => startRdsWorld({ routes: Number(values.routes), tenants: Number(values.clusters), ips: Number(values.ips) }),
};

async function until(what, check, timeoutMs, pid) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    if ((vmHwmMb(pid) ?? 0) > MAX_RSS) throw new Error(`server RSS above ${MAX_RSS} MiB during ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until no stream received anything for `quietMs` (bounded): the change's last bytes are in. */
async function quiet(streamLog, quietMs = 300, maxMs = 10_000) {
  const start = Date.now();
  for (;;) {
    const last = Math.max(...streamLog.map((l) => l.at(-1)?.t ?? 0));
    if (wallClock() - last >= quietMs || Date.now() - start > maxMs) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The server's CPU ticks once it has used at most one more in 200 ms (its work for the last
 * change done: sharedlb's lb.programmed reports come after the ACKs), or after 3 s. The
 * next change then starts on an idle server, whichever server it is.
 */
async function settled(pid) {
  const deadline = Date.now() + 3_000;
  let last = procStat(pid)?.ticks;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = procStat(pid)?.ticks;
    if (now === undefined || last === undefined || now - last <= 1 || Date.now() > deadline) return now;
    last = now;
  }
}

/**
 * Stream `entries`' responses of `typeUrl` after `from`: when the last arrived (a burst
 * the server split over several responses has reached the stream with its last one),
 * bytes of every type, and resources of `typeUrl`.
 */
function received(entries, from, typeUrl) {
  let last;
  let bytes = 0;
  let resources = 0;
  for (let k = from; k < entries.length; k++) {
    bytes += entries[k].bytes;
    if (entries[k].typeUrl !== typeUrl) continue;
    last = entries[k].t;
    resources += entries[k].resources;
  }
  return { last, bytes, resources };
}

async function runConfig({ world, bin, captureDir, counts, server, protocol, streams }) {
  const rowStarted = Date.now();
  const cpu0 = machineCpu();
  const load0 = loadavg()[0];
  const srv =
    server === "sharedlb" ? await world.startGateway({ MALLOC_MMAP_THRESHOLD_: "65536" }) : await startPeerServer(bin, server, captureDir);
  const [names, routes] = [world.subscribe[EDS] ?? [], world.subscribe[RDS] ?? []];
  const t0 = wallClock();
  const ticks0 = procStat(srv.pid)?.ticks;
  const load = connectStreams({ address: srv.address, protocol, streams, names, routes });
  const out = { case: world.name, server, protocol, streams, changes: [] };
  try {
    await until("first sync", () => load.log.every((l) => holdsAll(l, counts)), SYNC_TIMEOUT_MS, srv.pid);
    out.firstSyncS = +((wallClock() - t0) / 1000).toFixed(1);
    // The server's own CPU for the first sync (Linux ticks are 10 ms): on a busy machine
    // this says more than the wall time.
    const ticks1 = procStat(srv.pid)?.ticks;
    if (ticks0 !== undefined && ticks1 !== undefined) out.firstSyncServerCpuS = +((ticks1 - ticks0) / 100).toFixed(1);
    await quiet(load.log);
    for (let k = 0; k < world.changes.length; k++) {
      const marks = load.log.map((l) => l.length);
      const change = world.changes[k];
      const work0 = await srv.work?.();
      const cpu0 = procStat(srv.pid)?.ticks;
      const client0 = process.cpuUsage();
      const tc = server === "sharedlb" ? await world.publishChange(k) : await srv.apply(k);
      const watches = load.log.map((l, i) => changeWatch(l, marks[i], protocol, change.expect, change.typeUrl));
      await until(`change ${k}`, () => watches.every((seen) => seen() !== undefined), CHANGE_TIMEOUT_MS, srv.pid);
      await quiet(load.log);
      const got = load.log.map((l, i) => received(l, marks[i], change.typeUrl));
      const lat = got.map((g) => g.last - tc).sort((a, b) => a - b);
      const cpu1 = await settled(srv.pid);
      const client = process.cpuUsage(client0);
      const work1 = await srv.work?.();
      if (process.env.PEER_DEBUG) {
        const work = work0 && work1 ? ` ${JSON.stringify(gatewayWork(work0, work1))}` : "";
        log(`change ${k} ${change.kind}: min ${lat[0]?.toFixed(1)} p50 ${pct(lat, 50)?.toFixed(1)} p90 ${pct(lat, 90)?.toFixed(1)} max ${lat.at(-1)?.toFixed(1)} ms${work}`);
      }
      const perStream = (f) => Math.round(got.reduce((a, g) => a + f(g), 0) / streams);
      out.changes.push({
        kind: change.kind,
        ...(work0 && work1 ? { gateway: gatewayWork(work0, work1) } : {}),
        p99ms: pct(lat, 99),
        maxms: lat.at(-1),
        // The server's CPU from the change until its streams were quiet again (10 ms ticks):
        // what serving one change costs, reports and ACKs included.
        ...(cpu0 !== undefined && cpu1 !== undefined ? { serverCpuMs: (cpu1 - cpu0) * 10 } : {}),
        // This process (the load client of every stream, and the wait for the change) over the same time.
        clientCpuMs: Math.round((client.user + client.system) / 1000),
        bytesPerStream: perStream((g) => g.bytes),
        resourcesPerStream: perStream((g) => g.resources),
      });
    }
  } catch (err) {
    out.error = String(err.message ?? err);
  } finally {
    out.peakRssMiB = vmHwmMb(srv.pid);
    load.close();
    await srv.stop();
  }
  const cpu1 = machineCpu();
  out.machineBusyPct = Math.round(100 * (1 - (cpu1.idle - cpu0.idle) / (cpu1.total - cpu0.total)));
  out.loadavg = [+load0.toFixed(2), +loadavg()[0].toFixed(2)];
  // Where a run's time goes (server start, first sync, changes), for fitting it to a budget.
  out.seconds = Math.round((Date.now() - rowStarted) / 1000);
  return out;
}

/** What the gateway did for one change, from its /metrics before and after. */
function gatewayWork(w0, w1) {
  const d = (k) => w1[k] - w0[k];
  return {
    rebuilds: d("rebuilds"),
    rebuildMs: +d("rebuildMs").toFixed(1),
    pushes: d("pushes"),
    meanPushLatencyMs: d("pushLatencyCount") > 0 ? +(d("pushLatencyMs") / d("pushLatencyCount")).toFixed(1) : undefined,
    rebuildWaitMs: +d("rebuildWaitMs").toFixed(1),
    programmedFlushes: d("programmedFlushes"),
    programmedFlushMs: +d("programmedFlushMs").toFixed(1),
    programmedReports: d("programmedReports"),
  };
}

/** Per change kind: the worst p99 and the mean bytes and resources per stream. */
function summarize(r) {
  const kinds = {};
  for (const kind of new Set(r.changes.map((c) => c.kind))) {
    const cs = r.changes.filter((c) => c.kind === kind);
    const mean = (f) => Math.round(cs.reduce((a, c) => a + f(c), 0) / cs.length);
    kinds[kind] = {
      p99ms: Math.max(...cs.map((c) => c.p99ms)),
      bytes: mean((c) => c.bytesPerStream),
      ...(cs.every((c) => c.serverCpuMs !== undefined) ? { serverCpuMs: mean((c) => c.serverCpuMs) } : {}),
      clientCpuMs: mean((c) => c.clientCpuMs),
      resources: mean((c) => c.resourcesPerStream),
    };
    if (cs.every((c) => c.gateway)) {
      const avg = (f) => cs.reduce((a, c) => a + f(c.gateway), 0) / cs.length;
      kinds[kind].gateway = {
        rebuilds: +avg((g) => g.rebuilds).toFixed(1),
        rebuildMs: +avg((g) => g.rebuildMs).toFixed(1),
        pushesPerStream: +(avg((g) => g.pushes) / r.streams).toFixed(1),
        meanPushLatencyMs: +avg((g) => g.meanPushLatencyMs ?? 0).toFixed(1),
      };
    }
  }
  const { changes: _, ...rest } = r;
  return { ...rest, kinds };
}

const started = Date.now();
const startLoad = loadavg().map((l) => +l.toFixed(2));
const bin = buildPeerServer();
log(`peer-server: ${bin}`);
const run = { at: new Date().toISOString(), args: values, commit: commitOf(), load: { start: startLoad }, cases: {}, results: [] };
const save = () => {
  mkdirSync(dirname(values.json), { recursive: true });
  run.seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(values.json, JSON.stringify(run, null, 2));
};
for (const name of list(values.cases)) {
  if (!WORLDS[name]) throw new Error(`unknown case ${name} (${Object.keys(WORLDS).join(", ")})`);
  const world = await WORLDS[name]();
  const captureDir = mkdtempSync(join(tmpdir(), "sharedlb-peer-capture-"));
  try {
    const gw = await world.startGateway();
    const captured = await capture(world, gw, captureDir);
    await gw.stop();
    run.cases[name] = { ...captured, kinds: Object.fromEntries(world.changes.map((c) => [c.kind, c.label])) };
    log(`${name}: captured ${JSON.stringify(captured.counts)}; resources per change ${captured.changed.join(",")}`);
    for (const streams of list(values.streams).map(Number)) {
      for (const protocol of list(values.protocols)) {
        for (const server of list(values.servers)) {
          if (SKIP.has(`${name}:${server}:${protocol}:${streams}`)) continue;
          let r;
          try {
            r = await runConfig({ world, bin, captureDir, counts: captured.counts, server, protocol, streams });
          } catch (err) {
            r = { case: name, server, protocol, streams, changes: [], loadavg: [], error: `did not start: ${err.message ?? err}` };
          }
          const s = summarize(r);
          log(JSON.stringify(s));
          run.results.push({ summary: s, raw: r });
          // Written after every row, so a run cut short keeps what it measured.
          save();
        }
      }
    }
  } finally {
    await world.close();
    rmSync(captureDir, { recursive: true, force: true });
  }
}
run.load.end = loadavg().map((l) => +l.toFixed(2));
save();
log(`done in ${run.seconds} s; results in ${values.json}`);
if (values.record) {
  appendFileSync(values["record-file"], `\n${renderRun(run)}\n`);
  log(`appended to ${values["record-file"]}`);
}
process.exit(0);

function commitOf() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} + local changes` : head;
  } catch {
    return "unknown";
  }
}
