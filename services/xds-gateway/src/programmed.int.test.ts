import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyCloudEvent, decodeProgrammedMessage, type Programmed } from "@sharedlb/contracts";
import { CLUSTER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeltaEnvoy, SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

// lb.programmed from the fleet's real ACKs and NACKs: a real gateway process, real NATS,
// and two ADS clients (SotW and delta) that answer as Envoy does.

const FLEETS = writeFleetFile("fleets:\n  - name: edge\n    pools: [public]\n");
const IP = "203.0.113.40";

let nats: TestNats;
let nc: NatsConnection;
let pub: Publisher;
let gw: GatewayProcess;
let sotw: SotwEnvoy;
let delta: DeltaEnvoy;
const reports: { source: string; data: Programmed }[] = [];

const webPorts = (port: number) => [{ name: "https", protocol: "TCP" as const, port, nodePort: 31443 }];

/** Publishes the Service and its allocation (resourceSequence = the Service event's sequence), as watcher and allocator would. */
async function publishWeb(port: number): Promise<number> {
  const web = service("a", "shop", "web", { ports: webPorts(port) });
  const seq = await pub.service(web);
  await pub.allocation(allocation(web, IP, { resourceSequence: seq }));
  return seq;
}

function latest(version: number): Programmed | undefined {
  return reports
    .map((r) => r.data)
    .filter((d) => d.kind === "service" && d.name === "web" && d.allocationVersion === version)
    .at(-1);
}

beforeAll(async () => {
  nats = await startNats();
  const conn = await connectNats(nats.url, "programmed-test", createRootLogger("test", "warn"));
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, createRootLogger("test", "warn"));
  pub = new Publisher(conn.js);
  nc.subscribe("lb.programmed.>", {
    callback: (_err, m) => {
      const { event } = decodeProgrammedMessage(m.subject, m.data);
      reports.push({ source: (event as AnyCloudEvent).source, data: event.data });
    },
  });
  await pub.node(node("a", "w1", "10.0.0.1"));
  gw = await startGateway(nats.url, FLEETS, "gw-p", ["--programmed-interval", "50ms"]);
  sotw = new SotwEnvoy(gw.grpc, { id: "envoy-sotw", cluster: "edge" }).start();
  delta = new DeltaEnvoy(gw.grpc, { id: "envoy-delta", cluster: "edge" }).start();
});

afterAll(async () => {
  sotw?.close();
  delta?.close();
  await gw?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe("lb.programmed (real gateway, real NATS, SotW and delta clients)", () => {
  it("reports a Service acked by both Envoys once they applied its allocation's resources", async () => {
    const seq = await publishWeb(443);
    const report = await waitFor("acked by both", () => {
      const r = latest(seq);
      return r && r.acked === 2 && r.pending === 0 ? r : undefined;
    });
    expect(report).toEqual({
      cluster: "a",
      namespace: "shop",
      name: "web",
      kind: "service",
      allocationVersion: seq,
      fleet: "edge",
      acked: 2,
      nacked: 0,
      pending: 0,
    });
    expect(reports.find((r) => r.data.name === "web")?.source).toBe("sharedlb/xds-gateway/gw-p");
  });

  it("turns nacked with Envoy's error text when the fleet rejects the new version, and acked again once fixed", async () => {
    for (const [e, label] of [
      [sotw, "sotw"],
      [delta, "delta"],
    ] as const) {
      e.nackIf = (r) =>
        r.typeUrl === CLUSTER_TYPE && r.names.includes("a/shop/web/tcp-8443") ? `cluster rejected by ${label}` : undefined;
    }
    const bad = await publishWeb(8443);
    const nacked = await waitFor("nacked by both", () => {
      const r = latest(bad);
      return r && r.nacked === 2 ? r : undefined;
    });
    expect(nacked).toMatchObject({ acked: 0, nacked: 2, pending: 0, errorDetail: { typeUrl: CLUSTER_TYPE } });
    // The lowest node id's rejection is the one reported.
    expect(nacked.errorDetail).toEqual({ typeUrl: CLUSTER_TYPE, node: "envoy-delta", message: "cluster rejected by delta" });

    sotw.nackIf = undefined;
    delta.nackIf = undefined;
    const fixed = await publishWeb(9443);
    const acked = await waitFor("acked again", () => {
      const r = latest(fixed);
      return r && r.acked === 2 && r.pending === 0 ? r : undefined;
    });
    expect(acked).toMatchObject({ nacked: 0 });
    expect(acked.errorDetail).toBeUndefined();
    expect(metricValue(await gw.metrics(), "sharedlb_xds_programmed_reports_total")).toBeGreaterThanOrEqual(3);
  });
});
