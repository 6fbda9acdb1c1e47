#!/usr/bin/env node
// Client-side CPU of one JetStream publish (what the allocator does once per allocation),
// with nats.js's default async stack traces and with `noAsyncTraces: true`. With traces on,
// every request builds a RequestError and a TimeoutError up front (stack capture) and, when
// the reply arrives, a RequestError("cancelled") as well; the allocator's CPU profile shows
// these constructors among its top self-time functions.
//
//   node allocator/nats-publish-cost.mjs [--n 50000] [--inflight 256]
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats } from "@sharedlb/testing";

const { values: opts } = parseArgs({ options: { n: { type: "string", default: "50000" }, inflight: { type: "string", default: "256" } } });
const N = Number(opts.n);
const INFLIGHT = Number(opts.inflight);
const payload = new TextEncoder().encode(
  JSON.stringify({ specversion: "1.0", type: "io.sharedlb.allocation.v1", data: { pad: "x".repeat(500) } }),
);

const nats = await startNats();
try {
  const setup = await connect({ servers: nats.url });
  await (await jetstreamManager(setup)).streams.add({ name: "BENCH", subjects: ["bench.>"], max_msgs_per_subject: 1 });
  await setup.close();
  const rows = [];
  for (const noAsyncTraces of [false, true, false, true]) {
    const nc = await connect({ servers: nats.url, noAsyncTraces });
    const js = jetstream(nc);
    const running = new Set();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const p = js.publish(`bench.s${i}`, payload, { msgID: `${noAsyncTraces}-${rows.length}-${i}` }).then(() => running.delete(p));
      running.add(p);
      if (running.size >= INFLIGHT) await Promise.race(running);
    }
    await Promise.all(running);
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await nc.close();
    const row = {
      noAsyncTraces,
      publishesPerS: Math.round(N / wall),
      clientCpuUsPerPublish: Number(((cpu.user + cpu.system) / N).toFixed(1)),
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  console.log("\n| noAsyncTraces | publishes/s (one client) | client CPU µs per publish |\n|---|---|---|");
  for (const r of rows) console.log(`| ${r.noAsyncTraces} | ${r.publishesPerS} | ${r.clientCpuUsPerPublish} |`);
} finally {
  await nats.dispose();
}
process.exit(0);
