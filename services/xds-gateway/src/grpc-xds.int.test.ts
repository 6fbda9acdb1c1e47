// An independent xDS client: @grpc/grpc-js-xds resolves xds:/// targets through the
// gateway and load-balances real RPCs over real gRPC servers that stand in for tenant
// nodes (127.0.0.2, 127.0.0.3, … sharing one NodePort).
import * as grpc from "@grpc/grpc-js";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { callEcho, freePort, startEchoServer, startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocation, endpoints, node, service } from "@sharedlb/testing/resources";
import { type GatewayProcess, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { useGrpcXds } from "./test-support/grpc-xds-client.js";
import { Publisher } from "./test-support/publisher.js";

const WHO = "/sharedlb.test.Echo/Who";
/** A gRPC server answering Who with its own address. */
const backend = (host: string, port: number) => startEchoServer(host, port, [WHO], host);
const who = (client: grpc.Client) => callEcho(client, WHO);

async function spread(client: grpc.Client, calls: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const h = await who(client);
    seen.set(h, (seen.get(h) ?? 0) + 1);
  }
  return seen;
}

const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
let nats: TestNats;
let gw: GatewayProcess;
let pub: Publisher;
let nodePort: number;
const backends: grpc.Server[] = [];
const clients: grpc.Client[] = [];
let closeNats: (() => Promise<void>) | undefined;

// Each test has a tenant cluster of its own (nodes n2 and n3 at 127.0.0.2 and .3), so
// what one changes (a node going NotReady, a Service deleted) no other test sees.
const greeter = (cluster: string, name = "greeter") =>
  service(cluster, "shop", name, { ports: [{ name: "grpc", protocol: "TCP", port: 50051, nodePort, appProtocol: "grpc" }] });
const numbered = (cluster: string) =>
  service(cluster, "shop", "numbered", { ports: [{ name: "", protocol: "TCP", port: 9000, nodePort, appProtocol: "kubernetes.io/h2c" }] });

/** A tenant cluster with two ready nodes and the given Services allocated. */
async function tenant(cluster: string, services: ReturnType<typeof service>[]): Promise<void> {
  await pub.node(node(cluster, "n2", "127.0.0.2"));
  await pub.node(node(cluster, "n3", "127.0.0.3"));
  for (const s of services) {
    await pub.service(s);
    await pub.allocation(allocation(s, "203.0.113.20"));
  }
}

function xdsClient(target: string): grpc.Client {
  const client = new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

beforeAll(async () => {
  // One NodePort for every "node": find one free on all three loopback addresses.
  for (let attempt = 0; backends.length < HOSTS.length; attempt++) {
    if (attempt > 10) throw new Error("no port free on all loopback addresses");
    nodePort = await freePort();
    try {
      for (const h of HOSTS) backends.push(await backend(h, nodePort));
    } catch {
      for (const b of backends.splice(0)) b.forceShutdown();
    }
  }
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  const conn = await connectNats(nats.url, "grpc-xds-test", log);
  closeNats = () => conn.nc.close();
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
  gw = await startGateway(nats.url, writeFleetFile("fleets: [{ name: edge, pools: [public] }]\nnodeAddresses: { allowLoopback: true }\n"), "gw-grpc");
  useGrpcXds(gw.grpc, "proxyless-test");
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const b of backends) b.forceShutdown();
  await gw?.stop();
  await closeNats?.();
  await nats?.dispose();
});

describe("proxyless gRPC through the gateway (@grpc/grpc-js-xds)", () => {
  it("resolves xds:///<port name>.<service>.<namespace>.<cluster> and spreads RPCs over the ready nodes", async () => {
    await tenant("a", [greeter("a")]);
    const client = xdsClient("grpc.greeter.shop.a");
    const seen = await spread(client, 20);
    expect([...seen.keys()].sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
    // Round robin over the subchannels that are up; the very first calls may find only one up.
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(5);
    const steady = await spread(client, 20);
    expect([...steady.values()]).toEqual([10, 10]);
  });

  it("uses the port number when the port has no name", async () => {
    await tenant("b", [numbered("b")]);
    const client = xdsClient("9000.numbered.shop.b");
    expect([...(await spread(client, 6)).keys()].sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
  });

  it("an EDS update carrying one changed assignment leaves the others in force", async () => {
    const pinned = service("c", "shop", "pinned", {
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 32002,
      ports: [{ name: "grpc", protocol: "TCP", port: 50052, nodePort, appProtocol: "grpc" }],
    });
    await tenant("c", [greeter("c")]);
    await pub.service(pinned);
    await pub.endpoints(endpoints("c", "shop", "pinned", ["n2"]));
    await pub.allocation(allocation(pinned, "203.0.113.21"));
    const onPinned = xdsClient("grpc.pinned.shop.c");
    const onGreeter = xdsClient("grpc.greeter.shop.c");
    await waitFor("pinned answers from n2 only", async () => [...(await spread(onPinned, 4)).keys()].join() === "127.0.0.2");
    const greeterHosts = [...(await spread(onGreeter, 12)).keys()].sort();
    expect(greeterHosts).toEqual(["127.0.0.2", "127.0.0.3"]);
    const pushed = async () => metricValue(await gw.metrics(), "sharedlb_xds_push_resources_total", { protocol: "sotw", type: "eds" });
    const before = await pushed();
    await pub.endpoints(endpoints("c", "shop", "pinned", ["n2", "n3"]));
    await waitFor("pinned answers from n2 and n3", async () => (await spread(onPinned, 8)).size === 2);
    // One stream (grpc-js-xds shares it between channels), one changed assignment.
    expect((await pushed()) - before).toBe(1);
    // The greeter's assignment was not in that response, and stays in force.
    expect([...(await spread(onGreeter, 12)).keys()].sort()).toEqual(greeterHosts);
  });

  it("follows endpoint changes: a node going NotReady, coming back, a node joining", async () => {
    await tenant("d", [greeter("d")]);
    const client = xdsClient("grpc.greeter.shop.d");
    await waitFor("both nodes answer", async () => (await spread(client, 6)).size === 2);
    await pub.node(node("d", "n3", "127.0.0.3", { ready: false }));
    await waitFor("only 127.0.0.2 answers", async () => {
      const seen = await spread(client, 6);
      return seen.size === 1 && seen.has("127.0.0.2");
    });
    await pub.node(node("d", "n3", "127.0.0.3"));
    await pub.node(node("d", "n4", "127.0.0.4"));
    await waitFor("all three answer", async () => (await spread(client, 9)).size === 3);
    const seen = await spread(client, 30);
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(8);
  });

  it("a Service deleted: its target stops resolving", async () => {
    const s = numbered("e");
    await tenant("e", [s]);
    const client = xdsClient("9000.numbered.shop.e");
    expect(["127.0.0.2", "127.0.0.3"]).toContain(await who(client));
    await pub.allocation(allocation(s, "", { state: "Released", ports: [] }));
    await waitFor("RPCs fail", async () => {
      try {
        await who(client);
        return false;
      } catch (err) {
        return (err as grpc.ServiceError).code === grpc.status.UNAVAILABLE;
      }
    });
  });
});
