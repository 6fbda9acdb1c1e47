import type { FailedProbe, ProbeTarget } from "@sharedlb/serving";

/** What one probe of a health signal found. */
export type ProbeOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** Consecutive results needed to change a verdict, as Envoy's healthy/unhealthy thresholds. */
export interface ProbeThresholds {
  readonly unhealthy: number;
  readonly healthy: number;
}

export class InvalidProbeThresholdsError extends Error {
  override readonly name = "InvalidProbeThresholdsError";
  readonly reason = "InvalidProbeThresholds";
}

interface SignalState {
  target: ProbeTarget;
  healthy: boolean;
  /** Consecutive results contradicting the current verdict. */
  against: number;
  message: string;
}

/**
 * The verdict on each probed health signal, damped by thresholds so one lost probe (or one
 * lucky one) does not move traffic. A signal never probed yet counts as healthy: a gateway
 * that restarts must not drain every node until its first round is done, and the
 * Envoys' own active checks still cover a node that is already failing.
 */
export class NodeProbeVerdicts {
  private readonly signals = new Map<string, SignalState>();

  constructor(private readonly thresholds: ProbeThresholds) {
    for (const [name, n] of Object.entries(thresholds)) {
      if (!Number.isInteger(n) || n < 1) throw new InvalidProbeThresholdsError(`${name} threshold must be a whole number ≥ 1, got ${n}`);
    }
  }

  /** Records one result; returns whether the signal's verdict changed. */
  record(target: ProbeTarget, outcome: ProbeOutcome): boolean {
    let state = this.signals.get(target.key);
    if (!state) {
      state = { target, healthy: true, against: 0, message: "" };
      this.signals.set(target.key, state);
    }
    state.target = target;
    if (!outcome.ok) state.message = outcome.message;
    if (outcome.ok === state.healthy) {
      state.against = 0;
      return false;
    }
    state.against++;
    if (state.against < (state.healthy ? this.thresholds.unhealthy : this.thresholds.healthy)) return false;
    state.healthy = outcome.ok;
    state.against = 0;
    return true;
  }

  /** Forgets signals no longer probed (node or Service gone); returns whether a failing one was among them. */
  retain(keys: ReadonlySet<string>): boolean {
    let changed = false;
    for (const [key, state] of this.signals) {
      if (keys.has(key)) continue;
      this.signals.delete(key);
      if (!state.healthy) changed = true;
    }
    return changed;
  }

  /** The signals judged failing, by target key. */
  failing(): Map<string, FailedProbe> {
    const out = new Map<string, FailedProbe>();
    for (const [key, s] of this.signals) {
      if (!s.healthy) out.set(key, { cluster: s.target.cluster, node: s.target.node, message: s.message });
    }
    return out;
  }

  /** How many signals are judged failing, by kind (for the gauge). */
  failingCount(kind: ProbeTarget["kind"]): number {
    let n = 0;
    for (const s of this.signals.values()) if (!s.healthy && s.target.kind === kind) n++;
    return n;
  }
}
