#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by area
// (Redis client, NATS client, JSON, contract validation, allocator code, GC, idle…).
//
//   node allocator/profile-summary.mjs /tmp/…/CPU.….cpuprofile [top]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Which part of the stack a frame belongs to, judged by its script URL and name. */
export function areaOf(frame) {
  const { url, functionName: fn } = frame;
  if (fn === "(idle)") return "idle (waiting for I/O)";
  if (fn === "(garbage collector)") return "garbage collector";
  if (fn === "(program)") return "V8/native (program)";
  if (fn === "(root)") return "root";
  if (/ioredis|redis-parser|denque|cluster-key-slot|redis-errors/.test(url)) return "Redis client (ioredis)";
  if (/@nats-io/.test(url)) return "NATS client (@nats-io)";
  if (/typebox/.test(url)) return "schema validation (typebox)";
  if (/pino|sonic-boom|thread-stream/.test(url)) return "logging (pino)";
  if (/prom-client|tdigest|bintrees/.test(url)) return "metrics (prom-client)";
  if (/ulid/.test(url)) return "ids (ulid)";
  if (/libs\/contracts\//.test(url)) return "contracts (decode/encode)";
  if (/libs\/runtime\//.test(url)) return "runtime lib";
  if (/services\/allocator\//.test(url)) return "allocator code";
  if (url === "" && /^(parse|stringify|JSON\.)/.test(fn)) return "JSON (native)";
  if (url === "" && /^(decode|encode|TextDecoder|TextEncoder)/.test(fn)) return "text encode/decode (native)";
  if (/^node:(net|stream|internal\/stream|internal\/net|_stream|internal\/streams)/.test(url)) return "node sockets/streams";
  if (/^node:/.test(url)) return "node internals (other)";
  if (url === "") return `native: ${fn || "(anonymous)"}`;
  return "other JS";
}

export function summarizeProfile(profile, top = 40) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0; // delta i+1 is the time spent in sample i
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map();
  const byArea = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    const file = f.url
      .replace(/^file:\/\//, "")
      .replace(/^.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "")
      .replace(/^.*\/work\/main\//, "");
    const name = `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
    byFn.set(name, (byFn.get(name) ?? 0) + us);
    const a = areaOf(f);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const busyUs = totalUs - (byArea.get("idle (waiting for I/O)") ?? 0);
  const isIdle = (name) => name.startsWith("idle") || name.startsWith("(idle)");
  // Shares are of busy time; idle is shown as a share of the whole profile instead.
  const fmt = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({
        name: k,
        ms: Math.round(us / 1000),
        ofBusy: isIdle(k)
          ? `(${((100 * us) / Math.max(1, totalUs)).toFixed(1)}% of profile)`
          : `${((100 * us) / Math.max(1, busyUs)).toFixed(1)}%`,
      }));
  return {
    profiledS: Number((totalUs / 1e6).toFixed(2)),
    busyS: Number((busyUs / 1e6).toFixed(2)),
    areas: fmt(byArea),
    top: fmt(byFn),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: profile-summary.mjs FILE.cpuprofile [top]\n");
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(readFileSync(file, "utf8")), Number(process.argv[3] ?? 40));
  console.log(`profiled ${s.profiledS} s, busy ${s.busyS} s\n\nby area (share of busy time):`);
  for (const a of s.areas) console.log(`  ${a.ofBusy.padStart(6)}  ${String(a.ms).padStart(7)} ms  ${a.name}`);
  console.log("\ntop self time:");
  for (const a of s.top) console.log(`  ${a.ofBusy.padStart(6)}  ${String(a.ms).padStart(7)} ms  ${a.name}`);
}
