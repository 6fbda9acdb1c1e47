// A reconnect storm: N delta streams sync, all drop, one assignment changes, and N new
// streams come back at once naming everything they hold (initial_resource_versions), as
// Envoys do when a gateway replica goes away. Measures the gateway's peak RSS during the
// storm alone (VmHWM reset before it), its CPU, and the time until every new stream has the
// change. Run: node bench/xds-gateway/reconnect.mjs --clients 500 [--services 10000]
// [--clusters 20] [--profile F: the gateway's CPU profile of the storm]. The last line on stdout is the result as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AdsClient } from "../../services/xds-gateway/dist/index.js";
import { CDS, connectStreams, EDS, LDS } from "../lib/ads-load.mjs";
import { mib } from "./fixture.mjs";
import { forkGateway } from "./gateway-child.mjs";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "100" },
    services: { type: "string", default: "10000" },
    clusters: { type: "string", default: "20" },
    budget: { type: "string", default: "64" },
    profile: { type: "string" },
  },
});
const N = Number(values.clients);
const now = () => performance.timeOrigin + performance.now();

const {
  child: server,
  reply,
  ask,
} = forkGateway({
  services: values.services,
  budget: values.budget,
  clusters: values.clusters,
  env: { MALLOC_MMAP_THRESHOLD_: "65536" },
});
const status = (field) =>
  Number(/(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8").split(`${field}:`)[1] ?? "")?.[1] ?? 0) * 1024;

async function until(what, check, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ready = await reply();
const address = `127.0.0.1:${ready.port}`;
const names = ready.clusterNames;

// First wave: what every stream holds once synced (all streams of a fleet hold the same).
const first = connectStreams({ address, protocol: "delta", streams: N, names });
const holds = (entries) =>
  [CDS, LDS, EDS].every((t) => entries.filter((e) => e.typeUrl === t).reduce((a, e) => a + e.resources, 0) >= ready.expected[t]);
await until("first sync", () => first.log.every(holds));
const held = { [CDS]: {}, [LDS]: {}, [EDS]: {} };
const probe = new AdsClient(address, { channelOptions: { "grpc.max_receive_message_length": -1 } });
{
  let done;
  const call = probe.deltaHeads({
    keep: false,
    onResponse: (h) => {
      h.names.forEach((n, i) => {
        held[h.typeUrl][n] = h.versions[i];
      });
      call.send({ typeUrl: h.typeUrl, responseNonce: h.nonce });
      if ([CDS, LDS, EDS].every((t) => Object.keys(held[t]).length >= ready.expected[t])) done?.();
    },
  });
  call.status.catch(() => undefined);
  const complete = new Promise((r) => (done = r));
  call.send({ node: { id: "probe", cluster: "edge" }, typeUrl: CDS });
  call.send({ typeUrl: LDS });
  call.send({ typeUrl: EDS, resourceNamesSubscribe: names });
  await complete;
  call.cancel();
}
first.close();
probe.close();

// While they are away, one assignment changes; then all come back at once.
const { name: changed } = await ask({ cmd: "change", i: 0 });
await ask({ cmd: "mem" });
writeFileSync(`/proc/${server.pid}/clear_refs`, "5");
const rssBefore = status("VmRSS");
if (values.profile) await ask({ cmd: "profile", on: true });
const t0 = now();
const got = Array.from({ length: N }, () => ({ at: undefined, responses: 0, resources: 0 }));
const conns = [];
for (let i = 0; i < N; i++) {
  const client = new AdsClient(address, {
    channelOptions: { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": -1 },
  });
  const call = client.deltaHeads({
    keep: false,
    onResponse: (h) => {
      got[i].responses++;
      got[i].resources += h.resources;
      if (h.typeUrl === EDS && h.names.includes(changed)) got[i].at ??= now();
      call.send({ typeUrl: h.typeUrl, responseNonce: h.nonce });
    },
  });
  call.status.catch(() => undefined);
  call.send({ node: { id: `bench-${i}`, cluster: "edge" }, typeUrl: CDS, initialResourceVersions: held[CDS] });
  call.send({ typeUrl: LDS, initialResourceVersions: held[LDS] });
  call.send({ typeUrl: EDS, resourceNamesSubscribe: names, initialResourceVersions: held[EDS] });
  conns.push({ client, call });
}
await until("every stream has the change", () => got.every((g) => g.at !== undefined));
const storm = { ms: now() - t0 };
// The gateway goes quiet once every stream's requests are answered (CPU counts from the change).
await new Promise((r) => setTimeout(r, 2000));
const { cpuMs, sysMs } = await ask({ cmd: "cpu" });
const peak = status("VmHWM");
if (values.profile) await ask({ cmd: "profile", on: false, file: values.profile });
const after = await ask({ cmd: "mem" });
for (const { client, call } of conns) {
  call.cancel();
  client.close();
}
server.kill();
const lat = got.map((g) => g.at - t0).sort((a, b) => a - b);
const result = {
  clients: N,
  services: Number(values.services),
  stormMs: Math.round(storm.ms),
  changeP50ms: Math.round(lat[Math.floor(N * 0.5)]),
  changeP99ms: Math.round(lat[Math.min(N - 1, Math.floor(N * 0.99))]),
  responsesPerStream: +(got.reduce((a, g) => a + g.responses, 0) / N).toFixed(2),
  resourcesPerStream: +(got.reduce((a, g) => a + g.resources, 0) / N).toFixed(2),
  serverCpuMs: cpuMs,
  serverKernelMs: sysMs,
  serverRssMiBBefore: mib(rssBefore),
  serverPeakRssMiB: mib(peak),
  serverRssMiBAfter: mib(after.mem.rss),
  serverHeapMiBAfter: mib(after.mem.heapUsed),
};
console.log(
  `${N} delta streams back at once naming what they hold: every one had the change after ${(storm.ms / 1000).toFixed(1)} s; gateway peak RSS ${result.serverPeakRssMiB} MiB (from ${result.serverRssMiBBefore}), CPU ${cpuMs} ms`,
);
console.log(JSON.stringify(result));
process.exit(0);
