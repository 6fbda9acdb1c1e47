// The public surface of @sharedlb/kube, named one by one: what the tenant-side services and
// the test harness use, and the types and error classes of those signatures. The lease
// decision rules (lease-decision.ts), failure classification and call timeouts are internal.

export { ApiResourceDiscovery, type ApiResourceDiscoveryOptions } from "./api-discovery.js";
export { ApiCallTimeout, apiErrorClass, apiErrorMessage, apiStatusCode, isTransientApiError } from "./api-errors.js";
// Flags shared by the tenant-side services
export { type LeaseTimings, leaseTimings, requireCluster, TENANT_FLAGS } from "./flags.js";
// Watching: informers, the work queue, which Services are ours
export { type InformerVerb, SupervisedInformer, type SupervisedInformerOptions } from "./informer.js";
// Client configuration and API errors
export { loadKubeConfig } from "./kubeconfig.js";
// Leader election
export {
  type LeaderCallbacks,
  LeaderElectionConfigError,
  type LeaderElectionOptions,
  LeaderElector,
  type LeaseProblem,
} from "./leader-election.js";
export { type LeadershipOptions, runWithLeadership } from "./leadership.js";
export { LeaseAttemptFailed, type LeaseFailureReason } from "./lease-failure.js";
export { type LeaseMetrics, leaseMetrics, leaseReadiness } from "./lease-metrics.js";
export { PooledKubeConfig } from "./pooled-kubeconfig.js";
export { type ClassScope, inScope, type ScopedService } from "./scope.js";
export { WorkQueue, type WorkQueueOptions, WorkQueueStopped } from "./work-queue.js";
