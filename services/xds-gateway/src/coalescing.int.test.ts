// A burst of changes reaches each stream as one response (SotW and delta): a tenant node
// going NotReady changes the assignments of all 500 of its Services, and every client gets
// one EDS response carrying the 500, not 500 responses; 100 HTTPRoute edits published
// back to back are one RDS response; 100 Services and their allocations edited back to
// back (two streams) one EDS response. The gateway runs with a wider rebuild window than its
// default (10 ms quiet, 100 ms at most): on a loaded CI machine the publisher itself can stall
// for more than 10 ms inside a burst, and what is tested is that a burst arriving within the
// window is one rebuild, not how fast this machine publishes.
import type { RouteResource } from "@sharedlb/contracts";
import { CLUSTER_TYPE, ENDPOINT_TYPE, type envoy, ROUTE_TYPE } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeltaEnvoy, type Received, SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { allocatedListener, backend, gateway, httpListener, l7Allocation, prefixRule, route } from "./test-support/l7-fixtures.js";
import { Publisher } from "./test-support/publisher.js";

const SERVICES = 500;
const NODES = [node("t", "n1", "10.1.0.1"), node("t", "n2", "10.1.0.2"), node("t", "n3", "10.1.0.3")];
const services = Array.from({ length: SERVICES }, (_, i) =>
  service("t", "burst", `s${i}`, { ports: [{ name: "p", protocol: "TCP", port: 8000, nodePort: 30000 + i }] }),
);
const ipOf = (i: number) => `198.51.100.${1 + (i % 200)}`;
const externalPortOf = (i: number) => ({ 8000: 8000 + Math.floor(i / 200) });

// The HTTPRoutes live in another tenant (u), so a change of t's nodes leaves their backend's assignment alone.
const ROUTES = 100;
const L7_IP = "203.0.113.60";
const ROUTE_CONFIG = `http-${L7_IP}-80`;
const hostOf = (i: number) => `r${i}.burst.example.com`;
const l7Gateway = gateway("u", "web", "gw", 1, [httpListener("http", 80, "*.burst.example.com")]);
/** Route `i` at `generation` sends `/v<generation>` to the backend. */
const webRoute = (i: number, generation: number): RouteResource =>
  route("HTTPRoute", "u", "web", `r${i}`, generation, {
    parentRefs: [{ namespace: "web", name: "gw" }],
    hostnames: [hostOf(i)],
    rules: [prefixRule(`/v${generation}`, [backend("web", "app", 8080, 31080)])],
  });

let nats: TestNats;
let pub: Publisher;
let gw: GatewayProcess;
let sotw: SotwEnvoy;
let delta: DeltaEnvoy;
let closeNats: (() => Promise<void>) | undefined;
/** Barrier Services published so far (they are t's Services too, on t's nodes). */
let barriers = 0;

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "coalescing-test", log);
  closeNats = () => conn.nc.close();
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  for (const n of [...NODES, node("u", "m1", "10.2.0.1")]) await pub.node(n);
  await Promise.all(services.map((s) => pub.service(s)));
  await Promise.all(services.map((s, i) => pub.allocation(allocation(s, ipOf(i), {}, externalPortOf(i)))));
  await pub.gateway(l7Gateway);
  await Promise.all(Array.from({ length: ROUTES }, (_, i) => pub.route(webRoute(i, 1))));
  await pub.l7Allocation(l7Allocation(l7Gateway, "gateway", [allocatedListener("http", "HTTP", L7_IP, 80, ["*.burst.example.com"])]));
  gw = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n"), "gw-burst", [
    "--rebuild-quiet",
    "250ms",
    "--rebuild-max-delay",
    "5s",
  ]);
  sotw = new SotwEnvoy(gw.grpc, { id: "burst-sotw", cluster: "edge" }).start().watchRoutes([ROUTE_CONFIG]);
  delta = new DeltaEnvoy(gw.grpc, { id: "burst-delta", cluster: "edge" }).start().watchRoutes([ROUTE_CONFIG]);
  for (const e of [sotw, delta]) {
    await waitFor("every assignment with 3 endpoints", () => endpointCount(e) === SERVICES * 3, 60_000, 200);
    await waitFor("every HTTPRoute at generation 1", () => routesAt(e, 1), 60_000, 200);
  }
});

afterAll(async () => {
  sotw?.close();
  delta?.close();
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

const prefixOf = (r: envoy.config.route.v3.IRoute) => r.match?.pathSeparatedPrefix || r.match?.prefix || "";

/** Every route's virtual host in the held RouteConfiguration sends `/v<generation>` (and only that). */
const routesAt = (e: SotwEnvoy | DeltaEnvoy, generation: number) => {
  const hosts = new Map((e.resources(ROUTE_TYPE).get(ROUTE_CONFIG)?.virtualHosts ?? []).map((v) => [v.domains?.join(), v]));
  return Array.from({ length: ROUTES }, (_, i) => hosts.get(hostOf(i))).every(
    (v) => (v?.routes ?? []).map(prefixOf).join() === `/v${generation}`,
  );
};

/** The port t's assignment of Service `i` sends to (every endpoint's). */
const nodePortsOf = (e: SotwEnvoy | DeltaEnvoy, i: number) => {
  const cla = e.resources(ENDPOINT_TYPE).get(`t/burst/s${i}/tcp-8000`);
  return [
    ...new Set((cla?.endpoints ?? []).flatMap((l) => (l.lbEndpoints ?? []).map((x) => x.endpoint?.address?.socketAddress?.portValue))),
  ];
};

/**
 * The responses of `typeUrl` each client received from `from` on, up to the CDS response
 * carrying a new barrier Service: everything before it came from the change under test.
 */
async function responsesBefore(from: { sotw: number; delta: number }, typeUrl: string): Promise<Received[][]> {
  barriers++;
  const barrier = service("t", "burst", `barrier${barriers}`, {
    ports: [{ name: "b", protocol: "TCP", port: 9000, nodePort: 31000 + barriers }],
  });
  await pub.service(barrier);
  await pub.allocation(allocation(barrier, "198.51.100.250", {}, { 9000: 9000 + barriers }));
  const name = `t/burst/${barrier.name}/tcp-9000`;
  const out: Received[][] = [];
  for (const [e, start] of [
    [sotw, from.sotw],
    [delta, from.delta],
  ] as const) {
    const cds = await e.waitFor("barrier CDS", (r) => r.typeUrl === CLUSTER_TYPE && r.names.includes(name), start);
    out.push(e.log.slice(start, e.log.indexOf(cds)).filter((r) => r.typeUrl === typeUrl));
    await waitFor("barrier's assignment held", () => e.names(ENDPOINT_TYPE).includes(name));
  }
  return out;
}

describe("bursts coalesce", () => {
  it("a node change that changes 500 assignments is one EDS response per stream", async () => {
    for (const ready of [false, true]) {
      const from = { sotw: sotw.log.length, delta: delta.log.length };
      // The 500, and the barrier Services published before, which share the nodes.
      const assignments = SERVICES + barriers;
      await pub.node({ ...NODES[0], ready } as (typeof NODES)[0]);
      for (const e of [sotw, delta])
        await waitFor(
          `n1 ${ready ? "back in" : "out of"} every assignment`,
          () => endpointCount(e) === SERVICES * (ready ? 3 : 2),
          60_000,
          200,
        );
      for (const eds of await responsesBefore(from, ENDPOINT_TYPE)) expect(eds.map((r) => r.names.length)).toEqual([assignments]);
    }
    expect([...sotw.errors, ...delta.errors]).toEqual([]);
  });

  it("100 HTTPRoute edits published back to back are one RDS response per stream, with every edit", async () => {
    for (const generation of [2, 3]) {
      const from = { sotw: sotw.log.length, delta: delta.log.length };
      await pub.burst(Array.from({ length: ROUTES }, (_, i) => pub.routeMessage(webRoute(i, generation))));
      for (const e of [sotw, delta])
        await waitFor(`every HTTPRoute at generation ${generation}`, () => routesAt(e, generation), 60_000, 50);
      // One response, and the state it left is every edit's final one.
      for (const rds of await responsesBefore(from, ROUTE_TYPE)) expect(rds.map((r) => r.names)).toEqual([[ROUTE_CONFIG]]);
    }
    expect([...sotw.errors, ...delta.errors]).toEqual([]);
  });

  it("100 Services and their allocations edited back to back (two streams) are one EDS response per stream", async () => {
    const edited = services.slice(0, 100).map((s, i) => ({ ...s, ports: s.ports.map((p) => ({ ...p, nodePort: 32000 + i })) }));
    const from = { sotw: sotw.log.length, delta: delta.log.length };
    await pub.burst([
      ...edited.map((s) => pub.serviceMessage(s)),
      ...edited.map((s, i) => pub.allocationMessage(allocation(s, ipOf(i), {}, externalPortOf(i)))),
    ]);
    for (const e of [sotw, delta])
      await waitFor(
        "every edited assignment at its new NodePort",
        () => edited.every((_, i) => nodePortsOf(e, i).join() === `${32000 + i}`),
        60_000,
        50,
      );
    for (const eds of await responsesBefore(from, ENDPOINT_TYPE)) expect(eds.map((r) => r.names.length)).toEqual([edited.length]);
    expect([...sotw.errors, ...delta.errors]).toEqual([]);
  });
});
