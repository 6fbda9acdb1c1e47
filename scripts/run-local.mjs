// The local run behind scripts/run-local.sh. Plain ESM over the built workspace packages,
// so it needs no build step of its own.
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { canConnect, makeTestPki, startNats, startProcess, startRedis, waitFor } from "../libs/testing/dist/index.js";
import { startKubeApiserver } from "../libs/testing/dist/kube/index.js";

const root = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "sharedlb-local-"));
const cluster = process.env.SHAREDLB_CLUSTER ?? "demo";
const cleanups = [];
const say = (msg) => process.stdout.write(`sharedlb: ${msg}\n`);

async function natsUrl() {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  if (await canConnect(4222)) return "nats://127.0.0.1:4222";
  const n = await startNats();
  cleanups.push(() => n.dispose());
  return n.url;
}

async function redisUrl() {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await canConnect(6379)) return "redis://127.0.0.1:6379/3";
  const r = await startRedis();
  cleanups.push(() => r.dispose());
  return r.url;
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
  const pki = makeTestPki(join(work, "ads-pki"), "sharedlb-local-fleet-ca");
  const server = pki.issue("xds-gateway", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const envoy = pki.issue("envoy-edge", { uri: ["spiffe://sharedlb/fleet/edge"] });
  return {
    ca: pki.caFile,
    envoy,
    gatewayArgs: ["--ads-tls-cert", server.certFile, "--ads-tls-key", server.keyFile, "--ads-client-ca", pki.caFile],
  };
}

async function main() {
  const nats = await natsUrl();
  const redis = await redisUrl();
  say(`NATS ${nats}, Redis ${redis.replace(/\/\/[^@]*@/, "//")}`);
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

  const common = ["--nats-url", nats, "--http-addr", "127.0.0.1:0", "--log-level", process.env.LOG_LEVEL ?? "info"];
  const node = process.execPath;
  const procs = [];
  const start = async (name, args, ready) => {
    const p = startProcess(node, args, { SHAREDLB_REPLICA: `${name}-local` });
    const log = createWriteStream(join(work, `${name}.log`));
    p.child.stdout?.pipe(log);
    p.child.stderr?.pipe(log);
    procs.push({ name, p });
    await p.waitForOutput(ready, 60_000);
    say(`${name} started (pid ${p.child.pid}, log ${join(work, `${name}.log`)})`);
    return p;
  };
  await start("allocator", [join(root, "services/allocator/dist/main.js"), "--config", pools, "--redis-url", redis, ...common], /allocator started/);
  const ads = adsCertificates();
  const gw = await start("xds-gateway", [join(root, "services/xds-gateway/dist/main.js"), "--config", fleets, "--grpc-addr", process.env.GRPC_ADDR ?? "127.0.0.1:18000", ...ads.gatewayArgs, ...common], /"grpc":"[^"]+"/);
  await start("watcher", [join(root, "services/watcher/dist/main.js"), "--cluster", cluster, "--kubeconfig", tenant.watcherKubeconfig, ...common], /"http":"[^"]+"/);
  await start("status-reporter", [join(root, "services/status-reporter/dist/main.js"), "--cluster", cluster, "--kubeconfig", tenant.reporterKubeconfig, ...common], /"http":"[^"]+"/);
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
  say(`running. Try: NATS_URL=${nats} node cli/dist/main.js status   —   Ctrl-C stops everything`);
}

main().catch(async (err) => {
  process.stderr.write(`sharedlb: ${err instanceof Error ? err.message : String(err)}\n`);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  process.exit(1);
});
