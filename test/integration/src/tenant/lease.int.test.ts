import { readFileSync, writeFileSync } from "node:fs";
import { freePort, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTenantEnv, type TenantEnv } from "./harness.js";

// issue 8: a watcher whose lease namespace did not exist logged "campaigning for
// leadership" and then nothing for 90 s. A lease that cannot be taken for any reason other
// than another replica holding it is now a warning with the reason, a metric and /readyz.

let env: TenantEnv;
beforeAll(async () => {
  env = await startTenantEnv();
}, 300_000);
afterAll(async () => {
  await env?.stop();
});

async function readyz(http: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${http}/readyz`);
  return { status: res.status, body: await res.text() };
}

function metric(text: string, name: string, reason: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(" ").pop()) : 0;
}

it("says within seconds that the lease namespace does not exist, and recovers once it is created", async () => {
  const p = await env.startWatcher({
    cluster: "lease-a",
    replica: "w-missing-ns",
    // Credentials that may create Leases anywhere, so only the missing namespace stands in the way.
    extra: ["--kubeconfig", env.kube.adminKubeconfigPath, "--lease-namespace", "no-such-ns"],
    waitFor: /the lease cannot be taken/,
  });
  const http = (await p.waitForOutput(/"http":"([^"]+)"/))[1] ?? "";
  expect(p.output()).toMatch(/"level":40.*"reason":"NamespaceNotFound".*namespace \\"no-such-ns\\" does not exist/);
  const r = await waitFor("not ready", async () => {
    const x = await readyz(http);
    return x.status === 503 && /lease/.test(x.body) ? x : undefined;
  });
  expect(r.body).toMatch(/^lease: NamespaceNotFound: namespace "no-such-ns" does not exist/m);
  const metrics = await (await fetch(`http://${http}/metrics`)).text();
  expect(metric(metrics, "sharedlb_lease_failures_total", "NamespaceNotFound")).toBeGreaterThan(0);

  await env.core.createNamespace({ body: { metadata: { name: "no-such-ns" } } });
  await p.waitForOutput(/lease attempts work again/, 30_000);
  await p.waitForOutput(/became leader/, 30_000);
  await waitFor("ready once it leads and has synced", async () => (await readyz(http)).status === 200, 60_000);
});

it("says that RBAC forbids the lease when the namespace is one the identity may not write", async () => {
  const p = await env.startWatcher({
    cluster: "lease-b",
    replica: "w-forbidden",
    // The watcher's own ServiceAccount may write Leases only in sharedlb-system.
    extra: ["--lease-namespace", "default"],
    waitFor: /the lease cannot be taken/,
  });
  expect(p.output()).toMatch(/"reason":"Forbidden".*RBAC forbids this identity/);
  const http = (await p.waitForOutput(/"http":"([^"]+)"/))[1] ?? "";
  const r = await waitFor("not ready", async () => {
    const x = await readyz(http);
    return x.status === 503 ? x : undefined;
  });
  expect(r.body).toMatch(/^lease: Forbidden/m);
});

it("says the API server is unreachable when the kubeconfig points at a closed port", async () => {
  // The watcher's own kubeconfig, aimed at a port nothing listens on.
  const closed = `${env.watcherKubeconfig}.closed-port.yaml`;
  writeFileSync(closed, readFileSync(env.watcherKubeconfig, "utf8").replace(/server: \S+/, `server: https://127.0.0.1:${await freePort()}`), { mode: 0o600 });
  const p = await env.startWatcher({ cluster: "lease-c", replica: "w-unreachable", extra: ["--kubeconfig", closed], waitFor: /the lease cannot be taken/ });
  expect(p.output()).toMatch(/"level":40.*"reason":"Unreachable".*cannot reach the API server/);
  const http = (await p.waitForOutput(/"http":"([^"]+)"/))[1] ?? "";
  const r = await waitFor("not ready", async () => {
    const x = await readyz(http);
    return x.status === 503 && /lease/.test(x.body) ? x : undefined;
  });
  expect(r.body).toMatch(/^lease: Unreachable: cannot reach the API server/m);
  const metrics = await (await fetch(`http://${http}/metrics`)).text();
  expect(metric(metrics, "sharedlb_lease_failures_total", "Unreachable")).toBeGreaterThan(0);
});
