// What the benchmarks read about this machine and their own processes: CPU ticks per child
// process and for the whole machine (so results can say how much other work ran meanwhile),
// peak memory, and the small helpers every benchmark script uses.
import { readdirSync, readFileSync } from "node:fs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();
export const log = (...a) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${a.join(" ")}\n`);

/** Parent pid, CPU ticks (user + system) and command name of a process. */
export function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), comm: s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")) };
  } catch {
    return undefined;
  }
}

/** Peak resident memory of a process in MB. */
export function vmHwmMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** This process's children (the servers and services a benchmark started), with CPU ticks. */
export function children() {
  const out = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(Number(d));
    if (st && st.ppid === process.pid) out.set(Number(d), st);
  }
  return out;
}

/** Idle and total CPU ticks of the whole machine. */
export function machineCpu() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
}

/** The p-th percentile of an ascending array (nearest rank). */
export function pct(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
