// Peer benchmark (issue 11): sharedlb's xds-gateway against go-control-plane's
// SnapshotCache and muxed LinearCaches, serving the same resources to the same load client.
//   node bench/peer/peer.mjs [--services 10000] [--clusters 20] [--streams 100,500]
//                            [--protocols sotw,delta] [--servers snapshot,linear,sharedlb]
// See bench/README.md ("peer") for what is measured and how.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { log, machineCpu, pct, vmHwmMb } from "../lib/host.mjs";
import { capture } from "./capture.mjs";
import { CDS, connectStreams, EDS, holdsAll, LDS, seenAt } from "../lib/ads-load.mjs";
import { buildPeerServer, startPeerServer } from "./peer-server.mjs";
import { startWorld } from "./world.mjs";

const list = (s) => s.split(",").filter(Boolean);
const { values } = parseArgs({
  options: {
    services: { type: "string", default: "10000" },
    clusters: { type: "string", default: "20" },
    streams: { type: "string", default: "100,500" },
    protocols: { type: "string", default: "sotw,delta" },
    servers: { type: "string", default: "snapshot,linear,sharedlb" },
    "max-rss-mib": { type: "string", default: "8192" },
    "sync-timeout": { type: "string", default: "300" },
    "change-timeout": { type: "string", default: "120" },
    skip: { type: "string", default: "" },
    json: { type: "string", default: new URL("../results/raw/peer.json", import.meta.url).pathname },
  },
});
const MAX_RSS = Number(values["max-rss-mib"]);
const SYNC_TIMEOUT_MS = Number(values["sync-timeout"]) * 1000;
const CHANGE_TIMEOUT_MS = Number(values["change-timeout"]) * 1000;
/** `server:protocol:streams` rows not to run, e.g. snapshot:sotw:500. */
const SKIP = new Set(list(values.skip));
const wallClock = () => performance.timeOrigin + performance.now();

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

async function runConfig({ world, bin, captureDir, counts, server, protocol, streams }) {
  const cpu0 = machineCpu();
  const load0 = loadavg()[0];
  const srv =
    server === "sharedlb" ? await world.startGateway({ MALLOC_MMAP_THRESHOLD_: "65536" }) : await startPeerServer(bin, server, captureDir);
  const names = world.fixture.clusterNames;
  const expected = { [LDS]: counts[LDS], [CDS]: counts[CDS], [EDS]: counts[EDS] };
  const t0 = wallClock();
  const load = connectStreams({ address: srv.address, protocol, streams, names });
  const out = { server, protocol, streams, changes: [] };
  try {
    await until("first sync", () => load.log.every((l) => holdsAll(l, expected)), SYNC_TIMEOUT_MS, srv.pid);
    out.firstSyncS = +((wallClock() - t0) / 1000).toFixed(1);
    await quiet(load.log);
    for (let k = 0; k < world.changes.length; k++) {
      const marks = load.log.map((l) => l.length);
      const change = world.changes[k];
      const tc = server === "sharedlb" ? await world.publishChange(k) : await srv.apply(k);
      const at = (i) => seenAt(load.log[i], marks[i], protocol, change.expect);
      await until(`change ${k}`, () => load.log.every((_, i) => at(i) !== undefined), CHANGE_TIMEOUT_MS, srv.pid);
      const lat = load.log.map((_, i) => at(i) - tc).sort((a, b) => a - b);
      await quiet(load.log);
      const bytes = load.log.reduce((s, l, i) => s + l.slice(marks[i]).reduce((a, e) => a + e.bytes, 0), 0);
      out.changes.push({ kind: change.kind, p99ms: pct(lat, 99), maxms: lat.at(-1), bytesPerStream: Math.round(bytes / streams) });
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
  return out;
}

function summarize(r) {
  const of = (kind) => r.changes.filter((c) => c.kind === kind);
  const p99 = (cs) => (cs.length ? Math.max(...cs.map((c) => c.p99ms)) : undefined);
  const bytes = (cs) => (cs.length ? Math.round(cs.reduce((a, c) => a + c.bytesPerStream, 0) / cs.length) : undefined);
  return {
    server: r.server,
    protocol: r.protocol,
    streams: r.streams,
    firstSyncS: r.firstSyncS,
    serviceP99ms: p99(of("service")),
    serviceBytes: bytes(of("service")),
    flapP99ms: p99(of("flap")),
    flapBytes: bytes(of("flap")),
    peakRssMiB: r.peakRssMiB,
    machineBusyPct: r.machineBusyPct,
    loadavg: r.loadavg,
    error: r.error,
  };
}

const started = Date.now();
const bin = buildPeerServer();
log(`peer-server: ${bin}`);
const world = await startWorld({ services: Number(values.services), clusters: Number(values.clusters) });
const captureDir = mkdtempSync(join(tmpdir(), "sharedlb-peer-capture-"));
const results = [];
try {
  const gw = await world.startGateway();
  const captured = await capture(world, gw, captureDir);
  await gw.stop();
  log(`captured ${JSON.stringify(captured.counts)}; resources per change ${captured.changed.join(",")}`);
  for (const streams of list(values.streams).map(Number)) {
    for (const protocol of list(values.protocols)) {
      for (const server of list(values.servers)) {
        if (SKIP.has(`${server}:${protocol}:${streams}`)) continue;
        let r;
        try {
          r = await runConfig({ world, bin, captureDir, counts: captured.counts, server, protocol, streams });
        } catch (err) {
          r = { server, protocol, streams, changes: [], loadavg: [], error: `did not start: ${err.message ?? err}` };
        }
        const s = summarize(r);
        log(JSON.stringify(s));
        results.push({ summary: s, raw: r });
        // Written after every row, so a run cut short keeps what it measured.
        mkdirSync(new URL("../results/raw/", import.meta.url), { recursive: true });
        const seconds = Math.round((Date.now() - started) / 1000);
        writeFileSync(values.json, JSON.stringify({ at: new Date().toISOString(), args: values, captured, seconds, results }, null, 2));
      }
    }
  }
  log(`done in ${Math.round((Date.now() - started) / 1000)} s; results in ${values.json}`);
} finally {
  await world.close();
  rmSync(captureDir, { recursive: true, force: true });
}
process.exit(0);
