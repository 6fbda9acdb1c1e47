import { Counter, type Registry } from "prom-client";
import type { ReadinessCheck } from "@sharedlb/runtime";
import type { LeaderElector } from "./leader-election.js";
import type { LeaseFailureReason } from "./lease-failure.js";

export interface LeaseMetrics {
  failures: Counter<"reason">;
}

/** Lease attempts that failed for a reason other than another replica holding it. */
export function leaseMetrics(registry: Registry): LeaseMetrics {
  return {
    failures: new Counter({
      name: "sharedlb_lease_failures_total",
      help: "Lease attempts that failed for a reason other than another replica holding the lease, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}

export function countLeaseFailure(metrics: LeaseMetrics): (reason: LeaseFailureReason) => void {
  return (reason) => metrics.failures.inc({ reason });
}

/** `/readyz` fails while the lease cannot be taken (a standby that never could take over is not ready either). */
export function leaseReadiness(elector: () => LeaderElector | undefined): ReadinessCheck {
  return {
    name: "lease",
    ready: () => elector()?.problem === undefined,
    detail: () => {
      const p = elector()?.problem;
      return p ? `${p.reason}: ${p.message} (${p.failures} attempts failed)` : undefined;
    },
  };
}
