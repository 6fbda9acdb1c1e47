import type { L7Allocation } from "@sharedlb/contracts";
import { oneLine } from "./status.js";
import type { Style } from "./style.js";
import { stateStyle } from "./style.js";
import { compareIp, renderTable } from "./table.js";

// The L7 half of `sharedlb status`: which hostnames each shared (IP, port) serves, for
// which tenant cluster and object, and the Gateways and Ingresses that wait or failed.

export interface HostnameClaim {
  hostname: string;
  cluster: string;
  /** `<kind> <namespace>/<name>` of the Gateway or Ingress holding it. */
  object: string;
}

export interface L7Slot {
  pool: string;
  ip: string;
  port: number;
  protocol: string;
  /** A shared slot (hostnames claimed by any tenant), or one tenant's exclusive slot. */
  shared: boolean;
  /** Exclusive slots: every hostname (`*`) of their one tenant. */
  hostnames: HostnameClaim[];
}

/** A Gateway or Ingress that waits, failed, or was refused some of its hostnames. */
export interface L7NotServed {
  object: string;
  state: "Allocated" | "Pending" | "Failed";
  reason: string;
  /** Hostnames refused, with their reason (HostnameConflict, …). */
  refused: string[];
  message: string;
}

export interface L7StatusReport {
  slots: L7Slot[];
  notServed: L7NotServed[];
  totals: { objects: number; hostnames: number; ips: number };
}

export function summarizeL7Allocations(allocations: Iterable<L7Allocation>): L7StatusReport {
  const slots = new Map<string, L7Slot>();
  const notServed: L7NotServed[] = [];
  let objects = 0;
  for (const a of allocations) {
    if (a.state === "Released") continue;
    objects++;
    const object = `${a.kind} ${a.cluster}/${a.namespace}/${a.name}`;
    for (const l of a.listeners) {
      if (l.state !== "Allocated" || !l.ip) continue;
      const key = `${l.pool}|${l.ip}|${l.port}`;
      let slot = slots.get(key);
      if (!slot) {
        slot = { pool: l.pool, ip: l.ip, port: l.port, protocol: l.protocol, shared: l.shared, hostnames: [] };
        slots.set(key, slot);
      }
      const names = l.shared || l.claimedHostnames.length > 0 ? l.claimedHostnames : ["*"];
      for (const hostname of names) slot.hostnames.push({ hostname, cluster: a.cluster, object: `${a.kind} ${a.namespace}/${a.name}` });
    }
    const refused = a.listeners.flatMap((l) => l.refusedHostnames.map((r) => `${r.hostname} (${r.reason})`));
    if (a.state === "Pending" || a.state === "Failed" || refused.length > 0) {
      const message = a.message || a.listeners.find((l) => l.message)?.message || "";
      const reason = a.reason || a.listeners.find((l) => l.reason)?.reason || "";
      notServed.push({ object, state: a.state, reason, refused: [...new Set(refused)].sort(), message });
    }
  }
  const list = [...slots.values()].sort((a, b) => a.pool.localeCompare(b.pool) || compareIp(a.ip, b.ip) || a.port - b.port);
  for (const s of list) {
    s.hostnames.sort(
      (a, b) => a.hostname.localeCompare(b.hostname) || a.cluster.localeCompare(b.cluster) || a.object.localeCompare(b.object),
    );
  }
  notServed.sort((a, b) => a.object.localeCompare(b.object));
  return {
    slots: list,
    notServed,
    totals: {
      objects,
      hostnames: new Set(list.flatMap((s) => s.hostnames.map((h) => `${s.pool}|${s.ip}|${s.port}|${h.hostname}`))).size,
      ips: new Set(list.map((s) => `${s.pool}|${s.ip}`)).size,
    },
  };
}

export function renderL7Status(report: L7StatusReport, style: Style): string {
  if (report.totals.objects === 0) return "";
  const out: string[] = [style.bold("Layer 7 hostnames per IP:")];
  const rows = report.slots.flatMap((s) =>
    s.hostnames.map((h) => [s.pool, s.ip, `${s.port}/${s.protocol}`, s.shared ? "shared" : "exclusive", h.hostname, h.cluster, h.object]),
  );
  out.push(
    rows.length > 0
      ? renderTable(
          [
            { header: "POOL" },
            { header: "IP" },
            { header: "PORT" },
            { header: "SLOT" },
            { header: "HOSTNAME" },
            { header: "CLUSTER" },
            { header: "OBJECT" },
          ],
          rows,
          style.bold,
        )
      : "No Gateway or Ingress holds a hostname.",
  );
  if (report.notServed.length > 0) {
    out.push("", style.bold("L7 not (fully) served:"));
    out.push(
      renderTable(
        [{ header: "OBJECT" }, { header: "STATE" }, { header: "REASON" }, { header: "REFUSED" }, { header: "MESSAGE" }],
        report.notServed.map((n) => [
          n.object,
          stateStyle(style, n.state)(n.state),
          n.reason || "-",
          n.refused.join(", ") || "-",
          oneLine(n.message),
        ]),
        style.bold,
      ),
    );
  }
  return `${out.join("\n")}\n`;
}
