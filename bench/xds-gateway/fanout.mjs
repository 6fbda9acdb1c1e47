// One change → visible on N connected ADS clients (delta or SotW).
// Run: node bench/xds-gateway/fanout.mjs --protocol delta --clients 500 [--services 10000] [--changes 20]
//   [--clusters 100] [--change service|flap|both]
// service: one Local Service's EndpointSlice (one assignment changes); flap: tenant t1's
// node-9 going NotReady/Ready (every Cluster-policy assignment of t1 changes: ~520 with
// --clusters 20). The last line on stdout is the result as JSON (stable field names).
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectStreams } from "../lib/ads-load.mjs";
import { mib } from "./fixture.mjs";
import { forkGateway } from "./gateway-child.mjs";

const { values } = parseArgs({
  options: {
    protocol: { type: "string", default: "delta" },
    clients: { type: "string", default: "100" },
    services: { type: "string", default: "10000" },
    changes: { type: "string", default: "20" },
    clusters: { type: "string", default: "100" },
    change: { type: "string", default: "service" },
    budget: { type: "string", default: "64" },
    "malloc-arenas": { type: "string" },
    "mmap-threshold": { type: "string" },
    snapshot: { type: "string" },
    profile: { type: "string" },
  },
});
const protocol = values.protocol;
const N = Number(values.clients);
const CHANGES = Number(values.changes);
const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const now = () => performance.timeOrigin + performance.now();

const {
  child: server,
  reply,
  ask,
} = forkGateway({
  services: values.services,
  budget: values.budget,
  clusters: values.clusters,
  env: {
    ...(values["malloc-arenas"] ? { MALLOC_ARENA_MAX: values["malloc-arenas"] } : {}),
    ...(values["mmap-threshold"] ? { MALLOC_MMAP_THRESHOLD_: values["mmap-threshold"] } : {}),
  },
});

const ready = await reply();
console.log(
  `server: ${values.services} Services, ${ready.resources} resources built in ${ready.buildMs.toFixed(0)} ms, ADS on ${ready.port}`,
);
const names = ready.clusterNames;
const baseline = await ask({ cmd: "mem" });
console.log(
  `server before clients: rss ${mib(baseline.mem.rss)} MiB, heap ${mib(baseline.mem.heapUsed)}/${mib(baseline.mem.heapTotal)} MiB, external ${mib(baseline.mem.external)} MiB`,
);

let settled;
const t0Connect = now();
const { log, close: closeClients } = connectStreams({
  address: `127.0.0.1:${ready.port}`,
  protocol,
  streams: N,
  names,
  onResponse: () => settled?.(),
});
async function until(what, check, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => {
      settled = r;
      setTimeout(r, 1000);
    });
  }
}
// Delta sends a first sync in several responses: count resources, not responses.
const hasAll = (entries) =>
  [CDS, LDS, EDS].every((t) => {
    const got = entries.filter((e) => e.typeUrl === t);
    return protocol === "sotw" ? got.length > 0 : got.reduce((a, e) => a + e.resources, 0) >= ready.expected[t];
  });
await until("initial sync", () => log.every(hasAll));
const connectMs = now() - t0Connect;
const initialBytes = log.reduce((s, l) => s + l.reduce((a, e) => a + e.bytes, 0), 0);
const afterConnect = await ask({ cmd: "mem" });
console.log(
  `${N} ${protocol} clients synced in ${(connectMs / 1000).toFixed(1)} s, ${mib(initialBytes / N)} MiB each; server rss ${mib(afterConnect.mem.rss)} MiB, heap ${mib(afterConnect.mem.heapUsed)}/${mib(afterConnect.mem.heapTotal)} MiB, external ${mib(afterConnect.mem.external)} MiB (arrayBuffers ${mib(afterConnect.mem.arrayBuffers)})`,
);

if (values.snapshot) console.log(await ask({ cmd: "snapshot", file: values.snapshot }));
if (values.profile) await ask({ cmd: "profile", on: true });
/** Makes CHANGES changes of one kind; per change: latency to every client, bytes, EDS responses per client. */
async function measure(cmd) {
  const latencies = [];
  const perChange = [];
  for (let j = 0; j < CHANGES; j++) {
    const marks = log.map((l) => l.length);
    await ask({ cmd: "cpu" });
    const { t0, name } = await ask({ cmd, i: j });
    const carries = (e) => e.typeUrl === EDS && (protocol === "sotw" || name === undefined || e.names.includes(name));
    const seen = (i) => log[i].slice(marks[i]).find(carries);
    await until(`${cmd} ${j}`, () => log.every((_, i) => seen(i)), 120_000);
    // Let a burst that is split over several responses show itself before counting.
    await new Promise((r) => setTimeout(r, 200));
    const lat = log.map((_, i) => seen(i).t - t0);
    latencies.push(...lat);
    const bytes = log.reduce((s, l, i) => s + l.slice(marks[i]).reduce((a, e) => a + e.bytes, 0), 0);
    const edsResponses = log.reduce((s, l, i) => s + l.slice(marks[i]).filter((e) => e.typeUrl === EDS).length, 0);
    const resources = log.reduce((s, l, i) => s + l.slice(marks[i]).reduce((a, e) => a + (e.typeUrl === EDS ? e.resources : 0), 0), 0);
    const { cpuMs, sysMs } = await ask({ cmd: "cpu" });
    perChange.push({
      p50: pct(lat, 50),
      max: Math.max(...lat),
      bytesPerClient: bytes / N,
      edsResponsesPerClient: edsResponses / N,
      edsResourcesPerClient: resources / N,
      cpuMs,
      sysMs,
    });
  }
  const avg = (f) => perChange.reduce((a, c) => a + f(c), 0) / CHANGES;
  return {
    perChange,
    summary: {
      p50ms: +pct(latencies, 50).toFixed(1),
      p99ms: +pct(latencies, 99).toFixed(1),
      maxms: +Math.max(...latencies).toFixed(1),
      bytesPerChangePerClient: Math.round(avg((c) => c.bytesPerClient)),
      bytesPerChangeTotalMiB: mib(avg((c) => c.bytesPerClient) * N),
      edsResponsesPerChangePerClient: +avg((c) => c.edsResponsesPerClient).toFixed(2),
      edsResourcesPerChangePerClient: +avg((c) => c.edsResourcesPerClient).toFixed(1),
      serverCpuMsPerChange: Math.round(avg((c) => c.cpuMs)),
      serverKernelMsPerChange: Math.round(avg((c) => c.sysMs)),
    },
  };
}
const kinds = values.change === "both" ? ["service", "flap"] : [values.change];
const measured = {};
for (const kind of kinds) measured[kind] = await measure(kind === "service" ? "change" : "flap");
if (values.profile) console.log(await ask({ cmd: "profile", on: false, file: values.profile }));
const afterChanges = await ask({ cmd: "mem" });
/** Quantile from the server's push-latency histogram (cumulative buckets, upper bounds in s). */
function histQuantile(values, q, protocolLabel) {
  const buckets = values
    .filter((v) => v.metricName === "sharedlb_xds_push_latency_seconds_bucket" && v.labels.protocol === protocolLabel)
    .map((v) => ({ le: v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  const diff = (later, earlier) => later.map((b, k) => ({ le: b.le, n: b.n - (earlier[k]?.n ?? 0) }));
  return { buckets, total, diff, q: (bs) => bs.find((b) => b.n >= q * (bs.at(-1)?.n ?? 0))?.le };
}
const before = histQuantile(afterConnect.latency, 0, protocol);
const after = histQuantile(afterChanges.latency, 0, protocol);
const changeBuckets = before.diff(after.buckets, before.buckets);
const serverQ = (q) => changeBuckets.find((b) => b.n >= q * (changeBuckets.at(-1)?.n ?? 0))?.le;
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const result = {
  protocol,
  clients: N,
  services: Number(values.services),
  changes: CHANGES,
  connectSeconds: +(connectMs / 1000).toFixed(1),
  initialMiBPerClient: mib(initialBytes / N),
  serverPushP50ms: serverQ(0.5) * 1000,
  serverPushP99ms: serverQ(0.99) * 1000,
  // The first kind's figures at the top level, as before; every kind under its name.
  ...measured[kinds[0]].summary,
  ...Object.fromEntries(kinds.map((k) => [k, measured[k].summary])),
  serverRssMiBBeforeClients: mib(baseline.mem.rss),
  serverRssMiBConnected: mib(afterConnect.mem.rss),
  serverHeapMiBConnected: mib(afterConnect.mem.heapUsed),
  serverExternalMiBConnected: mib(afterConnect.mem.external),
  serverRssMiBAfter: mib(afterChanges.mem.rss),
  serverHeapMiBAfter: mib(afterChanges.mem.heapUsed),
};
console.log(JSON.stringify(result));
mkdirSync(new URL("../results/raw/", import.meta.url), { recursive: true });
writeFileSync(
  new URL(`../results/raw/xds-gateway-fanout-${protocol}-${N}-${values.change}.json`, import.meta.url),
  JSON.stringify({ result, perChange: Object.fromEntries(kinds.map((k) => [k, measured[k].perChange])) }, null, 2),
);
closeClients();
const exited = new Promise((r) => server.once("exit", r));
server.send({ cmd: "stop" });
await exited;
process.exit(0);
