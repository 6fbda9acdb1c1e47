import * as grpc from "@grpc/grpc-js";
import { register as registerXds } from "@grpc/grpc-js-xds";
import { PatchStrategy } from "@kubernetes/client-node";
import { ROUTE_TYPE } from "@sharedlb/envoy-api";
import { callEcho, startEchoServer, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply, createNode, GATEWAY_API, type L7World, startL7World, type Tenant, waitForObject } from "./harness.js";
import { L7Envoy } from "./l7-envoy.js";
import { createClasses, createService, gateway, grpcRoute, httpRoute, type Obj } from "./objects.js";
import { gatewayCondition, is, routeCondition, staleConditions } from "./status.js";

// A real xDS client evaluates the routes: @grpc/grpc-js-xds resolves xds:///<hostname> of a
// GRPCRoute through the gateway and sends real RPCs to gRPC servers standing in for the
// tenant's nodes (127.0.0.2 and 127.0.0.3, one NodePort per backend Service). Then a NACK
// by a client of the fleet turns the route's Programmed False with Envoy's text, and a fix
// turns it True again.

const NS = "rpc";
const HOSTS = ["127.0.0.2", "127.0.0.3"];
const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.60"]
    ports: "1-65535"
defaultPool: public
releaseDelaySeconds: 1
`;
const FLEETS = "fleets:\n  - name: edge\n    pools: [public]\nnodeAddresses: { allowLoopback: true }\n";
const HELLO = "/shop.Greeter/Hello";
const BYE = "/shop.Greeter/Bye";

let world: L7World;
let t: Tenant;
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];

/** A gRPC server answering every method with `answer`. */
const backend = (host: string, port: number, answer: string) => startEchoServer(host, port, [HELLO, BYE], answer);

/** Binds `answer` on every host at a NodePort (30000-32767) free on all of them; returns the port. */
async function nodePortBackend(answer: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 2700);
    const bound: grpc.Server[] = [];
    try {
      for (const h of HOSTS) bound.push(await backend(h, port, answer));
      servers.push(...bound);
      return port;
    } catch {
      for (const s of bound) s.forceShutdown();
    }
  }
  throw new Error("no NodePort free on every loopback address");
}

const call = (client: grpc.Client, path: string) => callEcho(client, path, 20_000);

async function spread(client: grpc.Client, path: string, calls: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  // 20 in flight at a time, as a busy client would send them, without queueing behind a 2-core machine's load.
  for (let done = 0; done < calls; done += 20) {
    const answers = await Promise.all(Array.from({ length: Math.min(20, calls - done) }, () => call(client, path)));
    for (const a of answers) seen.set(a, (seen.get(a) ?? 0) + 1);
  }
  return seen;
}

beforeAll(async () => {
  const [v1, v2, bye] = [await nodePortBackend("v1"), await nodePortBackend("v2"), await nodePortBackend("bye")];
  world = await startL7World({ clusters: ["g"], pools: POOLS, fleets: FLEETS });
  t = world.tenant("g");
  await createClasses(t);
  await t.core.createNamespace({ body: { metadata: { name: NS } } });
  for (const [i, h] of HOSTS.entries()) await createNode(t.core, `node-${i}`, h);
  await createService(t, NS, "v1", { type: "NodePort", port: 50051, nodePort: v1 });
  await createService(t, NS, "v2", { type: "NodePort", port: 50051, nodePort: v2 });
  await createService(t, NS, "bye", { type: "NodePort", port: 50051, nodePort: bye });
  await apply(t, gateway(NS, "gw", [{ name: "http", protocol: "HTTP", port: 80, hostname: "*.g.example.com" }]));
  await apply(
    t,
    grpcRoute(
      NS,
      "greeter",
      ["gw"],
      ["rpc.g.example.com"],
      [
        {
          matches: [{ method: { service: "shop.Greeter", method: "Hello" } }],
          backendRefs: [
            { name: "v1", port: 50051, weight: 80 },
            { name: "v2", port: 50051, weight: 20 },
          ],
        },
        { matches: [{ method: { service: "shop.Greeter", method: "Bye" } }], backendRefs: [{ name: "bye", port: 50051 }] },
      ],
    ),
  );
  // grpc-js-xds reads its bootstrap once, when the first xds: channel resolves.
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: world.gateway.grpc, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
    node: { id: "proxyless-l7", cluster: "edge", locality: {} },
  });
  registerXds();
}, 300_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.forceShutdown();
  await world?.stop();
});

describe("a real xDS client through a GRPCRoute, and Programmed from the fleet's ACK/NACK", () => {
  it("reaches the tenant backends via xds:///<hostname>, honours the method match, and splits 80/20", async () => {
    await waitForObject<Obj>(
      t,
      { apiVersion: GATEWAY_API, kind: "GRPCRoute", namespace: NS, name: "greeter" },
      "Accepted",
      (o) => is(routeCondition(o, "gw", "Accepted"), "True"),
      120_000,
    );
    const client = new grpc.Client("xds:///rpc.g.example.com", grpc.credentials.createInsecure());
    clients.push(client);
    await waitFor("the first RPC through the GRPCRoute", async () => (await call(client, BYE).catch(() => "")) === "bye", 60_000, 500);
    // Method match: Bye goes only to its own backend.
    expect([...(await spread(client, BYE, 50)).keys()]).toEqual(["bye"]);
    // Weights 80/20 over 1,000 calls: v1's share within ±0.05 of 0.8 (about 4 standard deviations).
    const seen = await spread(client, HELLO, 1000);
    expect([...seen.keys()].sort()).toEqual(["v1", "v2"]);
    const share = (seen.get("v1") ?? 0) / 1000;
    expect(share).toBeGreaterThan(0.75);
    expect(share).toBeLessThan(0.85);
  }, 300_000);

  it("turns a route's Programmed False with Envoy's error text on a NACK, and True again when the route is fixed; observedGeneration follows", async () => {
    const envoy = new L7Envoy(world.gateway.grpc, { id: "envoy-nack", cluster: "edge" });
    const text = "Error adding/updating route configuration: path /broken rejected by this Envoy (test)";
    // This Envoy rejects any route configuration carrying a /broken route, as a real one rejects what it cannot load.
    envoy.nackIf = (r, decoded) => (r.typeUrl === ROUTE_TYPE && JSON.stringify(decoded()).includes('"/broken"') ? text : undefined);
    envoy.start();
    try {
      await createService(t, NS, "web", { type: "NodePort", port: 80 });
      await apply(t, gateway(NS, "nackgw", [{ name: "alt", protocol: "HTTP", port: 8081, hostname: "nack.g.example.com" }]));
      await apply(
        t,
        httpRoute(
          NS,
          "fragile",
          ["nackgw"],
          [],
          [{ matches: [{ path: { type: "PathPrefix", value: "/broken" } }], backendRefs: [{ name: "web", port: 80 }] }],
        ),
      );
      const ref = { apiVersion: GATEWAY_API, kind: "HTTPRoute", namespace: NS, name: "fragile" };
      const nacked = await waitForObject<Obj>(
        t,
        ref,
        "Programmed=False",
        (o) => is(routeCondition(o, "nackgw", "Programmed"), "False"),
        90_000,
      );
      expect(routeCondition(nacked, "nackgw", "Programmed")?.message).toContain(text);
      expect(staleConditions(nacked)).toEqual([]);
      // The Gateway is not blamed when only the route changed (its own resources stay applied); that
      // depends on whether both arrived in one version, so only its final state is asserted below.

      await t.objects.patch(
        {
          apiVersion: GATEWAY_API,
          kind: "HTTPRoute",
          metadata: { name: "fragile", namespace: NS },
          spec: { rules: [{ matches: [{ path: { type: "PathPrefix", value: "/fixed" } }], backendRefs: [{ name: "web", port: 80 }] }] },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      );
      const fixed = await waitForObject<Obj>(
        t,
        ref,
        "Programmed=True at generation 2",
        (o) => o.metadata?.generation === 2 && is(routeCondition(o, "nackgw", "Programmed"), "True"),
        90_000,
      );
      expect(staleConditions(fixed)).toEqual([]);
      await waitForObject<Obj>(
        t,
        { ...ref, kind: "Gateway", name: "nackgw" },
        "Programmed=True",
        (o) => is(gatewayCondition(o, "Programmed"), "True"),
        30_000,
      );
      // The gRPC route on the other listener was never affected.
      const greeter = await waitForObject<Obj>(
        t,
        { ...ref, kind: "GRPCRoute", name: "greeter" },
        "Programmed",
        (o) => is(routeCondition(o, "gw", "Programmed"), "True"),
        30_000,
      );
      expect(staleConditions(greeter)).toEqual([]);
    } finally {
      envoy.close();
    }
  }, 300_000);
});
