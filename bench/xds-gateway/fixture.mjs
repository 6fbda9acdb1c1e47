// Synthetic tenant state for the xds-gateway benchmarks, as the CloudEvent bytes the
// watcher and allocator would publish, so replaying it costs what replaying NATS would.
import { encodeEvent, makeEvent, subjects } from "../../libs/contracts/dist/index.js";

/**
 * `services` Services spread over `clusters` tenant clusters of `nodesPerCluster` nodes.
 * Every 10th Service is Local (EndpointSlice naming half the nodes), every 20th also
 * has a UDP port, every 25th a gRPC port (API listener + route). One TCP port each,
 * allocated on `ips` shared IPs.
 */
export function generate({ services = 10_000, clusters = 100, nodesPerCluster = 10, ips = 50 } = {}) {
  const resources = [];
  const allocations = [];
  const clusterNames = [];
  const localServices = [];
  const ev = (type, subject, data) => encodeEvent(makeEvent({ type, source: "sharedlb/bench/fixture", subject, data }));
  for (let c = 0; c < clusters; c++) {
    const cluster = `t${c}`;
    for (let n = 0; n < nodesPerCluster; n++) {
      const data = {
        cluster,
        name: `node-${n}`,
        addresses: { internal: `10.${c >> 8}.${c & 255}.${n + 1}`, external: "" },
        ready: true,
        excluded: false,
      };
      resources.push({ subject: subjects.node(cluster, data.name), bytes: ev("io.sharedlb.node.v1", `${cluster}//${data.name}`, data) });
    }
  }
  for (let i = 0; i < services; i++) {
    const cluster = `t${i % clusters}`;
    const namespace = `ns${(i >> 4) % 50}`;
    const name = `svc-${i}`;
    const local = i % 10 === 0;
    const ports = [{ name: "main", protocol: "TCP", port: 8000 + (i % 1000), nodePort: 30000 + (i % 2700) }];
    if (i % 20 === 0) ports.push({ name: "dns", protocol: "UDP", port: 53, nodePort: 32700 + (i % 60) });
    if (i % 25 === 0) ports.push({ name: "grpc", protocol: "TCP", port: 50051, nodePort: 32000 + (i % 700), appProtocol: "grpc" });
    const svc = {
      cluster,
      namespace,
      name,
      uid: `uid-${i}`,
      ports,
      externalTrafficPolicy: local ? "Local" : "Cluster",
      healthCheckNodePort: local ? 31999 : 0,
      loadBalancerClass: "sharedlb.io/envoy",
      annotations: i % 7 === 0 ? { "sharedlb.io/proxy-protocol": "v2" } : {},
    };
    resources.push({
      subject: subjects.service(cluster, namespace, name),
      bytes: ev("io.sharedlb.service.v1", `${cluster}/${namespace}/${name}`, svc),
    });
    if (local) {
      const eps = { cluster, namespace, name, readyNodes: Array.from({ length: nodesPerCluster / 2 }, (_, n) => `node-${n}`) };
      resources.push({
        subject: subjects.endpoints(cluster, namespace, name),
        bytes: ev("io.sharedlb.endpoints.v1", `${cluster}/${namespace}/${name}`, eps),
      });
      localServices.push({
        cluster,
        namespace,
        name,
        nodes: nodesPerCluster,
        ports: ports.length,
        clusterName: `${cluster}/${namespace}/${name}/tcp-${ports[0].port}`,
      });
    }
    const ip = `203.0.${113 + Math.floor((i % ips) / 250)}.${((i % ips) % 250) + 1}`;
    const externalBase = 10_000 + Math.floor(i / ips) * 3;
    const allocated = ports.map((p, k) => ({
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      externalPort: externalBase + k,
      nodePort: p.nodePort,
    }));
    const alloc = {
      cluster,
      namespace,
      name,
      uid: svc.uid,
      state: "Allocated",
      pool: "public",
      ip,
      ports: allocated,
      reason: "",
      message: "",
      resourceSequence: i + 1,
      allocationVersion: 1,
    };
    allocations.push({
      subject: subjects.allocation(cluster, namespace, name),
      bytes: ev("io.sharedlb.allocation.v1", `${cluster}/${namespace}/${name}`, alloc),
    });
    for (const p of ports) clusterNames.push(`${cluster}/${namespace}/${name}/${p.protocol.toLowerCase()}-${p.port}`);
  }
  return { resources, allocations, clusterNames, localServices };
}

/** The EndpointSlice of a Local Service naming `count` ready nodes: one CLA changes. */
export function endpointsChange(local, count) {
  const { cluster, namespace, name } = local;
  const data = { cluster, namespace, name, readyNodes: Array.from({ length: count }, (_, n) => `node-${n}`) };
  return {
    subject: subjects.endpoints(cluster, namespace, name),
    bytes: encodeEvent(
      makeEvent({ type: "io.sharedlb.endpoints.v1", source: "sharedlb/bench/fixture", subject: `${cluster}/${namespace}/${name}`, data }),
    ),
  };
}

/** A node of tenant `cluster` going (not) ready: every Cluster-policy assignment of that tenant changes. */
export function nodeChange(cluster, index, ready) {
  const c = Number(cluster.slice(1));
  const data = {
    cluster,
    name: `node-${index}`,
    addresses: { internal: `10.${c >> 8}.${c & 255}.${index + 1}`, external: "" },
    ready,
    excluded: false,
  };
  return {
    subject: subjects.node(cluster, data.name),
    bytes: encodeEvent(
      makeEvent({ type: "io.sharedlb.node.v1", source: "sharedlb/bench/fixture", subject: `${cluster}//${data.name}`, data }),
    ),
  };
}

export const mib = (n) => Math.round((n / 1024 / 1024) * 10) / 10;
