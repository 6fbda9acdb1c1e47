import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, subjects } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import { l7Allocation, listenerAllocation } from "../../../../services/status-reporter/src/test-support/l7-fixtures.js";
import { publishL7Allocation } from "../../../../services/status-reporter/src/test-support/l7-publish.js";
import { type ManagedProcess, waitFor } from "@sharedlb/testing";
import {
  condition,
  createLoadBalancer,
  deadLetters,
  createNamespace,
  eventsFor,
  mergePatch,
  startTenantEnv,
  statusReports,
  type TenantEnv,
  waitForService,
} from "./harness.js";

// Service created through the API → watcher → allocator → status-reporter → Service
// status, all real processes; the tenant services run with the ServiceAccounts and RBAC
// of deploy/k8s/tenant.

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.11"]
  - name: small
    addresses: ["198.51.100.1"]
    ports: "20000-20001"
defaultPool: public
releaseDelaySeconds: 1
`;

const C = "tenant-a";
const NS = "shop";
let env: TenantEnv;
let reporter: ManagedProcess;
let watcher: ManagedProcess;

beforeAll(async () => {
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  await env.startAllocator(POOLS);
  watcher = await env.startWatcher({ cluster: C, replica: "w1" });
  reporter = await env.startReporter({ cluster: C, replica: "r1" });
});

afterAll(async () => {
  await env?.stop();
});

const allocated = (s: Parameters<typeof condition>[0]) => condition(s)?.status === "True";

describe("status written back to Services", () => {
  it("gives a new Service an IP from the pool with ipMode Proxy, its ports, the annotation, a True condition and an Allocated Event", async () => {
    await createLoadBalancer(env.core, NS, "web", {
      ports: [
        { name: "https", port: 443 },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
    });
    const svc = await waitForService(env.core, NS, "web", allocated, "Allocated condition");
    const ingress = svc.status?.loadBalancer?.ingress ?? [];
    expect(ingress).toHaveLength(1);
    expect(ingress[0]?.ip).toMatch(/^203\.0\.113\.1[01]$/);
    expect(ingress[0]?.ipMode).toBe("Proxy");
    expect(ingress[0]?.ports).toEqual([
      { port: 53, protocol: "UDP" },
      { port: 443, protocol: "TCP" },
    ]);
    expect(svc.metadata?.annotations?.["sharedlb.io/allocated-ports"]).toBe("53/UDP=53,443/TCP=443");
    expect(condition(svc)).toMatchObject({ status: "True", reason: "Allocated", message: expect.stringContaining(ingress[0]?.ip ?? "?") });
    const events = await waitFor("an Allocated Event", async () => {
      const evs = await eventsFor(env.core, NS, "web");
      return evs.some((e) => e.reason === "Allocated") ? evs : undefined;
    });
    const ev = events.find((e) => e.reason === "Allocated");
    expect(ev).toMatchObject({
      type: "Normal",
      reportingComponent: "sharedlb.io/status-reporter",
      involvedObject: { kind: "Service", name: "web", uid: svc.metadata?.uid },
    });
    expect(ev?.message).toContain(ingress[0]?.ip ?? "?");
    const reports = await waitFor("a Written status report", async () => {
      const r = await statusReports(env.fx, subjects.status(C, NS, "web"));
      return r.some((x) => x.outcome === "Written") ? r : undefined;
    });
    expect(reports.find((r) => r.outcome === "Written")).toMatchObject({
      cluster: C,
      namespace: NS,
      name: "web",
      kind: "Service",
      ip: ingress[0]?.ip,
      condition: { type: "sharedlb.io/Allocated", status: "True" },
    });
  });

  it("fails bad annotations with a condition and an Event naming the problem, and leaves other Services alone", async () => {
    await createLoadBalancer(env.core, NS, "bad-ports", { annotations: { "sharedlb.io/ports": "x=y" } });
    await createLoadBalancer(env.core, NS, "bad-ip", { annotations: { "sharedlb.io/ip": "192.0.2.99" } });
    await createLoadBalancer(env.core, NS, "fine", { ports: [{ port: 8080 }] });
    const badPorts = await waitForService(env.core, NS, "bad-ports", (s) => condition(s)?.status === "False", "False condition");
    expect(condition(badPorts)).toMatchObject({ reason: "InvalidAnnotation", message: expect.stringContaining('"x=y"') });
    expect(badPorts.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(badPorts.metadata?.annotations?.["sharedlb.io/allocated-ports"]).toBeUndefined();
    const badIp = await waitForService(env.core, NS, "bad-ip", (s) => condition(s)?.status === "False", "False condition");
    expect(condition(badIp)).toMatchObject({ reason: "IPNotInPool", message: expect.stringContaining("192.0.2.99") });
    for (const [name, problem] of [
      ["bad-ports", '"x=y"'],
      ["bad-ip", "192.0.2.99"],
    ] as const) {
      const ev = await waitFor(`AllocationFailed Event of ${name}`, async () =>
        (await eventsFor(env.core, NS, name)).find((e) => e.reason === "AllocationFailed"),
      );
      expect(ev.type).toBe("Warning");
      expect(ev.message).toContain(problem);
    }
    const fine = await waitForService(env.core, NS, "fine", allocated, "Allocated condition");
    expect(fine.status?.loadBalancer?.ingress?.[0]?.ports).toEqual([{ port: 8080, protocol: "TCP" }]);
  });

  it("shows PoolExhausted while the pool is full and serves the Service once capacity frees", async () => {
    const small = { "sharedlb.io/pool": "small", "sharedlb.io/port-policy": "any" };
    await createLoadBalancer(env.core, NS, "s1", { annotations: small });
    await createLoadBalancer(env.core, NS, "s2", { annotations: small });
    await waitForService(env.core, NS, "s1", allocated, "Allocated");
    await waitForService(env.core, NS, "s2", allocated, "Allocated");
    await createLoadBalancer(env.core, NS, "s3", { annotations: small });
    const waiting = await waitForService(env.core, NS, "s3", (s) => condition(s)?.status === "False", "False condition");
    expect(condition(waiting)).toMatchObject({ reason: "PoolExhausted" });
    const failedEv = await waitFor("AllocationFailed Event", async () =>
      (await eventsFor(env.core, NS, "s3")).find((e) => e.reason === "AllocationFailed"),
    );
    expect(failedEv.message).toContain("PoolExhausted");

    await env.core.deleteNamespacedService({ name: "s1", namespace: NS });
    const served = await waitForService(env.core, NS, "s3", allocated, "Allocated after s1 was deleted");
    expect(served.status?.loadBalancer?.ingress?.[0]?.ip).toBe("198.51.100.1");
    await waitFor("Allocated Event of s3", async () => (await eventsFor(env.core, NS, "s3")).find((e) => e.reason === "Allocated"));
  });

  it("clears what it wrote when a Service stops being a LoadBalancer", async () => {
    await createLoadBalancer(env.core, NS, "leaver", { ports: [{ port: 9090 }] });
    await waitForService(env.core, NS, "leaver", allocated, "Allocated");
    await env.core.patchNamespacedService(
      { name: "leaver", namespace: NS, body: { spec: { type: "ClusterIP", loadBalancerClass: null } } },
      mergePatch,
    );
    const cleared = await waitForService(
      env.core,
      NS,
      "leaver",
      (s) => condition(s) === undefined && s.metadata?.annotations?.["sharedlb.io/allocated-ports"] === undefined,
      "condition and annotation removed",
    );
    expect(cleared.status?.loadBalancer?.ingress ?? []).toEqual([]);
  });

  it("passes over L7 allocations of its cluster without dead-lettering them, and keeps serving Services", async () => {
    await publishL7Allocation(env.fx.js, l7Allocation(C, "gateway", NS, "edge", "g-1", [listenerAllocation("http")]));
    // The durable consumer delivers in stream order: a Service created after it is served
    // only once the L7 allocation has been handled.
    await createLoadBalancer(env.core, NS, "after-l7", { ports: [{ port: 6161 }] });
    await waitForService(env.core, NS, "after-l7", allocated, "Allocated after the L7 allocation");
    expect(await deadLetters(env.fx, "status-reporter")).toEqual([]);
    expect(reporter.output()).not.toMatch(/dead-lettered|invalid allocation/);
  });

  it("never gives a re-created Service the old one's status", async () => {
    const first = await createLoadBalancer(env.core, NS, "phoenix", { ports: [{ port: 6060 }] });
    await waitForService(env.core, NS, "phoenix", allocated, "Allocated");
    // With the watcher down the allocator cannot learn about the new incarnation: the only
    // allocation the reporter knows is the old uid's.
    await watcher.stop();
    await env.core.deleteNamespacedService({ name: "phoenix", namespace: NS });
    const second = await createLoadBalancer(env.core, NS, "phoenix", { ports: [{ port: 6060 }] });
    expect(second.metadata?.uid).not.toBe(first.metadata?.uid);
    const old = (await env.fx.allocations()).get(`${C}/${NS}/phoenix`);
    expect(old).toMatchObject({ state: "Allocated", uid: first.metadata?.uid });
    // Hand the old allocation to the reporter again and wait for its verdict on it.
    await publishEvent(
      env.fx.js,
      subjects.allocation(C, NS, "phoenix"),
      makeEvent({
        type: "io.sharedlb.allocation.v1",
        source: "sharedlb/allocator/test",
        subject: `${C}/${NS}/phoenix`,
        data: old as NonNullable<typeof old>,
      }),
    );
    await waitFor("the reporter's verdict on the old allocation", async () =>
      (await statusReports(env.fx, subjects.status(C, NS, "phoenix"))).find((r) => r.condition.reason === "NoAllocation"),
    );
    const untouched = await env.core.readNamespacedService({ name: "phoenix", namespace: NS });
    expect(untouched.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(condition(untouched)).toBeUndefined();
    expect(untouched.metadata?.annotations?.["sharedlb.io/allocated-ports"]).toBeUndefined();

    watcher = await env.startWatcher({ cluster: C, replica: "w2" });
    const served = await waitForService(env.core, NS, "phoenix", allocated, "Allocated for the new uid");
    expect(served.metadata?.uid).toBe(second.metadata?.uid);
    const ev = await waitFor("Allocated Event of the new incarnation", async () =>
      (await eventsFor(env.core, NS, "phoenix")).find((e) => e.reason === "Allocated" && e.involvedObject.uid === second.metadata?.uid),
    );
    expect(ev.type).toBe("Normal");
  });

  it("writes nothing new after a restart when allocations did not change", async () => {
    const before = await env.core.listNamespacedService({ namespace: NS });
    const versions = new Map(before.items.map((s) => [s.metadata?.name, s.metadata?.resourceVersion]));
    const eventsBefore = (await env.core.listNamespacedEvent({ namespace: NS })).items.length;
    // A clean stop: exit code 0, lease released (the next replica leads at once).
    expect(await reporter.stop()).toBe(0);
    reporter = await env.startReporter({ cluster: C, replica: "r2" });
    const done = reporter.output().match(/"Written":(\d+),"Unchanged":(\d+)/);
    expect(done?.[1]).toBe("0");
    // Proof that the new process is live, not idle: a new Service gets its status.
    await createLoadBalancer(env.core, NS, "after-restart", { ports: [{ port: 7070 }] });
    await waitForService(env.core, NS, "after-restart", allocated, "Allocated");
    const after = await env.core.listNamespacedService({ namespace: NS });
    for (const s of after.items) {
      if (s.metadata?.name === "after-restart") continue;
      expect({ name: s.metadata?.name, rv: s.metadata?.resourceVersion }).toEqual({
        name: s.metadata?.name,
        rv: versions.get(s.metadata?.name),
      });
    }
    // Only the new Service's Event was added.
    await waitFor("the new Service's Event", async () => (await eventsFor(env.core, NS, "after-restart")).length > 0);
    const eventsAfter = (await env.core.listNamespacedEvent({ namespace: NS })).items;
    expect(eventsAfter.length).toBe(eventsBefore + 1);
  });

  it("hands over to the standby reporter when the leader is killed", async () => {
    const standby = await env.startReporter({ cluster: C, replica: "r3", waitFor: /status-reporter started/ });
    expect(standby.output()).not.toMatch(/became leader/);
    await reporter.kill();
    await standby.waitForOutput(/initial reconcile done/, 20_000);
    expect(standby.output()).toMatch(/"Written":0/);
    await createLoadBalancer(env.core, NS, "after-handover", { ports: [{ port: 7171 }] });
    await waitForService(env.core, NS, "after-handover", allocated, "Allocated by the new leader");
    reporter = standby;
  });
});
