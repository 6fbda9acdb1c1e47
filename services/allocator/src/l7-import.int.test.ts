import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { serviceResource } from "@sharedlb/testing";
import { DEFAULT_PREFIX, poolPrefix } from "./adapters/table-keys.js";
import { useAllocatorEnv } from "./test-support/allocator-env.js";
import { waitForAllocation } from "./test-support/allocator-process.js";
import { gateway, l7Allocations, l7TableProblems, listener, publishGateway, waitForL7, webGateway } from "./test-support/l7-fixtures.js";

// Redis loses its data (a restart without persistence): the allocator re-imports the
// Gateways' hostname claims from LB_ALLOCATIONS before it claims anything new, so a waiting
// tenant never gets a name that is held, and the holder keeps it.

const env = useAllocatorEnv(`
pools:
  - name: public
    addresses: ["203.0.113.100"]
releaseDelaySeconds: 1
`);

it("re-imports hostname claims and exclusive slots when Redis comes back empty, before claiming anything new", async () => {
  await publishGateway(env.fx, webGateway("ia", "shop", "edge", "shop.ia.test"));
  await publishGateway(env.fx, gateway("ia", "shop", "all", [listener("alt", "HTTP", 8080)]));
  await publishGateway(env.fx, webGateway("ib", "blog", "edge", "shop.ia.test"));
  await env.fx.publishService(serviceResource("is", "ns", "dns", { ports: [{ name: "dns", protocol: "TCP", port: 53, nodePort: 30053 }] }));
  await waitForL7(env.fx, "ia/shop/edge/gateway", (a) => a.state === "Allocated");
  await waitForL7(env.fx, "ia/shop/all/gateway", (a) => a.state === "Allocated");
  await waitForL7(env.fx, "ib/blog/edge/gateway", (a) => a.state === "Pending");
  await waitForAllocation(env.fx, "is/ns/dns", (a) => a.state === "Allocated");
  const before = await l7Allocations(env.fx);

  await env.redis.stop();
  // During the outage: another tenant wants the exclusive port, and a Service wants :80.
  await publishGateway(env.fx, gateway("ic", "ns", "grab", [listener("alt", "HTTP", 8080, "grab.ic.test")]));
  await env.fx.publishService(serviceResource("is", "ns", "web", { ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }] }));
  await env.redis.start();
  await env.allocator.waitForOutput(/slot table re-imported/, 30_000);

  const grab = await waitForL7(env.fx, "ic/ns/grab/gateway", (a) => a.state === "Pending", 30_000);
  expect(grab.reason).toBe("PortUnavailable");
  const web = await waitForAllocation(env.fx, "is/ns/web", (a) => a.state === "Pending", 30_000);
  expect(web.reason).toBe("PortUnavailable");
  const after = await l7Allocations(env.fx);
  for (const key of ["ia/shop/edge/gateway", "ia/shop/all/gateway", "ib/blog/edge/gateway"]) expect(after.get(key), key).toEqual(before.get(key));
  const client = new Redis(env.redis.url);
  try {
    const { problems, claims } = await l7TableProblems(client, poolPrefix(DEFAULT_PREFIX, "public"), "public");
    expect(problems).toEqual([]);
    expect(claims.get("203.0.113.100:80 shop.ia.test")).toEqual(["ia"]);
    expect(claims.get("203.0.113.100:8080 *all*")).toEqual(["ia"]);
  } finally {
    client.disconnect();
  }
});
