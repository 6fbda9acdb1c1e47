// Slow or stuck ADS clients cannot starve the others: hundreds of streams that never
// read hold responses the gateway cannot write, and a new, well-behaved client is still
// served; a client that reads but never answers is sent no more than its limit; a
// stream that does not read for --stream-evict-after is ended and reported.
import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyCloudEvent, decodeEvent, type XdsActivity } from "@sharedlb/contracts";
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsClient } from "./client/ads-client.js";
import { SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";
import { openStuckStreams } from "./test-support/stuck-client.js";

const FLEETS = writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n");
const SERVICES = 120;
const services = Array.from({ length: SERVICES }, (_, i) =>
  service("s", "stuck", `svc${i}`, { ports: [{ name: "p", protocol: "TCP", port: 7000 + i, nodePort: 30000 + i }] }),
);

let nats: TestNats;
let nc: NatsConnection;
let pub: Publisher;
const cleanup: (() => unknown)[] = [];
const xdsEvents: XdsActivity[] = [];

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "starvation-test", log);
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  nc.subscribe("lb.xds.>", {
    callback: (_err, m) => {
      const ev: AnyCloudEvent = decodeEvent(m.data);
      if (ev.type === "io.sharedlb.xds.v1") xdsEvents.push(ev.data);
    },
  });
  await pub.node(node("s", "n1", "10.2.0.1"));
  await Promise.all(services.map((s) => pub.service(s)));
  await Promise.all(services.map((s) => pub.allocation(allocation(s, "198.51.100.30"))));
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await nc?.close();
  await nats?.dispose();
});

async function gateway(replica: string, args: string[]): Promise<GatewayProcess> {
  const gw = await startGateway(nats.url, FLEETS, replica, args);
  cleanup.push(() => gw.stop());
  return gw;
}

const sotwStreams = async (gw: GatewayProcess) =>
  metricValue(await gw.metrics(), "sharedlb_xds_streams", { protocol: "sotw", fleet: "edge" });

describe("stream starvation", () => {
  it("a new client is served normally while hundreds of streams never read", async () => {
    // The stuck streams' responses (~30 KiB each, more than an HTTP/2 stream buffers) add
    // up to several times the whole budget.
    const gw = await gateway("gw-stuck", [
      "--write-budget-bytes",
      String(1024 * 1024),
      "--write-stall-after",
      "200ms",
      "--stream-evict-after",
      "10m",
    ]);
    const stuck = openStuckStreams(gw.grpc, 15, 20, "edge");
    cleanup.push(() => stuck.close());
    await waitFor("300 stuck streams connected", async () => (await sotwStreams(gw)) === 300);
    const envoy = new SotwEnvoy(gw.grpc, { id: "well-behaved", cluster: "edge" }).start();
    cleanup.push(() => envoy.close());
    await waitFor(
      "full configuration",
      () =>
        envoy.names(CLUSTER_TYPE).length === SERVICES &&
        envoy.names(ENDPOINT_TYPE).length === SERVICES &&
        envoy.names(LISTENER_TYPE).length === SERVICES,
    );
    // Served while every stuck stream is still there, none evicted.
    expect(await sotwStreams(gw)).toBe(301);
    expect(metricValue(await gw.metrics(), "sharedlb_xds_evictions_total", { protocol: "sotw", fleet: "edge" })).toBe(0);
    expect(envoy.errors).toEqual([]);
  });

  it("a client that reads but never answers gets one response, then more only once it answers", async () => {
    const gw = await gateway("gw-unacked", ["--stream-unacked-bytes", "1"]);
    const client = new AdsClient(gw.grpc);
    cleanup.push(() => client.close());
    const call = client.sotwHeads();
    cleanup.push(() => call.cancel());
    call.send({ node: { id: "silent", cluster: "edge" }, typeUrl: CLUSTER_TYPE });
    call.send({ typeUrl: LISTENER_TYPE });
    const first = await call.waitFor(() => true, 10_000, 0);
    expect(first.typeUrl).toBe(CLUSTER_TYPE);
    // A barrier through the same gateway: a second client gets its LDS, the silent one not.
    const other = client.sotwHeads();
    cleanup.push(() => other.cancel());
    other.send({ node: { id: "other", cluster: "edge" }, typeUrl: LISTENER_TYPE });
    await other.waitFor((r) => r.typeUrl === LISTENER_TYPE, 10_000, 0);
    expect(call.received).toHaveLength(1);
    call.send({ typeUrl: CLUSTER_TYPE, versionInfo: first.version, responseNonce: first.nonce });
    const second = await call.waitFor(() => true, 10_000, 1);
    expect(second.typeUrl).toBe(LISTENER_TYPE);
  });

  it("evicts a stream that has not read for --stream-evict-after, with an lb.xds event", async () => {
    const gw = await gateway("gw-evict", ["--stream-evict-after", "1s"]);
    const stuck = openStuckStreams(gw.grpc, 2, 10, "edge");
    cleanup.push(() => stuck.close());
    await waitFor(
      "20 evictions",
      async () => metricValue(await gw.metrics(), "sharedlb_xds_evictions_total", { protocol: "sotw", fleet: "edge" }) === 20,
    );
    await waitFor("stuck streams gone", async () => (await sotwStreams(gw)) === 0);
    await waitFor("20 evicted events", () => xdsEvents.filter((e) => e.event === "evicted" && e.replica === "gw-evict").length === 20);
    expect(xdsEvents.find((e) => e.event === "evicted")).toMatchObject({
      fleet: "edge",
      stream: "sotw",
      node: expect.stringMatching(/^stuck-/),
    });
  });
});
