// SotW RDS sends only what changed: @grpc/grpc-js-xds (a SotW-only client) follows two
// GRPCRoutes, each served as an API listener with its own RouteConfiguration. One route's
// edit goes out as one RouteConfiguration, and the other route stays in force on the client.
import * as grpc from "@grpc/grpc-js";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { callEcho, freePort, startEchoServer, startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { node } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { useGrpcXds } from "./test-support/grpc-xds-client.js";
import { allocatedListener, backend, gateway, httpListener, l7Allocation, route } from "./test-support/l7-fixtures.js";
import { Publisher } from "./test-support/publisher.js";

const IP = "203.0.113.60";
const ONE = "one.a.example.com";
const TWO = "two.a.example.com";
const ECHO_SERVICE = "sharedlb.test.Echo";

let nats: TestNats;
let pub: Publisher;
let gw: GatewayProcess;
let closeNats: (() => Promise<void>) | undefined;
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
const ports = { v1: 0, v2: 0 };

const grpcRoute = (name: string, hostname: string, generation: number, nodePort: number) =>
  route("GRPCRoute", "a", "shop", name, generation, {
    parentRefs: [{ namespace: "shop", name: "gw", sectionName: name }],
    hostnames: [hostname],
    rules: [
      {
        matches: [{ grpc: { type: "Exact", service: ECHO_SERVICE } }],
        filters: [],
        backends: [backend("shop", `echo-${nodePort}`, 50051, nodePort)],
      },
    ],
  });
const who = (client: grpc.Client) => callEcho(client, `/${ECHO_SERVICE}/Who`);

beforeAll(async () => {
  for (const label of ["v1", "v2"] as const) {
    ports[label] = await freePort();
    servers.push(await startEchoServer("127.0.0.2", ports[label], [`/${ECHO_SERVICE}/Who`], label));
  }
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "rds-partial-test", log);
  closeNats = () => conn.nc.close();
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  await pub.node(node("a", "n2", "127.0.0.2"));
  const gw1 = gateway("a", "shop", "gw", 1, [httpListener("one", 80, ONE), httpListener("two", 80, TWO)]);
  await pub.gateway(gw1);
  await pub.route(grpcRoute("one", ONE, 1, ports.v1));
  await pub.route(grpcRoute("two", TWO, 1, ports.v1));
  await pub.l7Allocation(
    l7Allocation(gw1, "gateway", [allocatedListener("one", "HTTP", IP, 80, [ONE]), allocatedListener("two", "HTTP", IP, 80, [TWO])]),
  );
  gw = await startGateway(
    nats.url,
    writeFleetFile("fleets: [{ name: edge, pools: [public] }]\nnodeAddresses: { allowLoopback: true }\n"),
    "gw-rds",
  );
  useGrpcXds(gw.grpc, "proxyless-rds");
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.forceShutdown();
  await gw?.stop();
  await closeNats?.();
  await nats?.dispose();
});

it("an RDS update carrying one changed RouteConfiguration leaves the other route in force", async () => {
  const one = new grpc.Client(`xds:///${ONE}`, grpc.credentials.createInsecure());
  const two = new grpc.Client(`xds:///${TWO}`, grpc.credentials.createInsecure());
  clients.push(one, two);
  await waitFor("both routes answer from v1", async () => (await who(one)) === "v1" && (await who(two)) === "v1");
  const pushed = async () => metricValue(await gw.metrics(), "sharedlb_xds_push_resources_total", { protocol: "sotw", type: "rds" });
  const before = await pushed();
  // Both RouteConfigurations went out on this stream at first.
  expect(before).toBeGreaterThanOrEqual(2);

  await pub.route(grpcRoute("two", TWO, 2, ports.v2));
  await waitFor("route two answers from v2", async () => (await who(two)) === "v2");
  // One SotW stream (grpc-js-xds shares it between channels), one changed RouteConfiguration.
  expect((await pushed()) - before).toBe(1);
  // Route one's configuration was not in that response, and the client still routes by it.
  for (let i = 0; i < 10; i++) expect(await who(one)).toBe("v1");
});
