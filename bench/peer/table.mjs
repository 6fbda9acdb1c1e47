// Renders a bench/peer results file as the Markdown tables of results/peer.md.
//   node bench/peer/table.mjs [bench/results/raw/peer.json]
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? new URL("../results/raw/peer.json", import.meta.url).pathname;
const run = JSON.parse(readFileSync(file, "utf8"));
const rows = run.results.map((r) => r.summary);
const SERVERS = ["snapshot", "linear", "sharedlb"];
const LABEL = { snapshot: "SnapshotCache", linear: "LinearCache (muxed)", sharedlb: "sharedlb" };
const ms = (v) => (v === undefined ? "–" : `${Math.round(v).toLocaleString("en")} ms`);
const kb = (v) => (v === undefined ? "–" : v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(2)} MB` : `${(v / 1024).toFixed(1)} KB`);
const s = (v) => (v === undefined ? "–" : `${v} s`);
const mib = (v) => (v === undefined ? "–" : `${(v / 1024).toFixed(2)} GiB`);
const ratio = (peer, ours) => (peer === undefined || ours === undefined || ours === 0 ? "–" : `${(peer / ours).toFixed(1)}×`);

const metrics = [
  ["change → all streams p99, single Service", (r) => r.serviceP99ms, ms],
  [`change → all streams p99, node flap (${run.captured.changed.at(-1)} CLAs)`, (r) => r.flapP99ms, ms],
  ["bytes per stream per change, single Service", (r) => r.serviceBytes, kb],
  ["bytes per stream per change, node flap", (r) => r.flapBytes, kb],
  ["first sync of all streams", (r) => r.firstSyncS, s],
  ["server peak RSS", (r) => r.peakRssMiB, mib],
];
const groups = [...new Set(rows.map((r) => `${r.protocol} ${r.streams}`))];
const out = [`Run of ${run.at} (${run.seconds} s, ${run.args.services} Services).`, ""];
for (const g of groups) {
  const [protocol, streams] = g.split(" ");
  const by = Object.fromEntries(rows.filter((r) => r.protocol === protocol && String(r.streams) === streams).map((r) => [r.server, r]));
  out.push(`#### ${protocol}, ${streams} streams`, "");
  out.push(`| | ${SERVERS.map((x) => LABEL[x]).join(" | ")} | SnapshotCache ÷ sharedlb | LinearCache ÷ sharedlb |`);
  out.push(`|---|${SERVERS.map(() => "---").join("|")}|---|---|`);
  for (const [label, get, fmt] of metrics) {
    const v = SERVERS.map((x) => (by[x] ? get(by[x]) : undefined));
    out.push(`| ${label} | ${v.map(fmt).join(" | ")} | ${ratio(v[0], v[2])} | ${ratio(v[1], v[2])} |`);
  }
  const load = SERVERS.map((x) =>
    by[x]?.machineBusyPct !== undefined ? `${by[x].loadavg.join("→")} (busy ${by[x].machineBusyPct}%)` : "–",
  );
  out.push(`| load average (machine busy) | ${load.join(" | ")} | | |`);
  for (const x of SERVERS) if (by[x]?.error) out.push("", `${LABEL[x]}: ${by[x].error}`);
  out.push("");
}
console.log(out.join("\n"));
