import type { Allocation, EndpointsResource, NodeResource, ServiceResource, XdsActivity } from "@sharedlb/contracts";
import { CliError } from "./errors.js";
import type { Style } from "./style.js";
import { compareIp, renderTable } from "./table.js";
import { typeUrlShort } from "./events.js";

/** The tenant state the gateway builds from: last values of LB_RESOURCES and LB_ALLOCATIONS. */
export interface TenantState {
  services: ReadonlyMap<string, ServiceResource>;
  allocations: ReadonlyMap<string, Allocation>;
  /** Nodes per tenant cluster. */
  nodes: ReadonlyMap<string, ReadonlyMap<string, NodeResource>>;
  endpoints: ReadonlyMap<string, EndpointsResource>;
}

export interface FleetListener {
  /** `<proto>-<ip>-<port>` for Envoy; for proxyless gRPC the `xds:///` target name. */
  name: string;
  kind: "tcp" | "udp" | "grpc-api";
  ip: string;
  port: number;
  service: string;
  servicePort: number;
  /** Envoy cluster `<cluster>/<namespace>/<name>/<proto>-<service port>`. */
  cluster: string;
  /** `address:nodePort` of every serving tenant node. */
  endpoints: string[];
  proxyProtocol?: string;
}

export interface FleetConfig {
  fleet: string;
  pools: string[];
  /**
   * How it was computed: the xds-gateway's own planning code (planService, via its
   * TenantView) run over the same streams the gateway replays, so it is what any gateway
   * replica that has caught up serves.
   */
  derivedFrom: "xds-gateway-plans";
  listeners: FleetListener[];
  /** Allocated Services of the fleet's pools that are not served, and why. */
  skipped: { service: string; why: string }[];
  nodes: FleetNode[];
  /** `last-event`: each node's latest event only; `per-type`: every type's last ACK/NACK (--node). */
  nodesDetail: "last-event" | "per-type";
}

export interface FleetNode {
  node: string;
  /** Last activity per resource type (and the last connect/disconnect under "stream"). */
  lastByType: { typeUrl: string; event: string; version: string; time: string; error?: string }[];
  lastEvent: string;
  lastTime: string;
}

export interface FleetFile {
  fleets: readonly { name: string; pools: ReadonlySet<string> | readonly string[] }[];
}

/** The pools a fleet serves, from the gateway's fleet file or from --pool. */
export function fleetPools(fleet: string, file: FleetFile | undefined, explicit: readonly string[]): string[] {
  if (explicit.length > 0) return [...new Set(explicit)].sort();
  if (!file) {
    throw new CliError(
      "UsageError",
      `which pools does fleet "${fleet}" serve? Pass --fleet-config <file> (the xds-gateway's fleet file, also SHAREDLB_FLEET_CONFIG) or --pool <name>`,
    );
  }
  const f = file.fleets.find((x) => x.name === fleet);
  if (!f) {
    throw new CliError(
      "InvalidFleetConfig",
      `fleet "${fleet}" is not in the fleet file (fleets: ${file.fleets.map((x) => x.name).join(", ") || "none"})`,
    );
  }
  return [...new Set(f.pools)].sort();
}

/**
 * The part of the ServicePlan (libs/serving/src/plan.ts) this view reads; structural, so
 * the pure code here does not load the serving library.
 */
export interface PlanView {
  readonly key: string;
  readonly pool: string;
  readonly ip: string;
  readonly ports: readonly {
    readonly protocol: "TCP" | "UDP";
    readonly servicePort: number;
    readonly externalPort: number;
    readonly nodePort: number;
    readonly listenerName: string;
    /** One per address (dual-stack); absent: the one listenerName on ip. */
    readonly listeners?: readonly { readonly ip: string; readonly name: string }[];
    readonly clusterName: string;
    readonly proxyProtocol: string | undefined;
    readonly grpcTarget: string | undefined;
  }[];
  readonly endpoints: readonly { readonly node: string; readonly address: string }[];
  readonly warnings: readonly string[];
}

/**
 * Lays out what a fleet is served from the gateway's own plans (one per served Service):
 * one listener per allocated (IP, protocol, external port), its cluster, and the tenant
 * nodes at the NodePort (none without a NodePort, as the gateway builds it). Allocated
 * Services of the fleet's pools without a plan are listed with the likely reason.
 */
export function fleetConfigFromPlans(
  fleet: string,
  pools: readonly string[],
  plans: readonly PlanView[],
  state: Pick<TenantState, "services" | "allocations">,
): FleetConfig {
  const poolSet = new Set(pools);
  const listeners: FleetListener[] = [];
  const skipped: FleetConfig["skipped"] = [];
  const planned = new Set<string>();
  for (const plan of plans) {
    if (!poolSet.has(plan.pool)) continue;
    planned.add(plan.key);
    for (const w of plan.warnings) skipped.push({ service: plan.key, why: w });
    for (const p of plan.ports) {
      const proto = p.protocol === "TCP" ? "tcp" : "udp";
      const endpoints = p.nodePort > 0 ? plan.endpoints.map((e) => `${e.address}:${p.nodePort}`) : [];
      const common = {
        ip: plan.ip,
        port: p.externalPort,
        service: plan.key,
        servicePort: p.servicePort,
        cluster: p.clusterName,
        endpoints,
      };
      for (const l of p.listeners ?? [{ ip: plan.ip, name: p.listenerName }]) {
        listeners.push({ name: l.name, kind: proto, ...common, ip: l.ip, ...(p.proxyProtocol ? { proxyProtocol: p.proxyProtocol } : {}) });
      }
      if (p.grpcTarget) listeners.push({ name: p.grpcTarget, kind: "grpc-api", ...common });
    }
  }
  for (const [key, alloc] of [...state.allocations.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (alloc.state !== "Allocated" || !poolSet.has(alloc.pool) || planned.has(key)) continue;
    const svc = state.services.get(key);
    skipped.push({
      service: key,
      why: !svc
        ? "allocated, but the Service resource is gone (deleted; the allocator has not released it yet)"
        : svc.uid !== alloc.uid
          ? `allocation is for uid ${alloc.uid}, the Service is now uid ${svc.uid} (re-created; allocator catching up)`
          : "allocated, but the gateway builds nothing for it",
    });
  }
  listeners.sort((a, b) => {
    if (a.kind === "grpc-api" || b.kind === "grpc-api") {
      if (a.kind !== b.kind) return a.kind === "grpc-api" ? 1 : -1;
      return a.name.localeCompare(b.name);
    }
    return compareIp(a.ip, b.ip) || a.kind.localeCompare(b.kind) || a.port - b.port;
  });
  return { fleet, pools: [...pools], derivedFrom: "xds-gateway-plans", listeners, skipped, nodes: [], nodesDetail: "last-event" };
}

/** Folds one Envoy node's `lb.xds` events (oldest first) into its latest state per type. */
export function summarizeNode(node: string, events: readonly { time: string; data: XdsActivity }[]): FleetNode {
  const byType = new Map<string, FleetNode["lastByType"][number]>();
  let lastEvent = "";
  let lastTime = "";
  for (const { time, data } of events) {
    lastEvent = data.event;
    lastTime = time;
    const typeUrl = data.typeUrl ?? "stream";
    if (data.event === "connect" || data.event === "disconnect") {
      byType.set("stream", { typeUrl: "stream", event: data.event, version: "", time });
      continue;
    }
    byType.set(typeUrl, {
      typeUrl,
      event: data.event,
      version: data.version ?? "",
      time,
      ...(data.errorDetail ? { error: data.errorDetail.message } : {}),
    });
  }
  return { node, lastByType: [...byType.values()].sort((a, b) => a.typeUrl.localeCompare(b.typeUrl)), lastEvent, lastTime };
}

export function renderFleetConfig(c: FleetConfig, style: Style): string {
  const out: string[] = [];
  const clusters = new Set(c.listeners.map((l) => l.cluster));
  const endpoints = c.listeners.filter((l) => l.kind !== "grpc-api").reduce((n, l) => n + l.endpoints.length, 0);
  out.push(`${style.bold(`Fleet ${c.fleet}`)}  pools: ${c.pools.join(", ") || "none"}`);
  out.push(
    style.dim(
      `planned by the xds-gateway's code from LB_RESOURCES and LB_ALLOCATIONS; ${c.listeners.length} listener(s), ${clusters.size} cluster(s), ${endpoints} endpoint(s)`,
    ),
  );
  out.push("");
  if (c.listeners.length === 0) {
    out.push("No listeners: no Service in these pools is allocated.");
  } else {
    out.push(
      renderTable(
        [{ header: "LISTENER" }, { header: "SERVICE" }, { header: "CLUSTER" }, { header: "ENDPOINTS" }],
        c.listeners.map((l) => [
          l.kind === "grpc-api" ? `xds:///${l.name}` : l.name,
          `${l.service}:${l.servicePort}`,
          l.cluster + (l.proxyProtocol ? style.dim(` (PROXY ${l.proxyProtocol})`) : ""),
          l.endpoints.length > 0 ? l.endpoints.join(" ") : style.red("(none)"),
        ]),
        style.bold,
      ),
    );
  }
  if (c.skipped.length > 0) {
    out.push("", style.bold("Not served:"));
    for (const s of c.skipped) out.push(`  ${s.service}: ${s.why}`);
  }
  out.push("");
  if (c.nodes.length === 0) {
    out.push(style.dim("Envoy nodes: no lb.xds events recorded for this fleet."));
  } else {
    const detail =
      c.nodesDetail === "per-type" ? "last event per resource type" : "last event per node; --node <id> shows every type's last ACK/NACK";
    out.push(`${style.bold("Envoy nodes")} ${style.dim(`(from lb.xds events: ${detail})`)}`);
    const rows: string[][] = [];
    for (const n of c.nodes) {
      for (const t of n.lastByType) {
        const ev = t.event === "nack" ? style.red(t.event) : t.event === "ack" ? style.green(t.event) : t.event;
        rows.push([n.node, t.typeUrl === "stream" ? "stream" : typeUrlShort(t.typeUrl), ev, t.version || "-", t.time, t.error ?? ""]);
      }
    }
    out.push(
      renderTable(
        [{ header: "NODE" }, { header: "TYPE" }, { header: "LAST" }, { header: "VERSION" }, { header: "TIME" }, { header: "ERROR" }],
        rows,
        style.bold,
      ),
    );
  }
  return `${out.join("\n")}\n`;
}
