// The public surface of @sharedlb/serving: what the xds-gateway and the CLI may use.
// Everything else in this package is internal.
export {
  ADDRESS_REFUSAL_REASONS,
  type AddressRefusal,
  type AddressRefusalReason,
  InvalidNodeAddressPolicyError,
  NodeAddressPolicy,
  type NodeAddressPolicyConfig,
} from "./address-policy.js";
export { anyValue, encodeAsAny } from "./encode.js";
export {
  type BuiltResource,
  buildLoadAssignments,
  buildServiceResources,
  type ClusterSpec,
  edsCluster,
  grpcApiListener,
  grpcRoute,
  type LoadAssignmentSpec,
  l4Listener,
  loadAssignment,
} from "./envoy-resources.js";
export {
  FleetConfigError,
  type FleetDefinition,
  type FleetFile,
  FleetFileSchema,
  resolveFleets,
  resolveHealthChecks,
  resolveNodeAddressPolicy,
} from "./fleets.js";
export { buildL7SlotResources, type L7BuildResult } from "./l7/envoy-l7-resources.js";
export { L7SlotCache } from "./l7/slot-cache.js";
export { claimed, covers, effectiveHostnames, intersect, isWildcard } from "./l7/hostnames.js";
export { chainRouteName, grpcHostRouteName, l7ClusterName, l7ListenerName, l7SlotKey, sdsSecretName } from "./l7/naming.js";
export { comparePrecedence, type RankedMatch } from "./l7/precedence.js";
export type {
  ApiListenerPlan,
  BackendProtocol,
  ChainPlan,
  ClusterPlan,
  L7ListenerKind,
  L7ObjectKind,
  L7ObjectRef,
  L7SlotPlan,
  RoutePlan,
  SecretOpener,
  SecretPlan,
  VirtualHostPlan,
  WeightedCluster,
} from "./l7/types.js";
export { clusterName, grpcTargetName, type L4Protocol, listenerName, statPrefix } from "./naming.js";
export {
  type ClusterNodes,
  classifyNodes,
  type FailedProbe,
  type HealthSignalKind,
  markProbed,
  type NodeEndpoint,
  type NodeExclusionReason,
  type NodeSelection,
  type ProbeTarget,
  type ProbeVerdicts,
  probeTargetKey,
  readyEndpoints,
  selectEndpoints,
  selectNodes,
  type UnservedNode,
} from "./node-selection.js";
export {
  type HealthCheckMode,
  type HealthCheckPlan,
  type HealthCheckSettings,
  healthSignalPort,
  KUBE_PROXY_HEALTHZ_PORT,
  type PlanInputs,
  type ListenerPlan,
  PoolHealthChecks,
  type PortPlan,
  type ProxyProtocolVersion,
  planService,
  type ServicePlan,
  type SourceRange,
} from "./plan.js";
export {
  type DirtyServices,
  type NodeRefusalChange,
  type StaleIncarnation,
  TenantView,
  type TenantViewOptions,
  type ViewObserver,
} from "./view.js";
