// Renders a bench/peer results file as the dated Markdown section of results/peer.md
// (peer.mjs --record appends it there).
//   node bench/peer/table.mjs [bench/results/raw/peer.json]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SERVERS = ["snapshot", "linear", "sharedlb"];
const LABEL = { snapshot: "SnapshotCache", linear: "LinearCache (muxed)", sharedlb: "sharedlb" };
const CASE = {
  l4: (run) => `L4: ${run.args.services} Services over ${run.args.clusters} tenants (LDS, CDS, EDS)`,
  rds: (run) => `RDS: ${run.args.routes} HTTPRoutes over ${run.args.clusters} tenants on ${run.args.ips} shared IPs (LDS, CDS, EDS, RDS)`,
};
// Above this 1-minute load average a 2-core machine is not quiet: the tail latencies are
// then mostly time spent waiting for a core.
const QUIET_LOAD = 1;

const ms = (v) => (v === undefined ? "–" : `${Math.round(v).toLocaleString("en")} ms`);
const kb = (v) => (v === undefined ? "–" : v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(2)} MB` : `${(v / 1024).toFixed(1)} KB`);
const count = (v) => (v === undefined ? "–" : v.toLocaleString("en"));
const s = (v) => (v === undefined ? "–" : `${v} s`);
const gib = (v) => (v === undefined ? "–" : `${(v / 1024).toFixed(2)} GiB`);
const ratio = (peer, ours) => (peer === undefined || ours === undefined || ours === 0 ? "–" : `${(peer / ours).toFixed(1)}×`);

function metricsOf(kinds) {
  const out = [];
  for (const [kind, label] of Object.entries(kinds)) out.push([`change → all streams p99, ${label}`, (r) => r.kinds[kind]?.p99ms, ms]);
  for (const [kind, label] of Object.entries(kinds)) out.push([`server CPU per change, ${label}`, (r) => r.kinds[kind]?.serverCpuMs, ms]);
  for (const [kind, label] of Object.entries(kinds)) out.push([`load client CPU per change, ${label}`, (r) => r.kinds[kind]?.clientCpuMs, ms]);
  for (const [kind, label] of Object.entries(kinds)) out.push([`bytes per stream per change, ${label}`, (r) => r.kinds[kind]?.bytes, kb]);
  for (const [kind, label] of Object.entries(kinds)) {
    out.push([`changed type's resources per stream per change, ${label}`, (r) => r.kinds[kind]?.resources, count]);
  }
  out.push(["first sync of all streams", (r) => r.firstSyncS, s], ["server peak RSS", (r) => r.peakRssMiB, gib]);
  return out;
}

function caseTables(run, name) {
  const c = run.cases[name];
  const rows = run.results.map((r) => r.summary).filter((r) => r.case === name);
  const out = [`### ${CASE[name]?.(run) ?? name}`, ""];
  out.push(
    `Captured: ${Object.entries(c.counts)
      .map(([t, n]) => `${n} ${t.split(".").pop()}`)
      .join(", ")}.`,
  );
  const sent = c.sotwSent.map((x, k) => `${k}: ${x.resources} in ${x.responses} response(s), ${x.changed} changed`).join("; ");
  out.push(`What sharedlb's SotW sent a full-decoding client for each change (resources of the changed type): ${sent}.`, "");
  for (const g of [...new Set(rows.map((r) => `${r.protocol} ${r.streams}`))]) {
    const [protocol, streams] = g.split(" ");
    const by = Object.fromEntries(rows.filter((r) => r.protocol === protocol && String(r.streams) === streams).map((r) => [r.server, r]));
    out.push(`#### ${protocol}, ${streams} streams`, "");
    out.push(`| | ${SERVERS.map((x) => LABEL[x]).join(" | ")} | SnapshotCache ÷ sharedlb | LinearCache ÷ sharedlb |`);
    out.push(`|---|${SERVERS.map(() => "---").join("|")}|---|---|`);
    for (const [label, get, fmt] of metricsOf(c.kinds)) {
      const v = SERVERS.map((x) => (by[x] ? get(by[x]) : undefined));
      out.push(`| ${label} | ${v.map(fmt).join(" | ")} | ${ratio(v[0], v[2])} | ${ratio(v[1], v[2])} |`);
    }
    const load = SERVERS.map((x) =>
      by[x]?.machineBusyPct !== undefined ? `${by[x].loadavg.join("→")} (busy ${by[x].machineBusyPct}%)` : "–",
    );
    out.push(`| load average (machine busy) | ${load.join(" | ")} | | |`);
    const work = Object.entries(c.kinds)
      .filter(([kind]) => by.sharedlb?.kinds[kind]?.gateway)
      .map(([kind, label]) => {
        const g = by.sharedlb.kinds[kind].gateway;
        return `${label}: ${g.rebuilds} rebuild(s) taking ${g.rebuildMs} ms, ${g.pushesPerStream} responses per stream, built → handed to the connection ${g.meanPushLatencyMs} ms on average`;
      });
    if (work.length > 0) out.push("", `Where sharedlb's time went, per change (its /metrics): ${work.join("; ")}.`);
    for (const x of SERVERS) if (by[x]?.error) out.push("", `${LABEL[x]}: ${by[x].error}`);
    out.push("");
  }
  return out;
}

export function renderRun(run) {
  const at = run.at.slice(0, 16).replace("T", " ");
  const load = `load average ${run.load.start.join(" / ")} (1/5/15 min) at the start, ${run.load.end?.join(" / ") ?? "–"} at the end`;
  const out = [`## Run of ${at} UTC (main at ${run.commit}; ${run.seconds} s; ${load})`, ""];
  if (run.load.start[0] > QUIET_LOAD) {
    out.push(`**Not a quiet machine** (1-minute load ${run.load.start[0]} at the start on 2 cores): compare rows by ratio only.`, "");
  }
  for (const name of Object.keys(run.cases)) out.push(...caseTables(run, name));
  return out.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? new URL("../results/raw/peer.json", import.meta.url).pathname;
  console.log(renderRun(JSON.parse(readFileSync(file, "utf8"))));
}
