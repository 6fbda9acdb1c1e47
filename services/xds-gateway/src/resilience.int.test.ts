import { CLUSTER_TYPE, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, startProcess, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, describe, expect, it } from "vitest";
import { DeltaEnvoy } from "./test-support/fake-envoy.js";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { type GatewayProcess, MAIN, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe("xds-gateway resilience", () => {
  it("exits 2 with the file and field named on a bad fleet file", async () => {
    const bad = writeFleetFile("fleets:\n  - name: edge\n    pools: []\n");
    const p = startProcess(process.execPath, [MAIN, "--config", bad, "--nats-url", "nats://127.0.0.1:1"]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain(`${bad}: field fleets[0].pools`);
    const dup = writeFleetFile("fleets:\n  - { name: edge, pools: [a] }\n  - { name: edge, pools: [b] }\n");
    const d = startProcess(process.execPath, [MAIN, "--config", dup]);
    expect(await d.exited).toBe(2);
    expect(d.output()).toContain('fleet "edge" is defined twice');
  });

  it("is not ready, and does not serve ADS, until it has replayed the streams", async () => {
    const nats: TestNats = await startNats();
    cleanup.push(() => nats.dispose());
    await nats.stop();
    // NATS is down: the process waits for it with /readyz failing.
    const p = startProcess(process.execPath, [
      MAIN,
      "--config",
      writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"),
      "--nats-url",
      nats.url,
      "--grpc-addr",
      "127.0.0.1:0",
      "--http-addr",
      "127.0.0.1:0",
      "--ads-insecure",
    ]);
    cleanup.push(() => p.stop());
    const http = (await p.waitForOutput(/"http":"([^"]+)"/))[1];
    const res = await fetch(`http://${http}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/not ready: replayed, ads/);
    expect(p.output()).not.toMatch(/ADS listening/);
    await nats.start();
    await p.waitForOutput(/ADS listening/);
    await waitFor("ready", async () => (await fetch(`http://${http}/readyz`)).status === 200);
  });

  it("keeps serving through a NATS outage and follows changes once NATS is back", async () => {
    const nats: TestNats = await startNats();
    cleanup.push(() => nats.dispose());
    const log = createRootLogger("test", "warn");
    let conn = await connectNats(nats.url, "resilience", log);
    await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
    const web = service("a", "ns", "web");
    let pub = new Publisher(conn.js);
    await pub.node(node("a", "n1", "10.0.0.1"));
    await pub.service(web);
    await pub.allocation(allocation(web, "203.0.113.30"));
    const gw: GatewayProcess = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "gw-r");
    cleanup.push(() => gw.stop());
    const envoy = new DeltaEnvoy(gw.grpc, { id: "r", cluster: "edge" }).start();
    cleanup.push(() => envoy.close());
    await waitFor("initial config", () => envoy.names(LISTENER_TYPE).includes("tcp-203.0.113.30-80"));
    await conn.nc.close();

    await nats.stop();
    await gw.proc.waitForOutput(/NATS connection status/);
    // The stream and its configuration survive the outage.
    expect(envoy.names(CLUSTER_TYPE)).toEqual(["a/ns/web/tcp-80"]);
    await nats.start();

    conn = await connectNats(nats.url, "resilience-2", log);
    cleanup.push(() => conn.nc.close());
    pub = new Publisher(conn.js);
    const api = service("a", "ns", "api");
    await pub.service(api);
    await pub.allocation(allocation(api, "203.0.113.30", {}, { 80: 8080 }));
    await waitFor("change after the outage", () => envoy.names(LISTENER_TYPE).includes("tcp-203.0.113.30-8080"), 60_000);
    expect(gw.proc.child.exitCode).toBeNull();
  });
});
