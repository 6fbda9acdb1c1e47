// The contract's public surface, by name: a module's helpers stay internal unless listed here.
export { isCidr } from "./formats.js";
export {
  parsePortMappings,
  formatAllocatedPorts,
  ANNOTATIONS,
  ANNOTATION_PREFIX,
  CONDITION_ALLOCATED,
  DEFAULT_LOAD_BALANCER_CLASS,
  PortMappingSyntaxError,
} from "./annotations.js";
export { ContractViolation } from "./errors.js";
export {
  makeEvent,
  encodeEvent,
  decodeEvent,
  validateData,
  describeDataErrors,
  type EventType,
  type EventData,
  type CloudEvent,
  type AnyCloudEvent,
} from "./events.js";
export {
  l7AllocationState,
  L7_ALLOCATION_KINDS,
  type L7AllocationKind,
  RefusedHostname,
  ListenerAllocation,
  L7Allocation,
} from "./l7-allocation.js";
export {
  L7_PROTOCOLS,
  ListenerProtocol,
  RouteSourceKind,
  ObjectReference,
  AllowedRoutes,
  GatewayListener,
  type RefusalReason,
  RefusedRef,
  GatewayResource,
  RouteMatch,
  RouteBackend,
  HeaderModifier,
  RouteFilter,
  RouteRule,
  ParentReference,
  RouteResource,
  SealedKey,
  SecretResource,
} from "./l7-resources.js";
export {
  decodeResourceMessage,
  decodeAllocationMessage,
  decodeAnyAllocationMessage,
  decodeProgrammedMessage,
  ROUTE_KIND_TOKENS,
  type ResourceMessage,
} from "./messages.js";
export { isDnsLabel, isDnsSubdomain, freeFormToToken, objectKey, parseObjectKey, type ObjectRef } from "./names.js";
export {
  Protocol,
  ServicePort,
  IpFamily,
  ServiceResource,
  NodeResource,
  EndpointsResource,
  Tombstone,
  AllocationState,
  type AllocationReason,
  AllocatedPort,
  Allocation,
  Condition,
  StatusReport,
  XdsActivity,
  DeadLetter,
} from "./payloads.js";
export {
  MAX_PROGRAMMED_WARNINGS,
  PROGRAMMED_KINDS,
  PROGRAMMED_WARNING_REASONS,
  Programmed,
  type ProgrammedKind,
  ProgrammedWarning,
  type ProgrammedWarningReason,
} from "./programmed.js";
export {
  generateSealingKeyPair,
  sealingKeyId,
  parseSealingPublicKey,
  parseSealingPrivateKey,
  sealedKeyContext,
  sealPrivateKey,
  openPrivateKey,
  SealedKeyError,
  type SealingKeyPair,
} from "./sealed-key.js";
export { STREAM_CHECK_CONSUMER, streamDefinitions, type StreamDefinition, STREAM_NAMES } from "./streams.js";
export {
  parseAllocationSubject,
  parseResourceSubject,
  isServiceAllocationSubject,
  L7_RESOURCE_KINDS,
  type L7ResourceKind,
  subjects,
  filters,
} from "./subjects.js";
