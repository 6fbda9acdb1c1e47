import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManagedProcess, natsFixture, type NatsFixture, serviceResource, startNats, startRedis, type TestNats, type TestRedis, waitFor } from "@sharedlb/testing";
import { decodeEvent, STREAM_NAMES } from "@sharedlb/contracts";
import { startAllocator, waitForAllocation, writePoolFile } from "./test-support/allocator-process.js";

let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let allocator: ManagedProcess;

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.11"]
  - name: small
    addresses: ["198.51.100.1"]
    ports: "20000-20002"
defaultPool: public
releaseDelaySeconds: 1
quotas:
  clusters:
    quota: { services: 2, ports: 10 }
`;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  allocator = await startAllocator({ config: writePoolFile(POOLS), natsUrl: nats.url, redisUrl: redis.url, replica: "r1" });
});

afterAll(async () => {
  await allocator?.stop();
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const allocated = (a: { state: string }) => a.state === "Allocated";

/** sharedlb_allocator_stale_incarnation_total as the allocator's /metrics serves it now. */
async function staleIncarnations(): Promise<number> {
  const [, http] = await allocator.waitForOutput(/"http":"([^"]+)"/);
  const text = await (await fetch(`http://${http}/metrics`)).text();
  const value = /^sharedlb_allocator_stale_incarnation_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
  if (value === undefined) throw new Error("sharedlb_allocator_stale_incarnation_total missing from /metrics");
  return Number(value);
}

describe("allocator rules (one process, real NATS and Redis)", () => {
  it("puts TCP/53 and UDP/53 of one tenant on one IP, and gives the port itself", async () => {
    await fx.publishService(serviceResource("a", "dns", "tcp", { ports: [{ name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 30053 }] }));
    const tcp = await waitForAllocation(fx, "a/dns/tcp", allocated);
    await fx.publishService(serviceResource("a", "dns", "udp", { ports: [{ name: "dns-udp", protocol: "UDP", port: 53, nodePort: 30054 }] }));
    const udp = await waitForAllocation(fx, "a/dns/udp", allocated);
    expect(tcp.ip).toBe(udp.ip);
    expect(tcp.ports).toEqual([{ name: "dns-tcp", protocol: "TCP", port: 53, externalPort: 53, nodePort: 30053 }]);
    expect(udp.ports).toEqual([{ name: "dns-udp", protocol: "UDP", port: 53, externalPort: 53, nodePort: 30054 }]);
    expect(tcp.pool).toBe("public");
  });

  it("keeps the Service's own port on another IP, Pending when taken everywhere, remaps only with port-policy any", async () => {
    // Its own Services only (port 5300 is used by no other test here), so it passes alone.
    const ports = [{ name: "dns", protocol: "TCP" as const, port: 5300, nodePort: 30055 }];
    await fx.publishService(serviceResource("b", "dns", "holder", { ports }));
    const holder = await waitForAllocation(fx, "b/dns/holder", allocated);
    await fx.publishService(serviceResource("b", "dns", "first", { ports }));
    const first = await waitForAllocation(fx, "b/dns/first", allocated);
    expect(first.ip).not.toBe(holder.ip);
    expect(first.ports[0]?.externalPort).toBe(5300);

    await fx.publishService(serviceResource("b", "dns", "second", { ports }));
    const second = await waitForAllocation(fx, "b/dns/second", (a) => a.state === "Pending");
    expect(second.reason).toBe("PortUnavailable");
    expect(second.message).toContain("5300/TCP");
    expect(second.ip).toBe("");

    await fx.publishService(serviceResource("b", "dns", "flexible", { ports, annotations: { "sharedlb.io/port-policy": "any" } }));
    const flexible = await waitForAllocation(fx, "b/dns/flexible", allocated);
    expect(flexible.ports[0]?.externalPort).not.toBe(5300);
  });

  it("honours an explicit sharedlb.io/ports mapping and a pinned sharedlb.io/ip", async () => {
    await fx.publishService(
      serviceResource("c", "web", "tls", {
        ports: [{ name: "https", protocol: "TCP", port: 8443, nodePort: 31443 }],
        annotations: { "sharedlb.io/ports": "8443=443", "sharedlb.io/ip": "203.0.113.11" },
      }),
    );
    const a = await waitForAllocation(fx, "c/web/tls", allocated);
    expect(a.ip).toBe("203.0.113.11");
    expect(a.ports[0]).toMatchObject({ port: 8443, externalPort: 443 });
  });

  it("fails bad requests with a reason that names the problem, and leaves other Services alone", async () => {
    const cases: [string, Partial<Parameters<typeof serviceResource>[3]>, string, RegExp][] = [
      ["bad-ports", { annotations: { "sharedlb.io/ports": "x=y" } }, "InvalidAnnotation", /"x=y"/],
      ["outside", { annotations: { "sharedlb.io/ip": "192.0.2.99" } }, "IPNotInPool", /192\.0\.2\.99/],
      ["nopool", { annotations: { "sharedlb.io/pool": "nope" } }, "UnknownPool", /"nope"/],
      ["sctp", { ports: [{ name: "s", protocol: "SCTP", port: 9, nodePort: 30009 }] }, "UnsupportedProtocol", /SCTP/],
      ["policy", { annotations: { "sharedlb.io/port-policy": "sometimes" } }, "InvalidAnnotation", /sometimes/],
    ];
    for (const [name, over] of cases) await fx.publishService(serviceResource("d", "bad", name, over));
    await fx.publishService(serviceResource("d", "bad", "fine", { ports: [{ name: "p", protocol: "TCP", port: 6000, nodePort: 30600 }] }));
    for (const [name, , reason, message] of cases) {
      const a = await waitForAllocation(fx, `d/bad/${name}`, (x) => x.state === "Failed");
      expect(a.reason).toBe(reason);
      expect(a.message).toMatch(message);
    }
    await waitForAllocation(fx, "d/bad/fine", allocated);
  });

  it("is idempotent: the same Service again changes nothing, and adding a port that fits does not move it", async () => {
    const svc = serviceResource("e", "app", "web", { ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30080 }] });
    await fx.publishService(svc);
    const before = await waitForAllocation(fx, "e/app/web", allocated);
    await fx.publishService(svc);
    await fx.publishService(svc);
    const grown = { ...svc, ports: [...svc.ports, { name: "https", protocol: "TCP" as const, port: 8081, nodePort: 30443 }] };
    await fx.publishService(grown);
    const after = await waitForAllocation(fx, "e/app/web", (a) => a.ports.length === 2);
    expect(after.ip).toBe(before.ip);
    expect(after.ports[0]).toEqual(before.ports[0]);
    // Exactly one change for the two identical republishes plus one for the new port.
    expect(after.allocationVersion).toBe((before.allocationVersion ?? 0) + 1);
  });

  it("gives PoolExhausted when full, and serves the waiting Service when another is deleted, with no new event for it", async () => {
    const any = { "sharedlb.io/pool": "small", "sharedlb.io/port-policy": "any" };
    for (const n of ["s1", "s2", "s3"]) await fx.publishService(serviceResource("f", "small", n, { annotations: any }));
    for (const n of ["s1", "s2", "s3"]) await waitForAllocation(fx, `f/small/${n}`, allocated);
    await fx.publishService(serviceResource("f", "small", "s4", { annotations: any }));
    const waiting = await waitForAllocation(fx, "f/small/s4", (a) => a.state === "Pending");
    expect(waiting.reason).toBe("PoolExhausted");
    const freed = (await fx.allocations()).get("f/small/s2");
    await fx.publishTombstone("f", "small", "s2", "f-small-s2");
    await waitForAllocation(fx, "f/small/s2", (a) => a.state === "Released");
    const served = await waitForAllocation(fx, "f/small/s4", allocated);
    expect(served.ports[0]?.externalPort).toBe(freed?.ports[0]?.externalPort);
  });

  it("enforces the tenant quota and lets a waiting Service in when the tenant frees room", async () => {
    for (const n of ["q1", "q2", "q3"]) await fx.publishService(serviceResource("quota", "ns", n, { ports: [{ name: "p", protocol: "TCP", port: 7000 + Number(n[1]), nodePort: 30700 }] }));
    const third = await waitForAllocation(fx, "quota/ns/q3", (a) => a.state === "Pending");
    expect(third.reason).toBe("QuotaExceeded");
    await fx.publishTombstone("quota", "ns", "q1", "quota-ns-q1");
    await waitForAllocation(fx, "quota/ns/q3", allocated);
  });

  it("ignores a late tombstone of an earlier object with the same name: the live Service keeps its IP", async () => {
    const ports = [{ name: "p", protocol: "TCP" as const, port: 6200, nodePort: 30620 }];
    await fx.publishService(serviceResource("i", "ns", "reborn", { uid: "first", ports }));
    await waitForAllocation(fx, "i/ns/reborn", (a) => allocated(a) && a.uid === "first");
    await fx.publishTombstone("i", "ns", "reborn", "first");
    await waitForAllocation(fx, "i/ns/reborn", (a) => a.state === "Released");
    await fx.publishService(serviceResource("i", "ns", "reborn", { uid: "second", ports }));
    const live = await waitForAllocation(fx, "i/ns/reborn", (a) => allocated(a) && a.uid === "second");
    const staleBefore = await staleIncarnations();

    await fx.publishTombstone("i", "ns", "reborn", "first"); // late, e.g. from a resync of old state
    // Events of one Service are handled in order: once this edit shows, the tombstone was handled.
    await fx.publishService(serviceResource("i", "ns", "reborn", { uid: "second", ports: [{ name: "p", protocol: "TCP", port: 6200, nodePort: 30621 }] }));
    const after = await waitForAllocation(fx, "i/ns/reborn", (a) => a.ports[0]?.nodePort === 30621);
    expect(after).toMatchObject({ state: "Allocated", uid: "second", ip: live.ip });
    // One change (the NodePort), not a release and a re-allocation.
    expect(after.allocationVersion).toBe((live.allocationVersion ?? 0) + 1);
    // Recorded where an operator looks: the ignored tombstone is counted.
    expect(await staleIncarnations()).toBe(staleBefore + 1);
  });

  it("dead-letters a malformed message once, terminates it, and keeps allocating", async () => {
    await fx.publishRaw("lb.resource.g.service.ns.broken", "{not json");
    await fx.publishRaw("lb.resource.g.service.ns.liar", JSON.stringify({ specversion: "1.0", id: "x", source: "sharedlb/evil", type: "io.sharedlb.service.v1", subject: "h/ns/liar", time: new Date().toISOString(), datacontenttype: "application/json", data: serviceResource("h", "ns", "liar") }));
    await fx.publishService(serviceResource("g", "ns", "after", { ports: [{ name: "p", protocol: "TCP", port: 6100, nodePort: 30610 }] }));
    await waitForAllocation(fx, "g/ns/after", allocated);
    const letters = await waitFor("two dead letters", async () => {
      const info = await fx.jsm.streams.info(STREAM_NAMES.events);
      if (info.state.messages < 2) return undefined;
      const out = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await fx.jsm.streams.getMessage(STREAM_NAMES.events, { seq }).catch(() => null);
        if (m?.subject === "lb.deadletter.allocator") out.push(decodeEvent(m.data));
      }
      return out.length >= 2 ? out : undefined;
    });
    const data = letters.map((l) => l.data as { subject: string; reason: string; payload: string });
    expect(data.map((d) => d.subject).sort()).toEqual(["lb.resource.g.service.ns.broken", "lb.resource.g.service.ns.liar"]);
    expect(data.find((d) => d.subject.endsWith("broken"))).toMatchObject({ reason: "MalformedJson", payload: "{not json" });
    expect(data.find((d) => d.subject.endsWith("liar"))?.reason).toBe("SubjectMismatch");
    expect((await fx.allocations()).has("h/ns/liar")).toBe(false);
    // Terminated, not waiting for redelivery.
    const consumer = await fx.jsm.consumers.info(STREAM_NAMES.resources, "allocator");
    expect(consumer.num_ack_pending).toBe(0);
  });
});
