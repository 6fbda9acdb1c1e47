import type { Allocation } from "@sharedlb/contracts";
import type { Style } from "./style.js";
import { stateStyle } from "./style.js";
import { compareIp, renderTable } from "./table.js";

export interface IpUsage {
  ip: string;
  /** Allocated Services on this IP. */
  services: number;
  /** Slots held: one per (protocol, external port). */
  ports: number;
  tcpPorts: number;
  udpPorts: number;
  /** Tenant clusters sharing the IP. */
  clusters: number;
}

export interface PoolStatus {
  /** Empty when the allocator could not tie a Pending/Failed Service to a pool. */
  pool: string;
  allocated: number;
  pending: number;
  failed: number;
  /** Deleted Services whose allocation is still in the stream (quarantine, then purge). */
  released: number;
  ports: number;
  ips: IpUsage[];
}

export interface NotServed {
  service: string;
  state: "Pending" | "Failed";
  pool: string;
  reason: string;
  message: string;
}

export interface StatusReport {
  pools: PoolStatus[];
  notServed: NotServed[];
  totals: { services: number; allocated: number; pending: number; failed: number; released: number; ips: number; ports: number };
}

/**
 * Aggregates the current allocations (last value per Service from LB_ALLOCATIONS). The
 * per-IP slot count is what matters on shared IPs: a pool's port range × protocols is
 * tens of thousands of slots, so a percentage of it says nothing.
 */
export function summarizeAllocations(allocations: Iterable<Allocation>): StatusReport {
  const pools = new Map<string, PoolStatus & { byIp: Map<string, IpUsage & { clusterSet: Set<string> }> }>();
  const notServed: NotServed[] = [];
  const pool = (name: string) => {
    let p = pools.get(name);
    if (!p) {
      p = { pool: name, allocated: 0, pending: 0, failed: 0, released: 0, ports: 0, ips: [], byIp: new Map() };
      pools.set(name, p);
    }
    return p;
  };
  for (const a of allocations) {
    const p = pool(a.pool);
    const key = `${a.cluster}/${a.namespace}/${a.name}`;
    switch (a.state) {
      case "Allocated": {
        p.allocated++;
        // A dual-stack Service holds its slots on each address; all are listed under its
        // allocation's pool, whose fleet serves them.
        for (const address of [a.ip, ...(a.ips ?? []).filter((x) => x !== a.ip)]) {
          let ip = p.byIp.get(address);
          if (!ip) {
            ip = { ip: address, services: 0, ports: 0, tcpPorts: 0, udpPorts: 0, clusters: 0, clusterSet: new Set() };
            p.byIp.set(address, ip);
          }
          ip.services++;
          ip.clusterSet.add(a.cluster);
          for (const port of a.ports) {
            ip.ports++;
            p.ports++;
            if (port.protocol === "TCP") ip.tcpPorts++;
            else if (port.protocol === "UDP") ip.udpPorts++;
          }
        }
        break;
      }
      case "Pending":
      case "Failed":
        if (a.state === "Pending") p.pending++;
        else p.failed++;
        notServed.push({ service: key, state: a.state, pool: a.pool, reason: a.reason, message: a.message });
        break;
      case "Released":
        p.released++;
        break;
    }
  }
  const list: PoolStatus[] = [...pools.values()]
    .sort((a, b) => (a.pool === "" ? 1 : b.pool === "" ? -1 : a.pool.localeCompare(b.pool)))
    .map(({ byIp, ...p }) => ({
      ...p,
      ips: [...byIp.values()].sort((a, b) => compareIp(a.ip, b.ip)).map(({ clusterSet, ...ip }) => ({ ...ip, clusters: clusterSet.size })),
    }));
  notServed.sort((a, b) => a.service.localeCompare(b.service));
  const sum = (f: (p: PoolStatus) => number) => list.reduce((n, p) => n + f(p), 0);
  return {
    pools: list,
    notServed,
    totals: {
      services: sum((p) => p.allocated + p.pending + p.failed + p.released),
      allocated: sum((p) => p.allocated),
      pending: sum((p) => p.pending),
      failed: sum((p) => p.failed),
      released: sum((p) => p.released),
      ips: sum((p) => p.ips.length),
      ports: sum((p) => p.ports),
    },
  };
}

const NO_POOL = "(no pool)";

export function renderStatus(report: StatusReport, style: Style, maxNotServed = 50): string {
  if (report.totals.services === 0) return "No allocations yet: no Service has been seen by an allocator.\n";
  const out: string[] = [];
  const ipRows = report.pools.flatMap((p) =>
    p.ips.map((ip) => [
      p.pool,
      ip.ip,
      String(ip.services),
      String(ip.ports),
      String(ip.tcpPorts),
      String(ip.udpPorts),
      String(ip.clusters),
    ]),
  );
  if (ipRows.length > 0) {
    out.push(
      renderTable(
        [
          { header: "POOL" },
          { header: "IP" },
          { header: "SERVICES", align: "right" },
          { header: "PORTS", align: "right" },
          { header: "TCP", align: "right" },
          { header: "UDP", align: "right" },
          { header: "CLUSTERS", align: "right" },
        ],
        ipRows,
        style.bold,
      ),
    );
  } else {
    out.push("No Service is allocated.");
  }
  out.push("");
  const color = (state: string, n: number) => (n > 0 ? stateStyle(style, state)(String(n)) : String(n));
  out.push(
    renderTable(
      [
        { header: "POOL" },
        { header: "IPS", align: "right" },
        { header: "ALLOCATED", align: "right" },
        { header: "PORTS", align: "right" },
        { header: "PENDING", align: "right" },
        { header: "FAILED", align: "right" },
        { header: "RELEASED", align: "right" },
      ],
      report.pools.map((p) => [
        p.pool === "" ? NO_POOL : p.pool,
        String(p.ips.length),
        String(p.allocated),
        String(p.ports),
        color("Pending", p.pending),
        color("Failed", p.failed),
        String(p.released),
      ]),
      style.bold,
    ),
  );
  if (report.notServed.length > 0) {
    out.push("", style.bold("Not served:"));
    const shown = report.notServed.slice(0, maxNotServed);
    out.push(
      renderTable(
        [{ header: "SERVICE" }, { header: "STATE" }, { header: "POOL" }, { header: "REASON" }, { header: "MESSAGE" }],
        shown.map((n) => [
          n.service,
          stateStyle(style, n.state)(n.state),
          n.pool === "" ? "-" : n.pool,
          n.reason || "-",
          oneLine(n.message),
        ]),
        style.bold,
      ),
    );
    if (report.notServed.length > shown.length) {
      out.push(style.dim(`… and ${report.notServed.length - shown.length} more (sharedlb status --json lists all)`));
    }
  }
  return `${out.join("\n")}\n`;
}

export function oneLine(s: string, max = 120): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
