// A tenant node flap through the gateway's translation alone (no streams): how long the
// rebuild of the changed assignments takes, per flap. Run after `pnpm run build`:
//   node bench/xds-gateway/flap.mjs [--services 10000] [--clusters 20] [--flaps 20]
import { parseArgs } from "node:util";
import { decodeAllocationMessage, decodeResourceMessage } from "../../libs/contracts/dist/index.js";
import { Gateway } from "../../services/xds-gateway/dist/index.js";
import { generate, nodeChange } from "./fixture.mjs";

const { values } = parseArgs({
  options: {
    services: { type: "string", default: "10000" },
    clusters: { type: "string", default: "20" },
    flaps: { type: "string", default: "20" },
  },
});
const fixture = generate({ services: Number(values.services), clusters: Number(values.clusters) });
const gw = new Gateway([{ name: "edge", pools: new Set(["public"]) }]);
for (const m of fixture.resources) gw.applyResource(decodeResourceMessage(m.subject, m.bytes));
for (const m of fixture.allocations) gw.applyAllocation(decodeAllocationMessage(m.subject, m.bytes).data);
gw.goLive();
const ms = [];
let changed = 0;
// CPU time as well as wall time: on a shared machine the wall time is mostly waiting.
const cpu0 = process.cpuUsage();
for (let i = 0; i < Number(values.flaps); i++) {
  const m = nodeChange("t1", 9, i % 2 === 1);
  const t0 = performance.now();
  gw.applyResource(decodeResourceMessage(m.subject, m.bytes));
  const stats = gw.rebuild();
  ms.push(performance.now() - t0);
  changed = stats.changes ?? changed;
}
const cpu = process.cpuUsage(cpu0);
const cpuMsPerFlap = (cpu.user + cpu.system) / 1000 / ms.length;
const meanMs = ms.reduce((a, b) => a + b, 0) / ms.length;
ms.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    flaps: ms.length,
    cpuMsPerFlap: +cpuMsPerFlap.toFixed(1),
    meanMs: +meanMs.toFixed(1),
    medianMs: +ms[ms.length >> 1].toFixed(1),
    minMs: +ms[0].toFixed(1),
    maxMs: +ms.at(-1).toFixed(1),
    changed,
  }),
);
