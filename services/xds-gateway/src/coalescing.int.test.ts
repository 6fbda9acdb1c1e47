// A burst of changes reaches each stream as one response: a tenant node going NotReady
// changes the assignments of all 500 of its Services, and every client gets one EDS
// response carrying the 500, not 500 responses (SotW and delta).
import { CLUSTER_TYPE, ENDPOINT_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeltaEnvoy, SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

const SERVICES = 500;
const NODES = [node("t", "n1", "10.1.0.1"), node("t", "n2", "10.1.0.2"), node("t", "n3", "10.1.0.3")];
const services = Array.from({ length: SERVICES }, (_, i) =>
  service("t", "burst", `s${i}`, { ports: [{ name: "p", protocol: "TCP", port: 8000, nodePort: 30000 + i }] }),
);
const ipOf = (i: number) => `198.51.100.${1 + (i % 200)}`;

let nats: TestNats;
let pub: Publisher;
let gw: GatewayProcess;
let closeNats: (() => Promise<void>) | undefined;
const closers: (() => void)[] = [];

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "coalescing-test", log);
  closeNats = () => conn.nc.close();
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  for (const n of NODES) await pub.node(n);
  await Promise.all(services.map((s) => pub.service(s)));
  await Promise.all(services.map((s, i) => pub.allocation(allocation(s, ipOf(i), {}, { 8000: 8000 + Math.floor(i / 200) }))));
  gw = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "gw-burst");
});

afterAll(async () => {
  for (const c of closers) c();
  await gw?.stop();
  await closeNats?.();
  await nats?.dispose();
});

const endpointCount = (e: SotwEnvoy | DeltaEnvoy) => {
  let n = 0;
  for (const [name, cla] of e.resources(ENDPOINT_TYPE))
    if (name.startsWith("t/burst/s")) n += (cla.endpoints ?? []).reduce((a, l) => a + (l.lbEndpoints?.length ?? 0), 0);
  return n;
};

describe("bursts coalesce", () => {
  it("a node change that changes 500 assignments is one EDS response per stream", async () => {
    const sotw = new SotwEnvoy(gw.grpc, { id: "burst-sotw", cluster: "edge" }).start();
    const delta = new DeltaEnvoy(gw.grpc, { id: "burst-delta", cluster: "edge" }).start();
    closers.push(
      () => sotw.close(),
      () => delta.close(),
    );
    for (const e of [sotw, delta]) await waitFor("every assignment with 3 endpoints", () => endpointCount(e) === SERVICES * 3, 60_000, 200);
    let barrierNo = 0;
    for (const [round, ready] of [false, true].entries()) {
      const from = { sotw: sotw.log.length, delta: delta.log.length };
      await pub.node({ ...NODES[0], ready } as (typeof NODES)[0]);
      for (const e of [sotw, delta])
        await waitFor(
          `n1 ${ready ? "back in" : "out of"} every assignment`,
          () => endpointCount(e) === SERVICES * (ready ? 3 : 2),
          60_000,
          200,
        );
      // Barrier: a new Service changes CDS; everything before its CDS response came from the node change.
      const barrier = service("t", "burst", `barrier${barrierNo++}`, {
        ports: [{ name: "b", protocol: "TCP", port: 9000, nodePort: 31000 + barrierNo }],
      });
      await pub.service(barrier);
      await pub.allocation(allocation(barrier, "198.51.100.250", {}, { 9000: 9000 + barrierNo }));
      for (const [e, start] of [
        [sotw, from.sotw],
        [delta, from.delta],
      ] as const) {
        const name = `t/burst/${barrier.name}/tcp-9000`;
        const cds = await e.waitFor("barrier CDS", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes(name), start);
        const eds = e.log.slice(start, e.log.indexOf(cds)).filter((r) => r.typeUrl === ENDPOINT_TYPE);
        // The 500, and the barrier Services of earlier rounds, which share the nodes.
        expect(eds.map((r) => r.names.length)).toEqual([SERVICES + round]);
        await waitFor("barrier's assignment held", () => e.names(ENDPOINT_TYPE).includes(name));
      }
    }
    expect([...sotw.errors, ...delta.errors]).toEqual([]);
  });
});
