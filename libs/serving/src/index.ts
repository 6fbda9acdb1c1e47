// The public surface of @sharedlb/serving: what the xds-gateway and the CLI may use.
// Everything else in this package is internal.
export { anyValue, encodeAsAny } from "./encode.js";
export {
  type BuiltResource,
  buildLoadAssignments,
  buildServiceResources,
  edsCluster,
  grpcApiListener,
  grpcRoute,
  l4Listener,
  loadAssignment,
} from "./envoy-resources.js";
export { type FleetDefinition, type FleetFile, FleetConfigError, FleetFileSchema, resolveFleets } from "./fleets.js";
export { clusterName, grpcTargetName, type L4Protocol, listenerName, statPrefix } from "./naming.js";
export {
  type NodeEndpoint,
  type PlanInputs,
  type PortPlan,
  type ProxyProtocolVersion,
  planService,
  readyEndpoints,
  type ServicePlan,
  selectEndpoints,
} from "./plan.js";
export { type DirtyServices, TenantView } from "./view.js";
