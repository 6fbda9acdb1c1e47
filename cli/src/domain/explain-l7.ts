import type {
  GatewayResource,
  L7Allocation,
  L7AllocationKind,
  ListenerAllocation,
  ObjectRef,
  ParentReference,
  Programmed,
  RefusedHostname,
  RefusedRef,
  RouteResource,
  Tombstone,
} from "@sharedlb/contracts";
import { CliError } from "./errors.js";
import { type Stored, withoutAllocation } from "./explain.js";
import { oneLine } from "./status.js";
import { type Style, stateStyle } from "./style.js";

// `sharedlb explain <kind> <cluster>/<namespace>/<name>` for the L7 kinds: which listeners
// an Ingress, Gateway or route is on, which hostnames it holds and which it was refused,
// which references the watcher left out, and whether the fleet applied it (with Envoy's
// own text on a NACK). The meaning follows docs/l7-model.md.

export type L7Kind = L7AllocationKind;
export const OWNER_KINDS: readonly L7Kind[] = ["gateway", "ingress"];

export interface ParentInput {
  ref: ParentReference;
  /** The parent Gateway's allocation, when there is one. */
  allocation?: Stored<L7Allocation>;
}

export interface L7ExplainInput {
  kind: L7Kind;
  ref: ObjectRef;
  /** Last message on the object's resource subject: the object, or its tombstone. */
  resource?: Stored<GatewayResource> | Stored<RouteResource> | Stored<Tombstone>;
  /** Gateways and Ingresses: their own allocation. */
  allocation?: Stored<L7Allocation>;
  /** Routes: each parent the watcher attached them to. */
  parents: ParentInput[];
  programmed?: Stored<Programmed>;
}

export type L7Standing = "Allocated" | "Pending" | "Failed" | "Released" | "Attached" | "NotAttached" | "Unallocated" | "Deleted";

export interface ExplainedListener {
  /** The Gateway or Ingress holding it, `<namespace>/<name>`. */
  owner: string;
  name: string;
  protocol: string;
  state: string;
  pool: string;
  ip: string;
  port: number;
  shared: boolean;
  claimedHostnames: string[];
  refusedHostnames: RefusedHostname[];
  reason: string;
  message: string;
  /** The Envoy listener serving it, `http-<ip>-<port>` or `https-<ip>-<port>`; empty unless allocated. */
  envoyListener: string;
  /** Routes only: the hostnames this route is served under on the listener. */
  served?: string[];
}

export interface ExplainedProgrammed {
  status: "True" | "False" | "Unknown";
  summary: string;
  fleet: string;
  acked: number;
  nacked: number;
  pending: number;
  /** The generation the report is about. */
  generation: number;
  time: string;
  error?: { node: string; typeUrl: string; message: string };
}

export interface L7Explanation {
  object: string;
  kind: L7Kind;
  uid: string;
  generation: number;
  state: L7Standing;
  summary: string;
  reason: string;
  message: string;
  listeners: ExplainedListener[];
  hostnames: { claimed: string[]; refused: RefusedHostname[] };
  refusedRefs: RefusedRef[];
  programmed: ExplainedProgrammed;
  resource?: { seq: number; time: string; deleted: boolean };
  notes: string[];
}

const isTombstone = (d: GatewayResource | RouteResource | Tombstone): d is Tombstone => !("uid" in d && "generation" in d);

function envoyListenerName(l: ListenerAllocation): string {
  if (l.state !== "Allocated" || !l.ip) return "";
  return `${l.protocol === "HTTP" ? "http" : "https"}-${l.ip}-${l.port}`;
}

function listenerOf(owner: string, l: ListenerAllocation): ExplainedListener {
  return {
    owner,
    name: l.name,
    protocol: l.protocol,
    state: l.state,
    pool: l.pool,
    ip: l.ip,
    port: l.port,
    shared: l.shared,
    claimedHostnames: [...l.claimedHostnames],
    refusedHostnames: [...l.refusedHostnames],
    reason: l.reason,
    message: l.message,
    envoyListener: envoyListenerName(l),
  };
}

/** Protocols a route kind attaches to (Gateway API: HTTP kinds on HTTP/HTTPS, TLSRoute on TLS). */
const ROUTE_PROTOCOLS: Record<string, readonly string[]> = {
  httproute: ["HTTP", "HTTPS"],
  grpcroute: ["HTTP", "HTTPS"],
  tlsroute: ["TLS"],
};

function attaches(kind: L7Kind, parent: ParentReference, l: ListenerAllocation): boolean {
  if (parent.sectionName !== undefined && parent.sectionName !== l.name) return false;
  if (parent.port !== undefined && parent.port !== l.port) return false;
  return (ROUTE_PROTOCOLS[kind] ?? []).includes(l.protocol);
}

/**
 * Gateway API hostname intersection (the gateway's own, from @sharedlb/serving, passed in
 * so the CLI loads that library only when it explains an L7 object): the hostname a route
 * hostname gets on a listener, undefined when they do not meet; a listener without a
 * hostname accepts any.
 */
export type HostnameIntersect = (listener: string | undefined, route: string) => string | undefined;

/** The hostnames a route is served under on a listener holding `claimed` (`[]` on an exclusive listener: every one). */
function servedOn(l: ListenerAllocation, routeHostnames: readonly string[], intersect: HostnameIntersect): string[] {
  if (l.state !== "Allocated" || (l.shared && l.claimedHostnames.length === 0)) return [];
  if (routeHostnames.length === 0) return l.claimedHostnames.length === 0 ? ["*"] : [...l.claimedHostnames].sort();
  const listenerNames = l.claimedHostnames.length === 0 ? [undefined] : l.claimedHostnames;
  const out = new Set<string>();
  for (const name of listenerNames) {
    for (const h of routeHostnames) {
      const both = intersect(name, h);
      if (both !== undefined) out.add(both);
    }
  }
  return [...out].sort();
}

/** The route's view of one parent listener: what it is served under there, and what was refused. */
function routeListener(route: RouteResource, parent: ParentInput, l: ListenerAllocation, intersect: HostnameIntersect): ExplainedListener {
  const owner = `${parent.ref.namespace}/${parent.ref.name}`;
  const refused =
    route.hostnames.length === 0
      ? l.refusedHostnames
      : l.refusedHostnames.filter((r) => route.hostnames.some((h) => intersect(r.hostname, h) !== undefined));
  return { ...listenerOf(owner, l), refusedHostnames: refused, served: servedOn(l, route.hostnames, intersect) };
}

/** One `lb.programmed` message as stored, with the replica that published it (its CloudEvent source). */
export interface ProgrammedReport {
  source: string;
  stored: Stored<Programmed>;
}

/**
 * The fleet-wide view from the reports of every xds-gateway replica: each replica counts
 * only the Envoys connected to it, so the newest report per (replica, fleet) is kept, and
 * those about the newest generation are summed (a NACK on one replica is never hidden by
 * another replica's later all-acked report).
 */
export function combineProgrammed(reports: readonly ProgrammedReport[]): Stored<Programmed> | undefined {
  const latest = new Map<string, ProgrammedReport>();
  for (const r of reports) {
    const key = `${r.source}|${r.stored.data.fleet}`;
    const have = latest.get(key);
    if (!have || have.stored.seq < r.stored.seq) latest.set(key, r);
  }
  const all = [...latest.values()];
  if (all.length === 0) return undefined;
  const version = Math.max(...all.map((r) => r.stored.data.allocationVersion));
  const current = all.filter((r) => r.stored.data.allocationVersion === version).sort((a, b) => a.stored.seq - b.stored.seq);
  const newest = current.at(-1) as ProgrammedReport;
  const nacking = current.filter((r) => r.stored.data.nacked > 0 && r.stored.data.errorDetail).at(-1);
  const sum = (f: (p: Programmed) => number) => current.reduce((n, r) => n + f(r.stored.data), 0);
  const errorDetail = nacking?.stored.data.errorDetail;
  return {
    seq: newest.stored.seq,
    time: newest.stored.time,
    data: {
      ...newest.stored.data,
      fleet: [...new Set(current.map((r) => r.stored.data.fleet))].sort().join(","),
      acked: sum((p) => p.acked),
      nacked: sum((p) => p.nacked),
      pending: sum((p) => p.pending ?? 0),
      ...(errorDetail ? { errorDetail } : {}),
    },
  };
}

export function explainProgrammed(stored: Stored<Programmed> | undefined, generation: number, kind: L7Kind): ExplainedProgrammed {
  if (!stored) {
    return {
      status: "Unknown",
      summary:
        `no lb.programmed report yet: no Envoy of a fleet serving this ${kind} has answered for it ` +
        "(is an xds-gateway running, and is an Envoy of the pool's fleet connected?)",
      fleet: "",
      acked: 0,
      nacked: 0,
      pending: 0,
      generation: 0,
      time: "",
    };
  }
  const p = stored.data;
  const pending = p.pending ?? 0;
  const base = { fleet: p.fleet, acked: p.acked, nacked: p.nacked, pending, generation: p.allocationVersion, time: stored.time };
  if (p.nacked > 0) {
    const e = p.errorDetail;
    return {
      ...base,
      status: "False",
      summary: `${p.nacked} Envoy(s) of fleet ${p.fleet} rejected generation ${p.allocationVersion}${e ? `: ${oneLine(e.message, 400)}` : ""}`,
      ...(e ? { error: { node: e.node, typeUrl: e.typeUrl, message: e.message } } : {}),
    };
  }
  if (generation > 0 && p.allocationVersion < generation) {
    return {
      ...base,
      status: "Unknown",
      summary: `the last report is about generation ${p.allocationVersion}; generation ${generation} is not applied by the fleet yet`,
    };
  }
  if (pending > 0 || p.acked === 0) {
    return { ...base, status: "Unknown", summary: `waiting for ${pending} Envoy(s) of fleet ${p.fleet} (${p.acked} applied it)` };
  }
  return { ...base, status: "True", summary: `all ${p.acked} Envoy(s) of fleet ${p.fleet} applied generation ${p.allocationVersion}` };
}

function unknown(input: L7ExplainInput): CliError {
  const { kind, ref } = input;
  const where = OWNER_KINDS.includes(kind) ? " and no allocation" : "";
  return new CliError(
    "UnknownService",
    `unknown ${kind} ${ref.cluster}/${ref.namespace}/${ref.name}: no resource event on lb.resource.${ref.cluster}.${kind}.${ref.namespace}.${ref.name}${where}. ` +
      `Check the name, its class (IngressClass or GatewayClass sharedlb), and that the watcher of cluster "${ref.cluster}" is running.`,
  );
}

/** Where an Ingress, Gateway or route stands and why; throws UnknownService when NATS never heard of it. */
export function explainL7(input: L7ExplainInput, intersect: HostnameIntersect): L7Explanation {
  const { kind, ref } = input;
  if (!input.resource && !input.allocation) throw unknown(input);
  const data = input.resource?.data;
  const deleted = data !== undefined && isTombstone(data);
  const live = data && !isTombstone(data) ? data : undefined;
  const generation = live?.generation ?? input.allocation?.data.generation ?? 0;
  const notes: string[] = [];
  const owns = OWNER_KINDS.includes(kind);

  let listeners: ExplainedListener[] = [];
  let state: L7Standing;
  let summary: string;
  let reason = "";
  let message = "";
  if (owns) {
    const alloc = input.allocation?.data;
    listeners = (alloc?.listeners ?? []).map((l) => listenerOf(`${ref.namespace}/${ref.name}`, l));
    if (alloc) {
      state = alloc.state;
      reason = alloc.reason;
      message = alloc.message;
      summary = ownerSummary(alloc);
      if (alloc.generation !== undefined && live && alloc.generation < live.generation) {
        notes.push(`the allocation is for generation ${alloc.generation}; the allocator has not applied generation ${live.generation} yet`);
      }
    } else {
      ({ state, summary } = withoutAllocation(deleted, notes));
    }
  } else {
    const route = live as RouteResource | undefined;
    if (route) {
      for (const parent of input.parents) {
        if (!parent.allocation) {
          notes.push(`parent Gateway ${parent.ref.namespace}/${parent.ref.name} has no allocation yet`);
          continue;
        }
        for (const l of parent.allocation.data.listeners) {
          if (attaches(kind, parent.ref, l)) listeners.push(routeListener(route, parent, l, intersect));
        }
      }
    }
    const serving = listeners.filter((l) => (l.served?.length ?? 0) > 0);
    if (deleted) {
      state = "Deleted";
      summary = "Deleted in the tenant cluster: no longer served.";
    } else if (serving.length > 0) {
      state = "Attached";
      const names = [...new Set(serving.flatMap((l) => l.served ?? []))].sort();
      summary = `Served on ${serving.length} listener(s) under ${names.join(", ")}.`;
    } else {
      state = "NotAttached";
      summary =
        (route?.parentRefs.length ?? 0) === 0
          ? "Not attached: the watcher kept no parent it may attach to (see the refused references)."
          : "Not served: no parent listener holds a hostname of this route.";
    }
  }

  const claimed = [...new Set(listeners.flatMap((l) => (owns ? l.claimedHostnames : (l.served ?? []))))].sort();
  const refusedByName = new Map<string, RefusedHostname>();
  for (const l of listeners) for (const r of l.refusedHostnames) if (!claimed.includes(r.hostname)) refusedByName.set(r.hostname, r);
  const refused = [...refusedByName.values()].sort((a, b) => a.hostname.localeCompare(b.hostname));
  if (refused.some((r) => r.reason === "HostnameConflict")) {
    notes.push(
      "a hostname another tenant cluster holds is served here as soon as that tenant releases it, without any change on your side",
    );
  }
  const refusedRefs = live ? [...live.refusedRefs] : [];
  const programmed = explainProgrammed(input.programmed, generation, kind);

  return {
    object: `${kind} ${ref.cluster}/${ref.namespace}/${ref.name}`,
    kind,
    uid: live?.uid ?? input.allocation?.data.uid ?? (data && isTombstone(data) ? data.uid : ""),
    generation,
    state,
    summary,
    reason,
    message,
    listeners,
    hostnames: { claimed, refused },
    refusedRefs,
    programmed,
    ...(input.resource ? { resource: { seq: input.resource.seq, time: input.resource.time, deleted } } : {}),
    notes,
  };
}

function ownerSummary(a: L7Allocation): string {
  const ips = [...new Set(a.listeners.filter((l) => l.ip).map((l) => l.ip))];
  switch (a.state) {
    case "Allocated":
      return `Allocated on ${ips.join(", ")} (${a.listeners.length} listener(s)).`;
    case "Pending":
      return `Pending: ${a.reason || "waiting"}${a.message ? ` — ${a.message}` : ""}. It is served as soon as the hostname or capacity frees up.`;
    case "Failed":
      return `Failed: ${a.reason || "error"}${a.message ? ` — ${a.message}` : ""}. Fix the object; it is not retried until it changes.`;
    case "Released":
      return "Released: it left sharedlb; its hostname claims and slots free after the quarantine.";
  }
}

const label = (k: string) => `${k}:`.padEnd(12);

function hostList(names: readonly string[]): string {
  return names.length === 0 ? "-" : names.join(", ");
}

export function renderL7Explanation(e: L7Explanation, style: Style): string {
  const out: string[] = [];
  const add = (k: string, v: string) => out.push(`${label(k)}${v}`);
  const kindName = e.object.split(" ")[0] ?? "";
  add(
    kindName.charAt(0).toUpperCase() + kindName.slice(1),
    `${style.bold(e.object.slice(kindName.length + 1))}${e.uid ? style.dim(` (uid ${e.uid}, generation ${e.generation})`) : ""}`,
  );
  add("State", stateStyle(style, e.state === "Attached" ? "Allocated" : e.state === "NotAttached" ? "Pending" : e.state)(e.state));
  add("Why", e.summary);
  if (e.reason) add("Reason", e.reason);
  add("Hostnames", hostList(e.hostnames.claimed));
  for (const r of e.hostnames.refused) out.push(`  ${style.red("✗")} ${r.hostname}: ${style.yellow(r.reason)} — ${oneLine(r.message)}`);
  if (e.listeners.length > 0) {
    out.push(label("Listeners"));
    for (const l of e.listeners) {
      const where = l.ip ? `${l.ip}:${l.port}` : `port ${l.port || "-"}`;
      const mode = l.state === "Allocated" ? (l.shared ? "shared" : "exclusive") : stateStyle(style, l.state)(l.state);
      const names = l.served ?? l.claimedHostnames;
      out.push(
        `  ${l.owner} ${l.name} ${l.protocol} ${where} ${mode}  ${hostList(l.shared || names.length > 0 ? names : ["*"])}` +
          `${l.reason ? ` ${style.yellow(l.reason)}` : ""}${l.envoyListener ? style.dim(`  listener ${l.envoyListener}`) : ""}`,
      );
    }
  }
  if (e.refusedRefs.length > 0) {
    out.push(label("Refused"));
    for (const r of e.refusedRefs) {
      const target = `${r.kind}${r.namespace ? ` ${r.namespace}/` : " "}${r.name}`;
      out.push(`  ${r.field}: ${target} ${style.yellow(r.reason)} — ${oneLine(r.message)}`);
    }
  }
  const p = e.programmed;
  add(
    "Programmed",
    `${p.status === "True" ? style.green("True") : p.status === "False" ? style.red("False") : style.dim("Unknown")} — ${p.summary}`,
  );
  if (p.error) {
    out.push(`  node ${p.error.node}, ${p.error.typeUrl}:`);
    for (const line of p.error.message.split("\n").slice(0, 20)) out.push(`    ${line}`);
  }
  if (e.resource) add("Events", `resource #${e.resource.seq} at ${e.resource.time}${e.resource.deleted ? " (tombstone)" : ""}`);
  for (const n of e.notes) out.push(style.yellow(`Note: ${n}`));
  return `${out.join("\n")}\n`;
}
