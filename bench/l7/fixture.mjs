// Issue 9's L7 fixture, shared by bench/l7 and bench/peer (its RDS case): `tenants` tenant
// clusters with 3 nodes and one Gateway each (an HTTP listener on port 80, pinned round
// robin to `ips` shared IPs), and HTTPRoutes spread round robin over the tenants, each to
// one of 10 backend Services. The events are the normalized ones the tenant watchers publish.
import { encodeEvent, makeEvent, subjects } from "../../libs/contracts/dist/index.js";

const NS = "bench";
const SOURCE = "sharedlb/bench/l7";
const NODES = 3;

export function l7Fixture({ tenants, ips }) {
  const IPS = Array.from({ length: ips }, (_, i) => `203.0.113.${100 + i}`);
  const tenant = (k) => `t${k}`;
  const ipOf = (k) => IPS[k % IPS.length];
  const event = (type, subject, data) => encodeEvent(makeEvent({ type, source: SOURCE, subject, data }));

  function gatewayResource(k) {
    return {
      cluster: tenant(k),
      namespace: NS,
      name: "gw",
      uid: `gw-${k}`,
      generation: 1,
      gatewayClassName: "sharedlb",
      listeners: [
        {
          name: "http",
          protocol: "HTTP",
          port: 80,
          hostname: `*.${tenant(k)}.example.com`,
          allowedRoutes: { allNamespaces: false, namespaces: [NS], kinds: ["HTTPRoute"] },
        },
      ],
      annotations: { "sharedlb.io/ip": ipOf(k) },
      refusedRefs: [],
    };
  }

  /** Route `i`; a generation above 1 moves its path to `/v<generation>`, so every generation is a change. */
  function routeResource(i, generation = 1) {
    const k = i % tenants;
    return {
      cluster: tenant(k),
      namespace: NS,
      name: `r${i}`,
      uid: `route-${i}`,
      generation,
      sourceKind: "HTTPRoute",
      parentRefs: [{ namespace: NS, name: "gw" }],
      hostnames: [`r${i}.${tenant(k)}.example.com`],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: generation === 1 ? "/" : `/v${generation}` } }],
          filters: [],
          backends: [{ namespace: NS, service: `svc${i % 10}`, port: 80, weight: 1, nodePort: 30000 + (i % 10) }],
        },
      ],
      refusedRefs: [],
      annotations: {},
    };
  }

  function nodeResource(k, n) {
    return {
      cluster: tenant(k),
      name: `node-${n}`,
      addresses: { internal: `10.${k}.0.${n + 1}`, external: "" },
      ready: true,
      excluded: false,
    };
  }

  return {
    ips: IPS,
    /** The pool file of the allocator: the shared IPs, every port. */
    poolsYaml: `pools:\n  - name: public\n    addresses: [${IPS.map((ip) => `"${ip}"`).join(", ")}]\n    ports: "1-65535"\ndefaultPool: public\n`,
    /** The RouteConfiguration of the shared IP tenant `k`'s Gateway is on (one per IP and port). */
    routeConfigOf: (k) => `http-${ipOf(k % tenants)}-80`,
    routeConfigNames: IPS.map((ip) => `http-${ip}-80`),
    /** The backend clusters of the first `routes` routes. */
    clusterNames: (routes) => [...new Set(Array.from({ length: routes }, (_, i) => `${tenant(i % tenants)}/${NS}/svc${i % 10}/http-80`))],
    nodeMessages(k) {
      return Array.from({ length: NODES }, (_, n) => ({
        subject: subjects.node(tenant(k), `node-${n}`),
        bytes: event("io.sharedlb.node.v1", `${tenant(k)}//node-${n}`, nodeResource(k, n)),
      }));
    },
    gatewayMessage(k) {
      return {
        subject: subjects.l7Resource(tenant(k), "gateway", NS, "gw"),
        bytes: event("io.sharedlb.gateway.v1", `${tenant(k)}/${NS}/gw`, gatewayResource(k)),
      };
    },
    routeMessage(i, generation = 1) {
      const r = routeResource(i, generation);
      return {
        subject: subjects.l7Resource(r.cluster, "httproute", NS, r.name),
        bytes: event("io.sharedlb.route.v1", `${r.cluster}/${NS}/${r.name}`, r),
      };
    },
  };
}
