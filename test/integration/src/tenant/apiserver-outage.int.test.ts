import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Allocation, decodeEvent, STREAM_NAMES } from "@sharedlb/contracts";
import { readLastValues } from "@sharedlb/runtime";
import { waitFor } from "@sharedlb/testing";
import { condition, createLoadBalancer, createNamespace, startTenantEnv, type TenantEnv, waitForService } from "./harness.js";

// The tenant's kube-apiserver stops for 30 s in the middle of churn (Services being created
// and deleted) and comes back: the watcher and status-reporter must reconnect by themselves,
// and the end state must be exact — nothing lost, nothing moved, nothing doubled. A leader
// that cannot renew its lease exits by design, so both run supervised, as in a Deployment.

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.13"]
defaultPool: public
releaseDelaySeconds: 1
`;
const C = "tenant-a";
const NS = "churn";
const OUTAGE_MS = 30_000;
let env: TenantEnv;

beforeAll(async () => {
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  await env.startAllocator(POOLS);
  await env.startWatcher({ cluster: C, replica: "w1", restartOnExit: true });
  await env.startReporter({ cluster: C, replica: "r1", restartOnExit: true });
});

afterAll(async () => {
  await env?.stop();
});

const allocated = (s: Parameters<typeof condition>[0]) => condition(s)?.status === "True";

async function allocations(): Promise<Map<string, Allocation>> {
  return readLastValues(env.fx.js, env.fx.jsm, STREAM_NAMES.allocations, (_subject, data) => {
    const ev = decodeEvent(data);
    return ev.type === "io.sharedlb.allocation.v1" && ev.data.namespace === NS ? [ev.data.name, ev.data] : undefined;
  });
}

describe("tenant kube-apiserver outage mid-churn", () => {
  it("converges after a 30 s outage: survivors keep their slots, new Services get addresses, deleted ones are released, no slot has two owners", async () => {
    const before = Array.from({ length: 12 }, (_, i) => `svc-${i}`);
    await Promise.all(before.map((name, i) => createLoadBalancer(env.core, NS, name, { ports: [{ port: 8000 + i }] })));
    const held = new Map<string, string>();
    for (const name of before) {
      const svc = await waitForService(env.core, NS, name, allocated, "Allocated before the outage");
      held.set(name, JSON.stringify(svc.status?.loadBalancer?.ingress));
    }

    // Churn, then the outage starts while the watcher and reporter are still working on it.
    const created = Array.from({ length: 6 }, (_, i) => `new-${i}`);
    const deleted = before.slice(0, 4);
    await Promise.all([
      ...created.map((name, i) => createLoadBalancer(env.core, NS, name, { ports: [{ port: 9000 + i }] })),
      ...deleted.map((name) => env.core.deleteNamespacedService({ name, namespace: NS })),
    ]);
    const outage = await env.kube.interrupt();
    const outageStarted = Date.now();
    // The outage is the fault being injected, not a wait for a condition.
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await outage.resume();
    const resumed = Date.now();

    const survivors = before.filter((n) => !deleted.includes(n));
    for (const name of [...survivors, ...created]) {
      const svc = await waitForService(env.core, NS, name, allocated, "Allocated after the outage", 60_000);
      if (held.has(name)) expect(JSON.stringify(svc.status?.loadBalancer?.ingress), `${name} moved`).toBe(held.get(name));
    }
    const final = await waitFor(
      "deleted Services released",
      async () => {
        const all = await allocations();
        return deleted.every((n) => all.get(n)?.state === "Released") ? all : undefined;
      },
      60_000,
    );
    console.log(
      `apiserver outage: converged ${Date.now() - resumed} ms after the apiserver came back (outage ${resumed - outageStarted} ms; ` +
        `restarts by replica ${JSON.stringify(Object.fromEntries(env.restarts))})`,
    );

    const owners = new Map<string, string>();
    for (const a of final.values()) {
      if (a.state !== "Allocated") continue;
      for (const p of a.ports) {
        const slot = `${a.ip}/${p.protocol}/${p.externalPort}`;
        expect(owners.get(slot), `slot ${slot} has two owners`).toBeUndefined();
        owners.set(slot, a.name);
      }
    }
    expect(
      [...final.values()]
        .filter((a) => a.state === "Allocated")
        .map((a) => a.name)
        .sort(),
    ).toEqual([...survivors, ...created].sort());
  }, 240_000);
});
