// The benchmark's Services: deterministic, so every run and every tool publishes the same ones.
import { rng, serviceResource } from "@sharedlb/testing";

export const CLUSTERS = Array.from({ length: 20 }, (_, i) => `c${i}`);
export const ANY_PORTS = [80, 443, 8080, 8443];

// Seeded (mulberry32), so every run publishes the same Services.
export { rng };

/**
 * The workload: 20 tenant clusters, 10 namespaces, 1 or 2 ports per Service. 60% allow
 * remapping (`port-policy: any`) and all want the same few ports (80, 443, 8080, 8443), so
 * after the first few they are remapped through the bitmap search; 40% keep the default
 * `same` policy and want a port of their own (numbers from 20000 up, reused after 65535).
 */
export function makeWorkload(seed) {
  const rand = rng(seed);
  // Own ports from 20000 up: remapped ports fill each IP's bitmap from 1 upwards (lowest free
  // bit), and must not take every IP's copy of a port some `same` Service wants.
  let samePort = 20000;
  return (i) => {
    const cluster = CLUSTERS[i % CLUSTERS.length];
    const namespace = `ns${Math.floor(i / CLUSTERS.length) % 10}`;
    const n = rand() < 0.5 ? 1 : 2;
    const remap = rand() < 0.6;
    const ports = [];
    for (let k = 0; k < n; k++) {
      let port;
      if (remap) port = ANY_PORTS[(i + k) % ANY_PORTS.length];
      else {
        port = samePort++;
        if (samePort > 65535) samePort = 20000;
      }
      ports.push({ name: `p${k}`, protocol: "TCP", port, nodePort: 30000 + k });
    }
    return serviceResource(cluster, namespace, `svc-${i}`, {
      uid: `uid-${i}`,
      ports,
      annotations: remap ? { "sharedlb.io/port-policy": "any" } : {},
    });
  };
}
