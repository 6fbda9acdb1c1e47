// The local run behind scripts/run-local.sh. Plain ESM over the built workspace packages,
// so it needs no build step of its own. Security is on as deployed: NATS over TLS with an
// nkey identity per service and per tenant, Redis with AUTH over TLS, ADS over mutual TLS;
// every certificate, seed and password is throwaway, in the run's temporary directory.
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { makeTestPki, startNats, startProcess, startRedis, waitFor } from "../libs/testing/dist/index.js";
import { startKubeApiserver } from "../libs/testing/dist/kube/index.js";

const root = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "sharedlb-local-"));
const cluster = process.env.SHAREDLB_CLUSTER ?? "demo";
const cleanups = [];
const say = (msg) => process.stdout.write(`sharedlb: ${msg}\n`);

/** Throwaway certificates (one day, openssl) in the run's directory. */
const pki = () => makeTestPki(join(work, "pki"), "sharedlb-local-ca");

/**
 * A private NATS as deploy/k8s/lb runs it: TLS only, and nkey identities made the way an
 * operator makes them, with `sharedlb tenant init` and `sharedlb tenant add <cluster>`
 * (the tenant gets only its own subjects). NATS_URL uses a server of your own instead;
 * its credentials then come from the usual variables (NATS_NKEY, NATS_CA, …).
 */
async function secureNats(ca) {
  if (process.env.NATS_URL) return { url: process.env.NATS_URL, args: () => [], cliEnv: {} };
  const lbDir = join(work, "lb");
  mkdirSync(lbDir);
  writeFileSync(join(lbDir, "nats-identities.json"), JSON.stringify({ lb: null, tenants: {} }));
  const authConf = join(work, "nats-auth.conf");
  const cli = (...args) => execFileSync(process.execPath, [join(root, "cli/dist/main.js"), "tenant", ...args, "--lb-dir", lbDir, "--auth-conf", authConf], { stdio: "ignore" });
  cli("init", "--out", join(work, "lb-secrets"));
  cli("add", cluster, "--out", join(work, `tenant-${cluster}`), "--ca", ca.caFile, "--base", join(root, "deploy/k8s/tenant"), "--server", "tls://127.0.0.1:4222");
  // The seeds, from the Secrets the CLI wrote, into files the services read (0600).
  const seeds = { ...secretData(join(work, "lb-secrets", "nats-identities-secret.yaml")), [`${cluster}.nk`]: secretData(join(work, `tenant-${cluster}`, "nats-credentials.yaml")).nkey };
  const seedFile = (name) => {
    const file = join(work, "nats-seeds", name);
    mkdirSync(join(work, "nats-seeds"), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${seeds[name]}\n`, { mode: 0o600 });
    return file;
  };
  const server = ca.issue("nats", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const n = await startNats({
    config: `tls { cert_file: "${server.certFile}", key_file: "${server.keyFile}", ca_file: "${ca.caFile}", timeout: 5 }\ninclude "nats-auth.conf"`,
    files: { "nats-auth.conf": readFileSync(authConf, "utf8") },
    scheme: "tls",
  });
  cleanups.push(() => n.dispose());
  const files = { allocator: seedFile("allocator.nk"), gateway: seedFile("gateway.nk"), cli: seedFile("cli.nk"), tenant: seedFile(`${cluster}.nk`) };
  const tenantArgs = ["--nats-inbox-prefix", `_INBOX_${cluster}`, "--stream-mode", "verify"];
  return {
    url: n.url,
    /** What a role connects with: its own seed, the CA, and for the tenant its inbox and verify-only streams. */
    args: (role) => ["--nats-nkey", files[role], "--nats-ca", ca.caFile, ...(role === "tenant" ? tenantArgs : [])],
    cliEnv: { NATS_NKEY: files.cli, NATS_CA: ca.caFile },
  };
}

/** A private Redis with AUTH (a random password) on a TLS-only port. REDIS_URL uses yours. */
async function secureRedis(ca) {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, args: [], env: {} };
  const password = randomBytes(24).toString("hex");
  const server = ca.issue("redis", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const r = await startRedis({ password, tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.caFile } });
  cleanups.push(() => r.dispose());
  // The password goes by environment, not a flag (flags show in ps).
  return { url: r.url, args: ["--redis-ca", ca.caFile], env: { SHAREDLB_REDIS_PASSWORD: password } };
}

/** `stringData` of a Secret manifest the CLI wrote. */
function secretData(file) {
  return parseYaml(readFileSync(file, "utf8")).stringData;
}

function service(name, ports, annotations = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "demo", annotations },
    spec: { type: "LoadBalancer", loadBalancerClass: "sharedlb.io/envoy", selector: { app: name }, ports },
  };
}

/** A stand-in tenant cluster: Nodes, RBAC from deploy/k8s/tenant, sample Services. */
async function demoCluster() {
  const kube = await startKubeApiserver();
  cleanups.push(() => kube.stop());
  const api = async (path, body, method = "POST") => {
    const headers = method === "PATCH" ? { "content-type": "application/merge-patch+json" } : undefined;
    const res = await kube.request(path, { method, body, ...(headers ? { headers } : {}) });
    if (res.status >= 300 && res.status !== 409) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return res.body;
  };
  for (const ns of ["sharedlb-system", "demo"]) await api("/api/v1/namespaces", { metadata: { name: ns } });
  for (const file of readdirSync(join(root, "deploy/k8s/tenant")).filter((f) => /rbac.*\.ya?ml$/.test(f)).sort()) {
    for (const doc of readFileSync(join(root, "deploy/k8s/tenant", file), "utf8").split(/^---$/m)) {
      const obj = parseYaml(doc);
      if (!obj?.kind) continue;
      const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
      const plural = `${obj.kind.toLowerCase()}s`.replace(/ys$/, "ies");
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const path = obj.metadata.namespace ? `${base}/namespaces/${obj.metadata.namespace}/${plural}` : `${base}/${plural}`;
      await api(path, obj);
    }
  }
  for (let i = 1; i <= 3; i++) {
    const name = `node-${i}`;
    await api("/api/v1/nodes", { metadata: { name }, status: {} });
    await api(`/api/v1/nodes/${name}/status`, {
      status: {
        addresses: [{ type: "InternalIP", address: `127.0.0.${10 + i}` }],
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "demo", lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
      },
    }, "PATCH");
  }
  const samples = [
    service("web", [{ name: "http", port: 80, targetPort: 8080 }, { name: "https", port: 443, targetPort: 8443 }]),
    service("shop", [{ name: "http", port: 80, targetPort: 8080 }], { "sharedlb.io/port-policy": "any" }),
    service("dns", [{ name: "dns-tcp", port: 53, protocol: "TCP" }, { name: "dns-udp", port: 53, protocol: "UDP" }]),
    service("api", [{ name: "grpc", port: 9000, appProtocol: "grpc" }]),
    service("admin", [{ name: "https", port: 8443 }], { "sharedlb.io/ports": "8443=443", "sharedlb.io/port-policy": "any" }),
  ];
  for (const s of samples) await api("/api/v1/namespaces/demo/services", s);
  say(`sample Services created in namespace demo: ${samples.map((s) => s.metadata.name).join(", ")}`);
  const kubeconfig = async (sa) => kube.kubeconfigFor("sharedlb-system", sa).catch(() => kube.adminKubeconfigPath);
  return { kube, watcherKubeconfig: await kubeconfig("sharedlb-watcher"), reporterKubeconfig: await kubeconfig("sharedlb-status-reporter"), samples: samples.length };
}

/**
 * Throwaway ADS certificates (one day, openssl) in the run's directory: the gateway's, and
 * one for an Envoy of fleet edge (URI SAN spiffe://sharedlb/fleet/edge).
 */
function adsCertificates() {
  const fleetCa = makeTestPki(join(work, "ads-pki"), "sharedlb-local-fleet-ca");
  const server = fleetCa.issue("xds-gateway", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const envoy = fleetCa.issue("envoy-edge", { uri: ["spiffe://sharedlb/fleet/edge"] });
  return {
    ca: fleetCa.caFile,
    envoy,
    gatewayArgs: ["--ads-tls-cert", server.certFile, "--ads-tls-key", server.keyFile, "--ads-client-ca", fleetCa.caFile],
  };
}

async function main() {
  const ca = pki();
  const nats = await secureNats(ca);
  const redis = await secureRedis(ca);
  say(`NATS ${nats.url}, Redis ${redis.url.replace(/\/\/[^@]*@/, "//")}${process.env.NATS_URL ? "" : " (TLS; nkey identities per service and for tenant " + cluster + "; Redis AUTH)"}`);
  const pools = join(work, "pools.yaml");
  writeFileSync(pools, "pools:\n  - name: demo\n    addresses: [\"192.0.2.10-192.0.2.12\"]\ndefaultPool: demo\nreleaseDelaySeconds: 5\n");
  const fleets = join(work, "fleets.yaml");
  // The demo's nodes are 127.0.0.x on this host: loopback must be allowed explicitly.
  writeFileSync(fleets, "fleets:\n  - name: edge\n    pools: [demo]\nnodeAddresses:\n  allowLoopback: true\n");

  let tenant;
  if (process.env.KUBECONFIG) { // empty means: no tenant cluster given
    tenant = { watcherKubeconfig: process.env.KUBECONFIG, reporterKubeconfig: process.env.KUBECONFIG, samples: 0 };
    say(`tenant cluster from KUBECONFIG=${process.env.KUBECONFIG} (cluster id "${cluster}")`);
  } else {
    say("no KUBECONFIG: starting a local kube-apiserver as a stand-in tenant cluster");
    tenant = await demoCluster();
  }

  const common = ["--nats-url", nats.url, "--http-addr", "127.0.0.1:0", "--log-level", process.env.LOG_LEVEL ?? "info"];
  const node = process.execPath;
  const procs = [];
  const start = async (name, args, ready, env = {}) => {
    const p = startProcess(node, args, { SHAREDLB_REPLICA: `${name}-local`, ...env });
    const log = createWriteStream(join(work, `${name}.log`));
    p.child.stdout?.pipe(log);
    p.child.stderr?.pipe(log);
    procs.push({ name, p });
    await p.waitForOutput(ready, 60_000);
    say(`${name} started (pid ${p.child.pid}, log ${join(work, `${name}.log`)})`);
    return p;
  };
  await start("allocator", [join(root, "services/allocator/dist/main.js"), "--config", pools, "--redis-url", redis.url, ...redis.args, ...nats.args("allocator"), ...common], /allocator started/, redis.env);
  const ads = adsCertificates();
  const gw = await start("xds-gateway", [join(root, "services/xds-gateway/dist/main.js"), "--config", fleets, "--grpc-addr", process.env.GRPC_ADDR ?? "127.0.0.1:18000", ...ads.gatewayArgs, ...nats.args("gateway"), ...common], /"grpc":"[^"]+"/);
  await start("watcher", [join(root, "services/watcher/dist/main.js"), "--cluster", cluster, "--kubeconfig", tenant.watcherKubeconfig, ...nats.args("tenant"), ...common], /"http":"[^"]+"/);
  await start("status-reporter", [join(root, "services/status-reporter/dist/main.js"), "--cluster", cluster, "--kubeconfig", tenant.reporterKubeconfig, ...nats.args("tenant"), ...common], /"http":"[^"]+"/);
  const grpc = gw.output().match(/"grpc":"([^"]+)"/)?.[1];
  say(`Envoy ADS (xDS, mutual TLS) at ${grpc}; fleet "edge" (Envoy --service-cluster edge)`);
  say(`  an Envoy of fleet edge presents ${ads.envoy.certFile} (key ${ads.envoy.keyFile}) and trusts ${ads.ca}`);

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    say("stopping");
    for (const { p } of [...procs].reverse()) await p.stop();
    for (const c of cleanups.reverse()) await c();
    say("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  for (const { name, p } of procs) {
    void p.exited.then((code) => {
      if (!stopping) {
        process.stderr.write(`${p.output().slice(-3000)}\n`);
        say(`${name} exited unexpectedly (code ${code})`);
        void stop(1);
      }
    });
  }

  if (tenant.kube) {
    const seen = new Map();
    await waitFor("sample Services to get addresses", async () => {
      const res = await tenant.kube.request("/api/v1/namespaces/demo/services");
      for (const s of res.body.items ?? []) {
        const ing = s.status?.loadBalancer?.ingress?.[0];
        const ports = s.metadata.annotations?.["sharedlb.io/allocated-ports"];
        if (ing?.ip && ports && seen.get(s.metadata.name) !== `${ing.ip} ${ports}`) {
          seen.set(s.metadata.name, `${ing.ip} ${ports}`);
          say(`demo/${s.metadata.name} → ${ing.ip} (${ports})`);
        }
      }
      return seen.size >= tenant.samples;
    }, 120_000, 250);
    say(`all ${tenant.samples} sample Services have addresses on ${new Set([...seen.values()].map((v) => v.split(" ")[0])).size} shared IP(s)`);
  }
  const cliEnv = Object.entries({ NATS_URL: nats.url, ...nats.cliEnv }).map(([k, v]) => `${k}=${v}`).join(" ");
  say(`running. Try: ${cliEnv} node cli/dist/main.js status   —   Ctrl-C stops everything`);
}

main().catch(async (err) => {
  process.stderr.write(`sharedlb: ${err instanceof Error ? err.message : String(err)}\n`);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  process.exit(1);
});
