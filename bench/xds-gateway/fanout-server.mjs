// The gateway side of fanout.mjs: the gateway core and its ADS server in a process of
// their own (no NATS: the view is filled from the fixture), driven over IPC.
import { decodeAllocationMessage, decodeResourceMessage } from "../../libs/contracts/dist/index.js";
import { createMetricsRegistry, createRootLogger } from "../../libs/runtime/dist/index.js";
import { AdsServer, DEFAULT_ADS_OPTIONS, Gateway, gatewayMetrics, NO_EVENTS, WriteBudget } from "../../services/xds-gateway/dist/index.js";
import { endpointsChange, generate, nodeChange } from "./fixture.mjs";

const services = Number(process.argv[2] ?? 10_000);
const budgetMiB = Number(process.argv[3] ?? 64);
const clusters = Number(process.argv[4] ?? 100);
const fixture = generate({ services, clusters });
const gateway = new Gateway([{ name: "edge", pools: new Set(["public"]) }]);
for (const m of fixture.resources) gateway.applyResource(decodeResourceMessage(m.subject, m.bytes));
for (const m of fixture.allocations) gateway.applyAllocation(decodeAllocationMessage(m.subject, m.bytes).data);
const build = gateway.goLive();
const registry = createMetricsRegistry("bench");
const metrics = gatewayMetrics(registry);
const server = new AdsServer(
  {
    fleets: gateway.fleets,
    metrics,
    events: NO_EVENTS,
    budget: new WriteBudget(budgetMiB * 1024 * 1024),
    log: createRootLogger("bench", "warn"),
  },
  { ...DEFAULT_ADS_OPTIONS, maxConnectionAgeMs: 24 * 3600_000 },
);
const { port } = await server.listen("127.0.0.1:0");
// One-port Local Services: changing one's EndpointSlice changes exactly one CLA.
const targets = fixture.localServices.filter((l) => l.ports === 1);
let cpu = process.cpuUsage();

const edge = gateway.fleet("edge");
const wildcardCount = (t) => [...edge.table(t).wildcardEntries()].length;
const expected = {
  "type.googleapis.com/envoy.config.listener.v3.Listener": wildcardCount("type.googleapis.com/envoy.config.listener.v3.Listener"),
  "type.googleapis.com/envoy.config.cluster.v3.Cluster": wildcardCount("type.googleapis.com/envoy.config.cluster.v3.Cluster"),
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": fixture.clusterNames.length,
};
process.send({ ready: true, port, clusterNames: fixture.clusterNames, buildMs: build.ms, resources: gateway.resourceCount, expected });
process.on("message", async (m) => {
  if (m.cmd === "change") {
    const target = targets[m.i % targets.length];
    const msg = endpointsChange(target, target.nodes / 2 - 1 - Math.floor(m.i / targets.length));
    cpu = process.cpuUsage();
    const t0 = performance.timeOrigin + performance.now();
    gateway.applyResource(decodeResourceMessage(msg.subject, msg.bytes));
    process.send({ t0, name: target.clusterName });
  } else if (m.cmd === "flap") {
    // Tenant t1's last node (in no Local EndpointSlice) goes NotReady, then Ready, and so
    // on: every Cluster-policy assignment of that tenant changes each time.
    const msg = nodeChange("t1", 9, m.i % 2 === 1);
    cpu = process.cpuUsage();
    const t0 = performance.timeOrigin + performance.now();
    gateway.applyResource(decodeResourceMessage(msg.subject, msg.bytes));
    process.send({ t0, name: undefined });
  } else if (m.cmd === "cpu") {
    const d = process.cpuUsage(cpu);
    process.send({ cpuMs: (d.user + d.system) / 1000, sysMs: d.system / 1000 });
  } else if (m.cmd === "mem") {
    global.gc?.();
    const latency = (await metrics.pushLatency.get()).values;
    process.send({ mem: process.memoryUsage(), streams: server.streamCount, latency });
  } else if (m.cmd === "profile") {
    const { Session } = await import("node:inspector/promises");
    globalThis.__session ??= new Session();
    const session = globalThis.__session;
    if (m.on) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      process.send({ profiling: true });
    } else {
      const { profile } = await session.post("Profiler.stop");
      const { writeFileSync } = await import("node:fs");
      writeFileSync(m.file, JSON.stringify(profile));
      process.send({ file: m.file });
    }
  } else if (m.cmd === "snapshot") {
    const { writeHeapSnapshot } = await import("node:v8");
    process.send({ file: writeHeapSnapshot(m.file) });
  } else if (m.cmd === "stop") {
    await server.shutdown(200);
    process.exit(0);
  }
});
