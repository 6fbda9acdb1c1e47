import { CoordinationV1Api, type KubeConfig, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { delay, describeError, type Logger } from "@sharedlb/runtime";
import { apiStatusCode, withTimeout } from "./api-errors.js";
import { LeaseAttemptFailed, type LeaseFailureReason, leaseFailure } from "./lease-failure.js";
import { decideLease, type LeaseRecord, newLeaseRecord, type Observation, observe, releasedRecord } from "./lease-decision.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** How long a lease is valid without renewal (others wait this long after a crash). */
  leaseDurationMs: number;
  /** A leader that could not renew for this long stops leading; must be < leaseDuration. */
  renewDeadlineMs: number;
  /** Pause between attempts to acquire or renew. */
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  /** Runs when this candidate becomes leader; the work it starts must stop on `stop()`. */
  onStartedLeading: () => Promise<void> | void;
  /** Leadership was lost (not released): everything started as leader must stop now. */
  onStoppedLeading: () => void;
}

/** A lease that cannot be taken for a reason other than another replica holding it. */
export interface LeaseProblem {
  reason: LeaseFailureReason;
  message: string;
  /** Consecutive failed attempts. */
  failures: number;
  /** When the first of them failed (ms since the epoch). */
  since: number;
}

/** How often a lease problem that persists is logged again. */
const PROBLEM_LOG_EVERY_MS = 30_000;

export class LeaderElectionConfigError extends Error {
  override readonly name = "LeaderElectionConfigError";
  readonly reason = "InvalidConfig";
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, so that of several replicas exactly
 * one publishes. Writes use the Lease's resourceVersion, so two candidates that race for
 * an expired lease cannot both win. On a clean stop the leader releases the lease, so a
 * standby takes over at once instead of after leaseDuration.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private observed: Observation | undefined;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private lastRv = "";
  private lastRecord: LeaseRecord | undefined;
  private currentProblem: LeaseProblem | undefined;
  private problemLoggedAt = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly onLeaderChange: (leading: boolean) => void = () => undefined,
    private readonly onFailure: (reason: LeaseFailureReason) => void = () => undefined,
  ) {
    if (!(opts.renewDeadlineMs < opts.leaseDurationMs)) {
      throw new LeaderElectionConfigError("the lease renew deadline must be shorter than the lease duration");
    }
    if (!(opts.retryPeriodMs < opts.renewDeadlineMs)) {
      throw new LeaderElectionConfigError("the lease retry period must be shorter than the renew deadline");
    }
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Why the lease cannot be taken right now, or undefined (held by another replica is no problem). */
  get problem(): LeaseProblem | undefined {
    return this.currentProblem;
  }

  start(callbacks: LeaderCallbacks): void {
    this.loop = this.run(callbacks);
  }

  /** Stops campaigning; a leader releases the lease. Call after leader work has stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      await this.release().catch((err: unknown) => this.log.warn({ err: describeError(err) }, "could not release the lease"));
      this.setLeading(false);
    }
  }

  private async run(cb: LeaderCallbacks): Promise<void> {
    const lease = `${this.opts.namespace}/${this.opts.name}`;
    this.log.info({ lease, identity: this.opts.identity }, "campaigning for leadership");
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew().then(
        (held) => {
          this.attemptSucceeded(lease);
          return held;
        },
        (err: unknown) => {
          this.attemptFailed(lease, err);
          return false;
        },
      );
      if (this.stopped) break;
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.setLeading(true);
          this.log.info({ lease, identity: this.opts.identity }, "became leader");
          // Not awaited: starting (informer sync, stream replay) may take longer than the
          // lease, and renewals must go on meanwhile.
          void Promise.resolve()
            .then(cb.onStartedLeading)
            .catch((err: unknown) => {
              if (this.stopped || !this.leading) return;
              this.log.error({ err: describeError(err) }, "starting as leader failed");
              this.stopped = true;
              this.abort.abort();
              cb.onStoppedLeading();
            });
        }
      } else if (this.leading && now - this.lastRenew >= this.opts.renewDeadlineMs) {
        this.log.error({ lease, renewDeadlineMs: this.opts.renewDeadlineMs }, "could not renew the lease in time: leadership lost");
        this.setLeading(false);
        cb.onStoppedLeading();
        return;
      }
      await delay(this.opts.retryPeriodMs, this.abort.signal);
    }
  }

  /**
   * A lease that cannot be taken (namespace missing, RBAC, API server away) is a
   * misconfiguration or an outage the user must see: warn on the first failure, on a change
   * of reason and then every 30 s, count every failure, and expose it for /readyz.
   */
  private attemptFailed(lease: string, err: unknown): void {
    const failed = err instanceof LeaseAttemptFailed ? err : new LeaseAttemptFailed("Rejected", describeError(err), { cause: err });
    const now = Date.now();
    const previous = this.currentProblem;
    this.currentProblem = {
      reason: failed.reason,
      message: failed.message,
      failures: (previous?.failures ?? 0) + 1,
      since: previous?.since ?? now,
    };
    this.onFailure(failed.reason);
    if (previous?.reason !== failed.reason || now - this.problemLoggedAt >= PROBLEM_LOG_EVERY_MS) {
      this.problemLoggedAt = now;
      this.log.warn(
        { lease, reason: failed.reason, failures: this.currentProblem.failures, err: failed.message },
        previous ? "the lease still cannot be taken" : "the lease cannot be taken",
      );
    }
  }

  private attemptSucceeded(lease: string): void {
    if (!this.currentProblem) return;
    this.log.info({ lease, failures: this.currentProblem.failures }, "lease attempts work again");
    this.currentProblem = undefined;
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.onLeaderChange(v);
  }

  /** One round: true when this candidate holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const timeoutMs = Math.max(1000, this.opts.renewDeadlineMs - this.opts.retryPeriodMs);
    const durationS = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    const { namespace, name, identity } = this.opts;
    let current: V1Lease;
    try {
      current = await withTimeout("reading the lease", this.api.readNamespacedLease({ name, namespace }), timeoutMs);
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw leaseFailure(err, "read", namespace) ?? err;
      const record = newLeaseRecord(identity, durationS, Date.now());
      let created: V1Lease;
      try {
        created = await withTimeout(
          "creating the lease",
          this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: toSpec(record) } }),
          timeoutMs,
        );
      } catch (createErr) {
        // undefined: another replica created it first, which is contention, not a problem.
        const failed = leaseFailure(createErr, "create", namespace);
        if (failed) throw failed;
        return false;
      }
      this.remember(created, record);
      return true;
    }
    const record = fromSpec(current);
    const now = Date.now();
    this.observed = observe(this.observed, record, now);
    const decision = decideLease(record, this.observed, identity, now, durationS);
    if (decision.action === "wait") return false;
    let replaced: V1Lease;
    try {
      replaced = await withTimeout(
        "updating the lease",
        this.api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: toSpec(decision.record) } }),
        timeoutMs,
      );
    } catch (err) {
      const failed = leaseFailure(err, "update", namespace);
      if (failed) throw failed;
      return false;
    }
    if (decision.takeover) this.log.info({ previous: record.holderIdentity || "(released)" }, "lease taken over");
    this.remember(replaced, decision.record);
    return true;
  }

  private remember(lease: V1Lease, record: LeaseRecord): void {
    this.lastRv = lease.metadata?.resourceVersion ?? "";
    this.lastRecord = record;
    this.observed = observe(undefined, record, Date.now());
  }

  private async release(): Promise<void> {
    if (!this.lastRecord || !this.lastRv) return;
    const { namespace, name } = this.opts;
    const record = releasedRecord(this.lastRecord, Date.now());
    // Guarded by the resourceVersion of our own last write: if someone took the lease
    // meanwhile, the write conflicts and their lease stays untouched.
    await withTimeout(
      "releasing the lease",
      this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { name, namespace, resourceVersion: this.lastRv }, spec: toSpec(record) },
      }),
      2000,
    );
    this.log.info({ lease: `${namespace}/${name}` }, "lease released");
  }
}

function toSpec(r: LeaseRecord): NonNullable<V1Lease["spec"]> {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: new V1MicroTime(r.acquireTime),
    renewTime: new V1MicroTime(r.renewTime),
    leaseTransitions: r.leaseTransitions,
  };
}

function fromSpec(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  const time = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === "string" ? v : "");
  return {
    holderIdentity: s.holderIdentity ?? "",
    leaseDurationSeconds: s.leaseDurationSeconds ?? 15,
    acquireTime: time(s.acquireTime),
    renewTime: time(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}
