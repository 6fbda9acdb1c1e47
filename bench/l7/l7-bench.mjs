// Issue 9's L7 benchmark: 1,000 HTTPRoutes over 20 tenant clusters on 4 shared IPs.
//   1. route created → Programmed: each route's resource event published (as the tenant's
//      watcher would) → the lb.programmed report saying all 10 delta clients ACKed it.
//   2. one route change → visible on 100 SotW and 100 delta clients: publish → each
//      client's first RDS response carrying the changed RouteConfiguration.
//   3. gateway memory (peak RSS, and RSS after the load).
// The LB side runs for real: nats-server, redis-server, sharedlb-allocator and
// sharedlb-xds-gateway as OS processes through their real command lines. The tenant side
// is simulated by publishing the normalized resources the watchers publish (20 kube-
// apiservers do not fit on this machine); its own cost is measured by bench/tenant.
//
//   node bench/l7/l7-bench.mjs [--tenants 20] [--routes 1000] [--ips 4] [--programmed-clients 10]
//     [--change-clients 100] [--changes 20] [--rate 50] [--json FILE]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectNats, createRootLogger, ensureStreams } from "../../libs/runtime/dist/index.js";
import { startNats, startRedis } from "../../libs/testing/dist/index.js";
import { children, log, machineCpu, now, pct, procStat, sleep, vmHwmMb } from "../lib/host.mjs";
import { openClients, RDS } from "./clients.mjs";
import { l7Fixture } from "./fixture.mjs";
import { startAllocatorProcess, startGatewayProcess } from "./processes.mjs";

const { values: opt } = parseArgs({
  options: {
    tenants: { type: "string", default: "20" },
    routes: { type: "string", default: "1000" },
    ips: { type: "string", default: "4" },
    "programmed-clients": { type: "string", default: "10" },
    "change-clients": { type: "string", default: "100" },
    changes: { type: "string", default: "20" },
    rate: { type: "string", default: "50", description: "routes created per second" },
    json: { type: "string" },
  },
});
const TENANTS = Number(opt.tenants);
const ROUTES = Number(opt.routes);
const fixture = l7Fixture({ tenants: TENANTS, ips: Number(opt.ips) });
const IPS = fixture.ips;
const wall = () => performance.timeOrigin + performance.now();

const summary = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: Math.round(pct(s, 50)), p90: Math.round(pct(s, 90)), p99: Math.round(pct(s, 99)), max: Math.round(s.at(-1) ?? Number.NaN) };
};

async function main() {
  const cpu0 = machineCpu();
  const load0 = (await import("node:os")).loadavg();
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const logger = createRootLogger("bench-l7", "warn");
  const conn = await connectNats(nats.url, "bench-l7", logger);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, logger);
  const allocator = await startAllocatorProcess(nats.url, redis.url, fixture.poolsYaml);
  const gateway = await startGatewayProcess(nats.url);
  const procs = [allocator, gateway.proc];
  const results = { tenants: TENANTS, routes: ROUTES, ips: IPS.length, load: { before: load0 } };
  try {
    // The tenants' nodes and Gateways; wait until every Gateway is allocated.
    const allocated = new Set();
    const allocSub = conn.nc.subscribe("lb.allocation.*.*.*.gateway", {
      callback: (_e, m) => {
        const ev = JSON.parse(m.string());
        if (ev.data?.state === "Allocated") allocated.add(ev.data.cluster);
      },
    });
    for (let k = 0; k < TENANTS; k++) {
      for (const m of [...fixture.nodeMessages(k), fixture.gatewayMessage(k)]) await conn.js.publish(m.subject, m.bytes);
    }
    const t0 = now();
    while (allocated.size < TENANTS) {
      if (now() - t0 > 60_000) throw new Error(`only ${allocated.size} of ${TENANTS} Gateways allocated within 60 s`);
      await sleep(50);
    }
    allocSub.unsubscribe();
    log(`${TENANTS} Gateways allocated on ${IPS.length} IPs`);

    // 1. route created → Programmed, ACKed by N delta clients following RDS.
    const rdsNames = fixture.routeConfigNames;
    const edsNames = fixture.clusterNames(ROUTES);
    const acking = openClients({ address: gateway.address, protocol: "delta", clients: Number(opt["programmed-clients"]), rds: rdsNames, prefix: "ack" });
    await acking.synced();
    const created = new Map();
    const programmedAt = new Map();
    const progSub = conn.nc.subscribe("lb.programmed.*.*.*.httproute", {
      callback: (_e, m) => {
        const d = JSON.parse(m.string()).data;
        if (d.allocationVersion >= 1 && d.nacked === 0 && d.acked >= acking.count && !programmedAt.has(d.name)) programmedAt.set(d.name, wall());
      },
    });
    const interval = 1000 / Number(opt.rate);
    const start = now();
    for (let i = 0; i < ROUTES; i++) {
      const wait = start + i * interval - now();
      if (wait > 0) await sleep(wait);
      created.set(`r${i}`, wall());
      const m = fixture.routeMessage(i);
      await conn.js.publish(m.subject, m.bytes);
    }
    const deadline = now() + 120_000;
    while (programmedAt.size < ROUTES && now() < deadline) await sleep(100);
    progSub.unsubscribe();
    const createMs = [...programmedAt].map(([name, t]) => t - (created.get(name) ?? t));
    results.createToProgrammed = { ...summary(createMs), missing: ROUTES - programmedAt.size, rate: Number(opt.rate), clients: acking.count };
    log(`route created → Programmed: ${JSON.stringify(results.createToProgrammed)}`);
    results.gatewayRssAfterRoutesMb = gateway.rssMb();
    acking.close();

    // 2. one route change → visible on N SotW and N delta clients.
    const n = Number(opt["change-clients"]);
    // Every change is a new generation of a route: the same content twice would be no change.
    let generation = 1;
    for (const protocol of ["sotw", "delta"]) {
      const group = openClients({ address: gateway.address, protocol, clients: n, rds: rdsNames, eds: edsNames, prefix: protocol });
      await group.synced();
      const lat = [];
      let missing = 0;
      for (let c = 0; c < Number(opt.changes); c++) {
        const i = (c * 37) % ROUTES;
        generation++;
        const rc = fixture.routeConfigOf(i);
        const marks = group.mark();
        const t = wall();
        const m = fixture.routeMessage(i, generation);
        await conn.js.publish(m.subject, m.bytes);
        const seen = await group.waitSeen(marks, RDS, rc, 10_000);
        for (const s of seen) if (s === undefined) missing++; else lat.push(s - t);
        if (process.env.BENCH_DEBUG && seen[0] === undefined) log(`client 0 after the change to ${rc}: ${JSON.stringify(group.since(marks, 0))}`);
        await sleep(200);
      }
      results[`change_${protocol}`] = { ...summary(lat), missing, clients: n };
      log(`route change → ${n} ${protocol} clients: ${JSON.stringify(results[`change_${protocol}`])}`);
      group.close();
    }

    results.gateway = { peakRssMb: vmHwmMb(gateway.proc.child.pid), rssMb: gateway.rssMb(), cpuTicks: procStat(gateway.proc.child.pid)?.ticks };
    const cpu1 = machineCpu();
    results.machine = {
      load: (await import("node:os")).loadavg(),
      busyShare: 1 - (cpu1.idle - cpu0.idle) / (cpu1.total - cpu0.total),
      children: [...children().values()].map((c) => ({ comm: c.comm, ticks: c.ticks })),
    };
    console.log(JSON.stringify(results, null, 2));
    if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2));
  } finally {
    for (const p of procs) await p.stop(5_000);
    await conn.nc.close();
    await Promise.all([nats.dispose(), redis.dispose()]);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
