import type { KubeConfig } from "@kubernetes/client-node";
import { describeError, type Lifecycle, type Logger } from "@sharedlb/runtime";
import { type LeaderElectionOptions, LeaderElector } from "./leader-election.js";
import { countLeaseFailure, type LeaseMetrics } from "./lease-metrics.js";

export interface LeadershipOptions {
  kubeConfig: KubeConfig;
  lease: LeaderElectionOptions;
  lifecycle: Lifecycle;
  log: Logger;
  /** Starts the leader's work; may take a while (it runs while the lease is renewed). */
  start: () => Promise<void>;
  onLeaderChange?: (leading: boolean) => void;
  /** Counts lease attempts that fail for a reason other than another replica holding it. */
  metrics?: LeaseMetrics;
}

/**
 * Runs `start` only while this replica holds the lease. Register the leader's own drain
 * hooks after calling this: drain hooks run in reverse order, so the work stops before the
 * lease is released and a standby never overlaps with it. A lost lease (not released)
 * ends the process after a graceful stop: its supervisor restarts it as a standby, which is
 * simpler and safer than unwinding every component in place.
 */
export function runWithLeadership(opts: LeadershipOptions): LeaderElector {
  const elector = new LeaderElector(
    opts.kubeConfig,
    opts.lease,
    opts.log.child({ component: "leader-election" }),
    opts.onLeaderChange,
    opts.metrics ? countLeaseFailure(opts.metrics) : undefined,
  );
  elector.start({
    onStartedLeading: opts.start,
    onStoppedLeading: () => {
      opts.log.error("leadership lost; stopping so that only the new leader publishes");
      void opts.lifecycle
        .stop()
        .catch((err: unknown) => opts.log.error({ err: describeError(err) }, "stop failed"))
        .finally(() => process.exit(1));
    },
  });
  opts.lifecycle.onDrain("leader-election", () => elector.stop());
  return elector;
}
