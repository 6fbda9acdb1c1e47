// The sharedlb side of the peer benchmark: a private nats-server holding the fixture as
// the watcher and allocator would have published it, the real xds-gateway process fed
// from it, and the changes (single Service, tenant node flap) published through NATS.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeEvent, makeEvent, subjects } from "../../libs/contracts/dist/index.js";
import { connectNats, createRootLogger, ensureStreams } from "../../libs/runtime/dist/index.js";
import { startNats, startProcess } from "../../libs/testing/dist/index.js";
import { EDS } from "../lib/ads-load.mjs";
import { endpointsChange, generate } from "../xds-gateway/fixture.mjs";

const GATEWAY = new URL("../../services/xds-gateway/dist/main.js", import.meta.url).pathname;
// Tenant t1 has exactly 500 assignments in the fixture (one TCP port per Service, no UDP
// or gRPC ports: those fall on other tenants), as in issue 11's measurement.
const FLAPPING_TENANT = "t1";
const FLAPPING_NODE = "node-0";
const FLAPPING_NODE_ADDRESS = "10.0.1.1"; // fixture.mjs: 10.<c >> 8>.<c & 255>.<n + 1>

/**
 * The changes every server gets, in this order: `servicePairs` single-Service pairs, then
 * the flap pair. Each pair returns the state to where it was, so a fresh server (or a
 * restarted gateway) always starts from the same base.
 */
function changeEvents(fixture, servicePairs) {
  const singles = fixture.localServices.filter((l) => l.ports === 1).slice(0, servicePairs);
  const node = (ready) => {
    const data = {
      cluster: FLAPPING_TENANT,
      name: FLAPPING_NODE,
      addresses: { internal: FLAPPING_NODE_ADDRESS, external: "" },
      ready,
      excluded: false,
    };
    return {
      subject: subjects.node(FLAPPING_TENANT, FLAPPING_NODE),
      bytes: encodeEvent(
        makeEvent({ type: "io.sharedlb.node.v1", source: "sharedlb/bench/peer", subject: `${FLAPPING_TENANT}//${FLAPPING_NODE}`, data }),
      ),
    };
  };
  const flapped = fixture.clusterNames.filter((n) => n.startsWith(`${FLAPPING_TENANT}/`));
  const out = [];
  const service = "single Service (1 CLA)";
  const flap = `node flap (${flapped.length} CLAs)`;
  for (const s of singles) {
    out.push({ kind: "service", label: service, typeUrl: EDS, event: endpointsChange(s, s.nodes / 2 - 1), expect: [s.clusterName] });
    out.push({ kind: "service", label: service, typeUrl: EDS, event: endpointsChange(s, s.nodes / 2), expect: [s.clusterName] });
  }
  out.push({ kind: "flap", label: flap, typeUrl: EDS, event: node(false), expect: flapped });
  out.push({ kind: "flap", label: flap, typeUrl: EDS, event: node(true), expect: flapped });
  return out;
}

/** Starts the real gateway process on `natsUrl`, replaying the streams; resolves once it serves ADS. */
export async function startGatewayOn(natsUrl, env = {}) {
  const fleets = join(mkdtempSync(join(tmpdir(), "sharedlb-peer-")), "fleets.yaml");
  writeFileSync(fleets, "fleets: [{ name: edge, pools: [public] }]\n");
  const flags = {
    config: fleets,
    "nats-url": natsUrl,
    "grpc-addr": "127.0.0.1:0",
    "http-addr": "127.0.0.1:0",
    replica: "peer",
    "log-level": "info",
  };
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  // The benchmark's clients are plaintext; ADS TLS is not what it measures.
  const proc = startProcess(process.execPath, [GATEWAY, ...args, "--ads-insecure"], env);
  const grpc = (await proc.waitForOutput(/"grpc":"([^"]+)"/, 120_000))[1];
  const http = (await proc.waitForOutput(/"http":"([^"]+)"/, 1_000))[1];
  const deadline = Date.now() + 300_000;
  while ((await fetch(`http://${http}/readyz`).catch(() => ({ status: 0 }))).status !== 200) {
    if (Date.now() > deadline) throw new Error("gateway not ready within 300 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    proc,
    pid: proc.child.pid,
    address: grpc,
    /** The gateway's own account of its work so far: rebuilds, rebuild time and pushes. */
    async work() {
      const text = await (await fetch(`http://${http}/metrics`)).text();
      const total = (name) => {
        let sum = 0;
        for (const line of text.split("\n")) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
        return sum;
      };
      return {
        rebuilds: total("sharedlb_xds_rebuild_seconds_count"),
        rebuildMs: total("sharedlb_xds_rebuild_seconds_sum") * 1000,
        pushes: total("sharedlb_xds_pushes_total"),
        pushLatencyMs: total("sharedlb_xds_push_latency_seconds_sum") * 1000,
        pushLatencyCount: total("sharedlb_xds_push_latency_seconds_count"),
        rebuildWaitMs: total("sharedlb_xds_rebuild_wait_seconds_sum") * 1000,
        programmedFlushMs: total("sharedlb_xds_programmed_flush_seconds_sum") * 1000,
        programmedFlushes: total("sharedlb_xds_programmed_flush_seconds_count"),
        programmedReports: total("sharedlb_xds_programmed_reports_total"),
      };
    },
    stop: () => proc.stop(5_000),
  };
}

/** Publishes pipelined, 500 in flight, as the watcher and allocator publish. */
export async function publishAll(js, messages) {
  for (let i = 0; i < messages.length; i += 500) {
    await Promise.all(messages.slice(i, i + 500).map((m) => js.publish(m.subject, m.bytes)));
  }
}

/**
 * The L4 case: `xds-gateway/fixture.mjs` (`services` Services over `clusters` tenants) as
 * the watcher and allocator would have published it; the load subscribes to LDS, CDS and
 * EDS. Every world has this shape: the names the load subscribes to, the changes (each
 * `publish()`ed as it would happen, `expect`ing names of `typeUrl` to change), the gateway.
 */
export async function startWorld({ services, clusters, servicePairs = 2 }) {
  const fixture = generate({ services, clusters });
  const nats = await startNats();
  const log = createRootLogger("bench-peer", "warn");
  const conn = await connectNats(nats.url, "bench-peer", log);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  await publishAll(conn.js, [...fixture.resources, ...fixture.allocations]);
  const changes = changeEvents(fixture, servicePairs);
  return {
    name: "l4",
    subscribe: { [EDS]: fixture.clusterNames },
    changes,
    startGateway: (env) => startGatewayOn(nats.url, env),
    /** Publishes change `k`; returns the wall-clock time just before the publish. */
    async publishChange(k) {
      const { subject, bytes } = changes[k].event;
      const t0 = performance.timeOrigin + performance.now();
      await conn.js.publish(subject, bytes);
      return t0;
    },
    async close() {
      await conn.nc.close();
      await nats.dispose();
    },
  };
}
