// The RDS case of the peer benchmark: bench/l7's fixture (1,000 HTTPRoutes over 20 tenant
// clusters, one Gateway each on 4 shared IPs: 4 RouteConfigurations of 250 routes each)
// published through a private nats-server. The real allocator places the Gateways once
// (then stops: routes are not allocated), and the real gateway serves the result. The
// load subscribes to LDS, CDS, EDS (the routes' backend clusters) and RDS.
import { connectNats, createRootLogger, ensureStreams } from "../../libs/runtime/dist/index.js";
import { startNats, startRedis } from "../../libs/testing/dist/index.js";
import { l7Fixture } from "../l7/fixture.mjs";
import { startAllocatorProcess } from "../l7/processes.mjs";
import { EDS, RDS } from "../lib/ads-load.mjs";
import { publishAll, startGatewayOn } from "./world.mjs";

/** Routes edited together in the burst: the first 100 reach every tenant, so every RouteConfiguration. */
const BURST = 100;

export async function startRdsWorld({ routes, tenants, ips }) {
  const fixture = l7Fixture({ tenants, ips });
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const log = createRootLogger("bench-peer", "warn");
  const conn = await connectNats(nats.url, "bench-peer", log);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  let allocator;
  try {
    const allocated = new Set();
    const sub = conn.nc.subscribe("lb.allocation.*.*.*.gateway", {
      callback: (_e, m) => {
        const ev = JSON.parse(m.string());
        if (ev.data?.state === "Allocated") allocated.add(ev.data.cluster);
      },
    });
    allocator = await startAllocatorProcess(nats.url, redis.url, fixture.poolsYaml);
    await publishAll(conn.js, Array.from({ length: tenants }, (_, k) => [...fixture.nodeMessages(k), fixture.gatewayMessage(k)]).flat());
    const deadline = Date.now() + 120_000;
    while (allocated.size < tenants) {
      if (Date.now() > deadline) throw new Error(`only ${allocated.size} of ${tenants} Gateways allocated within 120 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    sub.unsubscribe();
    await publishAll(
      conn.js,
      Array.from({ length: routes }, (_, i) => fixture.routeMessage(i)),
    );
  } catch (err) {
    await conn.nc.close();
    await nats.dispose();
    throw err;
  } finally {
    await allocator?.stop(5_000);
    await redis.dispose();
  }

  // Each pair returns to the base state (generation 1's content); the gateway applies
  // events in stream order, so going back to generation 1 is a change like any other.
  const edit = (ids, generation) => ids.map((i) => fixture.routeMessage(i, generation));
  const burst = Array.from({ length: Math.min(BURST, routes) }, (_, i) => i);
  const burstConfigs = [...new Set(burst.map((i) => fixture.routeConfigOf(i)))];
  const one = "one HTTPRoute edit (1 RouteConfiguration)";
  const many = `burst of ${burst.length} HTTPRoute edits (${burstConfigs.length} RouteConfigurations)`;
  const changes = [
    { kind: "route", label: one, typeUrl: RDS, messages: edit([0], 2), expect: [fixture.routeConfigOf(0)] },
    { kind: "route", label: one, typeUrl: RDS, messages: edit([0], 1), expect: [fixture.routeConfigOf(0)] },
    { kind: "burst", label: many, typeUrl: RDS, messages: edit(burst, 2), expect: burstConfigs },
    { kind: "burst", label: many, typeUrl: RDS, messages: edit(burst, 1), expect: burstConfigs },
  ];
  return {
    name: "rds",
    subscribe: { [EDS]: fixture.clusterNames(routes), [RDS]: fixture.routeConfigNames },
    changes,
    startGateway: (env) => startGatewayOn(nats.url, env),
    /** Publishes change `k` (a burst all at once, pipelined); returns the wall-clock time just before. */
    async publishChange(k) {
      const t0 = performance.timeOrigin + performance.now();
      await publishAll(conn.js, changes[k].messages);
      return t0;
    },
    async close() {
      await conn.nc.close();
      await nats.dispose();
    },
  };
}
