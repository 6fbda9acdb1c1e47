import type { Allocation, EndpointsResource, NodeResource, ObjectRef, ServiceResource, StatusReport, Tombstone } from "@sharedlb/contracts";
import type { NodeEndpoint, NodeExclusionReason, NodeSelection } from "@sharedlb/serving";
import { CliError } from "./errors.js";
import { oneLine } from "./status.js";
import { type Style, stateStyle } from "./style.js";

/** A stored message: the decoded payload with where and when it was stored. */
export interface Stored<T> {
  seq: number;
  time: string;
  data: T;
}

export interface ExplainInput {
  ref: ObjectRef;
  /** Last message on the Service's resource subject: the Service, or its tombstone. */
  service?: Stored<ServiceResource> | Stored<Tombstone>;
  allocation?: Stored<Allocation>;
  endpoints?: Stored<EndpointsResource> | Stored<Tombstone>;
  nodes: NodeResource[];
  /** Last status-reporter event for the Service, from LB_EVENTS. */
  status?: Stored<StatusReport>;
}

/**
 * The gateway's node selection (libs/serving), with its address policy. Passed in, so the
 * pure code here does not load the serving library for every command.
 */
export type NodeSelector = (
  service: ServiceResource,
  nodes: readonly NodeResource[],
  endpoints: EndpointsResource | undefined,
) => NodeSelection;

export interface IdleNode {
  node: string;
  /** Stable: AddressRefused, NotReady, Excluded, NoAddress, DuplicateAddress, NoLocalEndpoints. */
  reason: NodeExclusionReason;
  why: string;
}

export type ServiceStanding = "Allocated" | "Pending" | "Failed" | "Released" | "Unallocated" | "Deleted";

export interface ExplainedPort {
  name: string;
  protocol: string;
  port: number;
  externalPort: number;
  nodePort: number;
  /** Envoy listener `<proto>-<ip>-<port>` serving it (TCP and UDP only). */
  listener: string;
  /** Dual-stack: the listener on each address, `listener` first. */
  listeners?: string[];
}

export interface Explanation {
  service: string;
  uid: string;
  state: ServiceStanding;
  /** One sentence: where the Service stands and why. */
  summary: string;
  reason: string;
  message: string;
  pool: string;
  ip: string;
  /** Dual-stack: one address per IP family, `ip` first. */
  ips?: string[];
  ports: ExplainedPort[];
  externalTrafficPolicy: string;
  nodes: { serving: NodeEndpoint[]; notServing: IdleNode[] };
  resource?: { seq: number; time: string; deleted: boolean };
  allocation?: { seq: number; time: string; resourceSequence: number; version?: number };
  status?: { time: string; outcome: string; condition: string; error?: string };
  /** Things that are wrong or in flight (allocator behind, no endpoints, …). */
  notes: string[];
}

/** Where an object stands that no allocator has allocated (Services, Gateways, Ingresses alike). */
export function withoutAllocation(deleted: boolean, notes: string[]): { state: "Deleted" | "Unallocated"; summary: string } {
  if (deleted) return { state: "Deleted", summary: "Deleted in the tenant cluster; no allocation was ever published for it." };
  notes.push("Is an allocator running and connected to this NATS? (sharedlb events --since 10m shows its traffic)");
  return { state: "Unallocated", summary: "Seen by the watcher, but no allocator has published an allocation for it yet." };
}

const isTombstone = (d: ServiceResource | Tombstone | EndpointsResource): d is Tombstone => "kind" in d && "uid" in d && !("ports" in d);

/** Where a Service stands and why; throws UnknownService when NATS has never heard of it. */
export function explainService(input: ExplainInput, selectNodes: NodeSelector): Explanation {
  const { ref } = input;
  const key = `${ref.cluster}/${ref.namespace}/${ref.name}`;
  if (!input.service && !input.allocation) {
    throw new CliError(
      "UnknownService",
      `unknown Service ${key}: no resource event on lb.resource.${ref.cluster}.service.${ref.namespace}.${ref.name} and no allocation on lb.allocation.${ref.cluster}.${ref.namespace}.${ref.name}. ` +
        "Check the name, the Service's loadBalancerClass, and that the watcher of cluster " +
        `"${ref.cluster}" is running.`,
    );
  }
  const svcData = input.service?.data;
  const svc = svcData && !isTombstone(svcData) ? svcData : undefined;
  const deleted = svcData !== undefined && isTombstone(svcData);
  const alloc = input.allocation?.data;
  const notes: string[] = [];
  const addresses = alloc?.state === "Allocated" ? [alloc.ip, ...(alloc.ips ?? []).filter((ip) => ip !== alloc.ip)] : [];

  let state: ServiceStanding;
  let summary: string;
  if (alloc) {
    state = alloc.state;
    switch (alloc.state) {
      case "Allocated":
        summary = `Allocated on ${addresses.join(" and ")} in pool ${alloc.pool}.`;
        // An Allocated message is a note: PreferDualStack served on one family, and why.
        if (alloc.message) notes.push(alloc.message);
        break;
      case "Pending":
        summary = `Pending: ${alloc.reason || "waiting"}${alloc.message ? ` — ${alloc.message}` : ""}. It is allocated as soon as capacity or quota frees up.`;
        break;
      case "Failed":
        summary = `Failed: ${alloc.reason || "error"}${alloc.message ? ` — ${alloc.message}` : ""}. Fix the Service; it is not retried until it changes.`;
        break;
      case "Released":
        summary = "Released: the Service was deleted; its slots stay in quarantine for the release delay, then free.";
        break;
    }
  } else {
    ({ state, summary } = withoutAllocation(deleted, notes));
  }

  if (svc && alloc && alloc.uid !== svc.uid && alloc.state !== "Released") {
    notes.push(
      `the allocation is for uid ${alloc.uid} but the Service now has uid ${svc.uid} (deleted and re-created): the allocator has not caught up yet`,
    );
  }
  if (input.service && alloc && input.service.seq > alloc.resourceSequence && !deleted) {
    notes.push(
      `the allocator has not applied the latest resource event yet (resource event #${input.service.seq}, allocation made from #${alloc.resourceSequence})`,
    );
  }
  if (deleted && alloc && alloc.state !== "Released") {
    notes.push("the Service was deleted but its allocation is not Released yet: the allocator has not applied the tombstone");
  }

  const policy = svc?.externalTrafficPolicy ?? "Cluster";
  const endpointsData = input.endpoints?.data;
  const endpoints = endpointsData && !isTombstone(endpointsData) ? (endpointsData as EndpointsResource) : undefined;
  const selection = svc ? selectNodes(svc, input.nodes, endpoints) : { serving: [], notServing: [] };
  const nodes = {
    serving: selection.serving.map((n) => ({ node: n.node, address: n.address })),
    notServing: selection.notServing.map((n) => ({ node: n.node, reason: n.reason, why: n.message })),
  };
  if (svc && state === "Allocated") {
    if (input.nodes.length === 0) notes.push(`no node of cluster "${ref.cluster}" has been published: Envoy has nowhere to send traffic`);
    else if (nodes.serving.length === 0) notes.push("no node can serve it (see below): Envoy accepts connections but has no endpoint");
    if (alloc?.ports.some((p) => p.nodePort === 0))
      notes.push("a port has no NodePort (allocateLoadBalancerNodePorts: false?): Envoy cannot reach it");
  }

  const ports: ExplainedPort[] = (alloc?.state === "Allocated" ? alloc.ports : []).map((p) => {
    const listeners = p.protocol === "TCP" || p.protocol === "UDP" ? addresses.map((ip) => `${p.protocol.toLowerCase()}-${ip}-${p.externalPort}`) : [];
    return {
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      externalPort: p.externalPort,
      nodePort: p.nodePort,
      listener: listeners[0] ?? "",
      ...(listeners.length > 1 ? { listeners } : {}),
    };
  });

  const st = input.status;
  return {
    service: key,
    uid: svc?.uid ?? alloc?.uid ?? (svcData && isTombstone(svcData) ? svcData.uid : ""),
    state,
    summary,
    reason: alloc?.reason ?? "",
    message: alloc?.message ?? "",
    pool: alloc?.pool ?? "",
    ip: alloc?.ip ?? "",
    ...(addresses.length > 1 ? { ips: addresses } : {}),
    ports,
    externalTrafficPolicy: policy,
    nodes,
    ...(input.service ? { resource: { seq: input.service.seq, time: input.service.time, deleted } } : {}),
    ...(input.allocation
      ? {
          allocation: {
            seq: input.allocation.seq,
            time: input.allocation.time,
            resourceSequence: input.allocation.data.resourceSequence,
            ...(input.allocation.data.allocationVersion !== undefined ? { version: input.allocation.data.allocationVersion } : {}),
          },
        }
      : {}),
    ...(st
      ? {
          status: {
            time: st.time,
            outcome: st.data.outcome,
            condition: `${st.data.condition.type}=${st.data.condition.status}${st.data.condition.reason ? ` (${st.data.condition.reason})` : ""}`,
            ...(st.data.error ? { error: st.data.error } : {}),
          },
        }
      : {}),
    notes,
  };
}

const label = (k: string) => `${k}:`.padEnd(11);

export function renderExplanation(e: Explanation, style: Style): string {
  const out: string[] = [];
  const add = (k: string, v: string) => out.push(`${label(k)}${v}`);
  add("Service", `${style.bold(e.service)}${e.uid ? style.dim(` (uid ${e.uid})`) : ""}`);
  add("State", stateStyle(style, e.state)(e.state));
  add("Why", e.summary);
  if (e.reason) add("Reason", e.reason);
  if (e.pool) add("Pool", e.pool);
  if (e.ips) add("IPs", e.ips.join(", "));
  else if (e.ip) add("IP", e.ip);
  if (e.ports.length > 0) {
    out.push(label("Slots"));
    for (const p of e.ports) {
      const name = p.name ? `${p.name} ` : "";
      const listeners = p.listeners ?? (p.listener ? [p.listener] : []);
      (e.ips ?? [e.ip]).forEach((ip, i) => {
        const listener = listeners[i];
        out.push(`  ${name}${p.port}/${p.protocol} → ${hostPort(ip, p.externalPort)}  nodePort ${p.nodePort || "none"}${listener ? style.dim(`  listener ${listener}`) : ""}`);
      });
    }
  }
  add("Traffic", `externalTrafficPolicy ${e.externalTrafficPolicy}`);
  const total = e.nodes.serving.length + e.nodes.notServing.length;
  // Node eligibility is shown either way: it is what serving will look like once allocated.
  add(
    "Nodes",
    e.state === "Allocated"
      ? `${e.nodes.serving.length} of ${total} serve it`
      : `none until allocated (${e.nodes.serving.length} of ${total} eligible)`,
  );
  for (const n of e.nodes.serving) out.push(`  ${style.green("✓")} ${n.node} ${n.address}`);
  for (const n of e.nodes.notServing) out.push(`  ${style.dim("✗")} ${n.node}: ${n.why}${style.dim(` (${n.reason})`)}`);
  if (e.status) {
    add(
      "Reported",
      `${e.status.outcome} ${e.status.condition} at ${e.status.time}${e.status.error ? ` — ${oneLine(e.status.error)}` : ""}`,
    );
  } else {
    add("Reported", style.dim("no status-reporter event yet"));
  }
  if (e.resource) add("Events", `resource #${e.resource.seq} at ${e.resource.time}${e.resource.deleted ? " (tombstone)" : ""}`);
  if (e.allocation)
    out.push(`${" ".repeat(11)}allocation #${e.allocation.seq} at ${e.allocation.time}, from resource #${e.allocation.resourceSequence}`);
  for (const n of e.notes) out.push(style.yellow(`Note: ${n}`));
  return `${out.join("\n")}\n`;
}

/** `203.0.113.10:443`, `[2001:db8::10]:443`. */
const hostPort = (ip: string, port: number): string => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);
