import { COMMON_FLAGS, ConfigError, type FlagSpec, RUNTIME_FLAGS } from "@sharedlb/runtime";
import { DEFAULT_LOAD_BALANCER_CLASS, isDnsLabel } from "@sharedlb/contracts";

/** Flags every tenant-side process (watcher, status-reporter) has, with the same meaning. */
export const TENANT_FLAGS = {
  ...RUNTIME_FLAGS,
  cluster: COMMON_FLAGS.cluster,
  kubeconfig: COMMON_FLAGS.kubeconfig,
  loadBalancerClass: {
    flag: "class",
    env: "SHAREDLB_CLASS",
    default: DEFAULT_LOAD_BALANCER_CLASS,
    description: "spec.loadBalancerClass served",
  },
  defaultClass: {
    flag: "default-class",
    env: "SHAREDLB_DEFAULT_CLASS",
    kind: "boolean",
    description: "also serve LoadBalancer Services without a class (never those of another class)",
  },
  leaseNamespace: {
    flag: "lease-namespace",
    env: "SHAREDLB_LEASE_NAMESPACE",
    default: "sharedlb-system",
    description: "namespace of the leader-election Lease",
  },
  leaseDuration: {
    flag: "lease-duration",
    kind: "duration",
    legacyBareUnit: "s",
    env: "SHAREDLB_LEASE_DURATION",
    default: "15s",
    min: "1s",
    description: "how long a leader's lease lasts without renewal (takeover time after a crash)",
  },
  leaseRenewDeadline: {
    flag: "lease-renew-deadline",
    kind: "duration",
    legacyBareUnit: "s",
    env: "SHAREDLB_LEASE_RENEW_DEADLINE",
    default: "10s",
    description: "a leader that cannot renew for this long stops (must be < --lease-duration)",
  },
  leaseRetryPeriod: {
    flag: "lease-retry-period",
    kind: "duration",
    legacyBareUnit: "s",
    env: "SHAREDLB_LEASE_RETRY_PERIOD",
    default: "2s",
    description: "pause between lease attempts",
  },
} as const satisfies Record<string, FlagSpec>;

/** `--cluster` is required and goes into subjects: it must be a DNS label. */
export function requireCluster(program: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`${program}: --cluster <id> is required (see --help)`);
  if (!isDnsLabel(value)) throw new ConfigError(`--cluster "${value}" is not a DNS label (lowercase letters, digits, '-')`);
  return value;
}

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** The lease flags, already durations; checked against each other so two leaders cannot overlap. */
export function leaseTimings(values: { leaseDuration: number; leaseRenewDeadline: number; leaseRetryPeriod: number }): LeaseTimings {
  const t = { leaseDurationMs: values.leaseDuration, renewDeadlineMs: values.leaseRenewDeadline, retryPeriodMs: values.leaseRetryPeriod };
  if (t.renewDeadlineMs >= t.leaseDurationMs) throw new ConfigError("--lease-renew-deadline must be shorter than --lease-duration");
  if (t.retryPeriodMs >= t.renewDeadlineMs) throw new ConfigError("--lease-retry-period must be shorter than --lease-renew-deadline");
  return t;
}
