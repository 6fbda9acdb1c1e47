#!/usr/bin/env node
// Cost of one Service status write through @kubernetes/client-node, as shipped (a new undici
// Agent, hence a new TLS connection, per request) and with PooledKubeConfig (libs/kube: one
// Agent for every request), next to a raw keep-alive https client, against a private
// kube-apiserver (tools/envtest).
//
//   node tenant/kube-client-cost.mjs [--services 256] [--concurrency 1,8,64]
import https from "node:https";
import { parseArgs } from "node:util";
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { PooledKubeConfig } from "@sharedlb/kube";
import { startKubeApiserver } from "@sharedlb/testing/kube";

const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { services: { type: "string", default: "256" }, concurrency: { type: "string", default: "1,8,64" } },
});
const N = Number(opts.services);
const LEVELS = opts.concurrency.split(",").map(Number);

const kube = await startKubeApiserver();
try {
  const admin = new PooledKubeConfig();
  admin.loadFromString(kube.adminKubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "b" } } });
  for (let i = 0; i < N; i += 32) {
    await Promise.all(
      Array.from({ length: Math.min(32, N - i) }, (_, j) =>
        core.createNamespacedService({
          namespace: "b",
          body: { metadata: { name: `s${i + j}` }, spec: { type: "LoadBalancer", loadBalancerClass: "x.io/y", ports: [{ port: 80 }] } },
        }),
      ),
    );
  }
  const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  const body = (round, n) => ({
    status: {
      loadBalancer: {
        ingress: [{ ip: `10.${round % 250}.${Math.floor(n / 250)}.${n % 250}`, ipMode: "Proxy", ports: [{ port: 80, protocol: "TCP" }] }],
      },
    },
  });

  const clients = {
    "client-node as shipped": (() => {
      const kc = new KubeConfig();
      kc.loadFromString(kube.adminKubeconfig);
      const api = kc.makeApiClient(CoreV1Api);
      return (name, b) => api.patchNamespacedServiceStatus({ name, namespace: "b", body: b }, smp);
    })(),
    "client-node + PooledKubeConfig": (() => {
      const kc = new PooledKubeConfig();
      kc.loadFromString(kube.adminKubeconfig);
      const api = kc.makeApiClient(CoreV1Api);
      return (name, b) => api.patchNamespacedServiceStatus({ name, namespace: "b", body: b }, smp);
    })(),
    "raw https, keep-alive": (() => {
      const agent = new https.Agent({ keepAlive: true, ca: kube.caCert });
      return (name, b) =>
        new Promise((resolve, reject) => {
          const data = JSON.stringify(b);
          const req = https.request(
            `${kube.url}/api/v1/namespaces/b/services/${name}/status`,
            {
              method: "PATCH",
              agent,
              headers: {
                "content-type": PatchStrategy.StrategicMergePatch,
                authorization: `Bearer ${kube.adminToken}`,
                "content-length": Buffer.byteLength(data),
              },
            },
            (res) => {
              res.resume();
              res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
            },
          );
          req.on("error", reject);
          req.end(data);
        });
    })(),
  };

  let round = 0;
  console.log("| client | in flight | writes/s | p50 (ms) | p99 (ms) | client CPU per write (ms) |");
  console.log("|---|---|---|---|---|---|");
  for (const [label, patch] of Object.entries(clients)) {
    for (const conc of LEVELS) {
      round++;
      const lat = [];
      let i = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: conc }, async () => {
          while (i < N) {
            const n = i++;
            const s = performance.now();
            await patch(`s${n}`, body(round, n));
            lat.push(performance.now() - s);
          }
        }),
      );
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      lat.sort((a, b) => a - b);
      const q = (p) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)].toFixed(1);
      console.log(
        `| ${label} | ${conc} | ${Math.round(N / (wall / 1000))} | ${q(0.5)} | ${q(0.99)} | ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} |`,
      );
    }
  }
} finally {
  await kube.stop();
}
process.exit(0);
