// Full view build: replay (decode + apply) and build every Envoy resource of N Services.
// Run: node --expose-gc bench/xds-gateway/build.mjs [--services 10000] [--runs 3]
import { parseArgs } from "node:util";
import { decodeAllocationMessage, decodeResourceMessage } from "../../libs/contracts/dist/index.js";
import { Gateway } from "../../services/xds-gateway/dist/index.js";
import { generate, mib } from "./fixture.mjs";

const { values } = parseArgs({ options: { services: { type: "string", default: "10000" }, runs: { type: "string", default: "3" } } });
const services = Number(values.services);
if (!global.gc) throw new Error("run with node --expose-gc");

const fixture = generate({ services });
console.log(`fixture: ${services} Services, ${fixture.resources.length} resource events, ${fixture.allocations.length} allocations`);
const results = [];
for (let run = 0; run < Number(values.runs); run++) {
  global.gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const gw = new Gateway([{ name: "edge", pools: new Set(["public"]) }]);
  for (const m of fixture.resources) gw.applyResource(decodeResourceMessage(m.subject, m.bytes));
  for (const m of fixture.allocations) gw.applyAllocation(decodeAllocationMessage(m.subject, m.bytes).data);
  const t1 = performance.now();
  const stats = gw.goLive();
  const t2 = performance.now();
  global.gc();
  const heap1 = process.memoryUsage().heapUsed;
  const fleet = gw.fleet("edge");
  const counts = ["Listener", "Cluster", "ClusterLoadAssignment", "RouteConfiguration"].map(
    (t) =>
      fleet.table(
        `type.googleapis.com/envoy.config.${t === "ClusterLoadAssignment" ? "endpoint" : t === "RouteConfiguration" ? "route" : t.toLowerCase()}.v3.${t}`,
      ).size,
  );
  let bytes = 0;
  for (const t of ["listener.v3.Listener", "cluster.v3.Cluster", "endpoint.v3.ClusterLoadAssignment", "route.v3.RouteConfiguration"]) {
    for (const e of fleet.table(`type.googleapis.com/envoy.config.${t}`).wildcardEntries()) bytes += e.any.length;
  }
  results.push({
    replayMs: t1 - t0,
    buildMs: t2 - t1,
    buildReported: stats.ms,
    heapMiB: mib(heap1 - heap0),
    rssMiB: mib(process.memoryUsage().rss),
    resources: gw.resourceCount,
    counts,
    encodedMiB: mib(bytes),
  });
  console.log(
    `run ${run + 1}: replay ${(t1 - t0).toFixed(0)} ms, build ${(t2 - t1).toFixed(0)} ms, ${gw.resourceCount} resources (LDS/CDS/EDS/RDS ${counts.join("/")}), encoded ${mib(bytes)} MiB, heap +${mib(heap1 - heap0)} MiB, rss ${mib(process.memoryUsage().rss)} MiB`,
  );
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    services,
    medianReplayMs: Math.round(median(results.map((r) => r.replayMs))),
    medianBuildMs: Math.round(median(results.map((r) => r.buildMs))),
    heapMiB: results.at(-1).heapMiB,
    encodedMiB: results.at(-1).encodedMiB,
    resources: results.at(-1).resources,
  }),
);
