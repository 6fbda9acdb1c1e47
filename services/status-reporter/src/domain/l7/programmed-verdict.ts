import type { Programmed } from "@sharedlb/contracts";

/** What the fleets said about an object's current generation. */
export type ProgrammedVerdict =
  | { state: "acked"; acked: number; fleets: string[] }
  | { state: "nacked"; nacked: number; fleet: string; node: string; message: string }
  | { state: "pending"; message: string };

/**
 * Each xds-gateway replica reports the Envoys connected to it: `reports` holds the latest
 * report of every (fleet, replica). Per fleet the counts of this very generation are
 * summed over replicas. True only when every fleet that reported on this generation has it
 * applied by at least one Envoy, rejected by none and awaited from none; a NACK on any
 * replica wins (another replica's all-acked report must not hide it). Reports about other
 * generations say nothing about this one.
 */
export function programmedVerdict(reports: readonly Programmed[], generation: number): ProgrammedVerdict {
  const current = reports.filter((r) => r.allocationVersion === generation);
  const nacking = current.filter((r) => r.nacked > 0).sort((a, b) => a.fleet.localeCompare(b.fleet));
  const first = nacking[0];
  if (first) {
    return {
      state: "nacked",
      nacked: nacking.filter((r) => r.fleet === first.fleet).reduce((n, r) => n + r.nacked, 0),
      fleet: first.fleet,
      node: first.errorDetail?.node ?? "",
      message: first.errorDetail?.message ?? "no error detail given",
    };
  }
  const fleets = new Map<string, { acked: number; pending: number }>();
  for (const r of current) {
    const f = fleets.get(r.fleet) ?? { acked: 0, pending: 0 };
    fleets.set(r.fleet, { acked: f.acked + r.acked, pending: f.pending + (r.pending ?? 0) });
  }
  if (fleets.size === 0) return { state: "pending", message: `waiting for the Envoy fleet to apply generation ${generation}` };
  const names = [...fleets.keys()].sort();
  for (const fleet of names) {
    const f = fleets.get(fleet) ?? { acked: 0, pending: 0 };
    if (f.pending > 0 || f.acked === 0) {
      return {
        state: "pending",
        message: `generation ${generation}: ${f.acked} Envoy(s) of fleet ${fleet} applied it, ${f.pending} have not answered yet`,
      };
    }
  }
  return { state: "acked", acked: [...fleets.values()].reduce((n, f) => n + f.acked, 0), fleets: names };
}

export function nackMessage(v: Extract<ProgrammedVerdict, { state: "nacked" }>): string {
  return `rejected by ${v.nacked} Envoy(s) of fleet ${v.fleet}${v.node ? ` (node ${v.node})` : ""}: ${v.message}`;
}
