import { STREAM_NAMES } from "@sharedlb/contracts";
import { LISTENER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, expect, it } from "vitest";
import { DeltaEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

// issue 12: after a nats-server restart the gateway answered /readyz 200 while it served a
// stale view, and converged only after about a minute.

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function readyz(gw: GatewayProcess): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${gw.http}/readyz`);
  return { status: res.status, body: await res.text() };
}

it("is not ready while its view may be stale, and converges within seconds of a NATS restart", async () => {
  const nats: TestNats = await startNats();
  cleanup.push(() => nats.dispose());
  const log = createRootLogger("test", "warn");
  let conn = await connectNats(nats.url, "stale-readiness", log);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  let pub = new Publisher(conn.js);
  const web = service("a", "ns", "web");
  await pub.node(node("a", "n1", "10.0.0.1"));
  await pub.service(web);
  await pub.allocation(allocation(web, "203.0.113.40"));
  const gw = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "gw-stale");
  cleanup.push(() => gw.stop());
  const envoy = new DeltaEnvoy(gw.grpc, { id: "s", cluster: "edge" }).start();
  cleanup.push(() => envoy.close());
  await waitFor("initial config", () => envoy.names(LISTENER_TYPE).includes("tcp-203.0.113.40-80"));
  await waitFor("ready", async () => (await readyz(gw)).status === 200);
  await conn.nc.close();

  await nats.stop();
  // It cannot know what changed meanwhile: not ready, and /readyz says why.
  const down = await waitFor("not ready while NATS is away", async () => {
    const r = await readyz(gw);
    return r.status === 503 ? r : undefined;
  });
  expect(down.body).toMatch(/^not ready: replayed/);
  expect(down.body).toMatch(/disconnected from NATS/);

  await nats.start();
  conn = await connectNats(nats.url, "stale-readiness-2", log);
  cleanup.push(() => conn.nc.close());
  pub = new Publisher(conn.js);
  const api = service("a", "ns", "api");
  await pub.service(api);
  await pub.allocation(allocation(api, "203.0.113.40", {}, { 80: 8080 }));
  const started = performance.now();
  // Far below the ~65 s it took when only missed heartbeats revealed the dead subscription.
  await waitFor("the change made after the restart is served", () => envoy.names(LISTENER_TYPE).includes("tcp-203.0.113.40-8080"), 15_000);
  await waitFor("ready again", async () => (await readyz(gw)).status === 200, 15_000);
  console.log(`gateway served the post-restart change ${Math.round(performance.now() - started)} ms after it was published`);
  const metrics = await gw.metrics();
  expect(metricValue(metrics, "sharedlb_consumer_pending_messages", { consumer: STREAM_NAMES.resources })).toBe(0);
  expect(metricValue(metrics, "sharedlb_consumer_pending_messages", { consumer: STREAM_NAMES.allocations })).toBe(0);
  expect(gw.proc.child.exitCode).toBeNull();
});
