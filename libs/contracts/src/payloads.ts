import { type Static, Type } from "@sinclair/typebox";
import {
  Cidr,
  ClusterId,
  DottedName,
  IpAddress,
  IpLiteral,
  Namespace,
  OptionalPort,
  Port,
  PortName,
  ServiceName,
  SharedlbAnnotations,
  Uid,
} from "./primitives.js";

// One definition per payload: the TypeScript type, the runtime validator and the JSON
// Schema published in docs/schemas all come from these objects.

export const Protocol = Type.Union([Type.Literal("TCP"), Type.Literal("UDP"), Type.Literal("SCTP")]);
export type Protocol = Static<typeof Protocol>;

export const ServicePort = Type.Object(
  {
    name: PortName,
    protocol: Protocol,
    port: Port,
    nodePort: OptionalPort,
    appProtocol: Type.Optional(Type.String({ maxLength: 253 })),
  },
  { additionalProperties: false },
);
export type ServicePort = Static<typeof ServicePort>;

export const IpFamily = Type.Union([Type.Literal("IPv4"), Type.Literal("IPv6")]);
export type IpFamily = Static<typeof IpFamily>;
export const IpFamilyPolicy = Type.Union([
  Type.Literal("SingleStack"),
  Type.Literal("PreferDualStack"),
  Type.Literal("RequireDualStack"),
]);
export type IpFamilyPolicy = Static<typeof IpFamilyPolicy>;

export const ServiceResource = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: ServiceName,
    uid: Uid,
    ports: Type.Array(ServicePort, { maxItems: 256 }),
    externalTrafficPolicy: Type.Union([Type.Literal("Cluster"), Type.Literal("Local")]),
    healthCheckNodePort: OptionalPort,
    loadBalancerClass: Type.String({ maxLength: 253 }),
    annotations: SharedlbAnnotations,
    // Optional additions to v1; absent means the Kubernetes default.
    loadBalancerSourceRanges: Type.Optional(
      Type.Array(Cidr, { maxItems: 256, description: "spec.loadBalancerSourceRanges; absent or empty: any source" }),
    ),
    sessionAffinity: Type.Optional(
      Type.Union([Type.Literal("None"), Type.Literal("ClientIP")], { description: "spec.sessionAffinity; absent: None" }),
    ),
    ipFamilies: Type.Optional(
      Type.Array(IpFamily, { minItems: 1, maxItems: 2, uniqueItems: true, description: "spec.ipFamilies, in order" }),
    ),
    ipFamilyPolicy: Type.Optional(IpFamilyPolicy),
    loadBalancerIP: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description:
          "spec.loadBalancerIP (deprecated), as the Service has it: treated like sharedlb.io/ip, so the allocator refuses a value that is not an address (InvalidAnnotation)",
      }),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.service.v1" },
);
export type ServiceResource = Static<typeof ServiceResource>;

export const NodeResource = Type.Object(
  {
    cluster: ClusterId,
    name: DottedName,
    addresses: Type.Object(
      { internal: Type.String({ maxLength: 45 }), external: Type.String({ maxLength: 45 }) },
      { additionalProperties: false },
    ),
    ready: Type.Boolean(),
    excluded: Type.Boolean({
      description: "node.kubernetes.io/exclude-from-external-load-balancers is set",
    }),
  },
  { additionalProperties: false, $id: "io.sharedlb.node.v1" },
);
export type NodeResource = Static<typeof NodeResource>;

export const EndpointsResource = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: ServiceName,
    readyNodes: Type.Array(DottedName, { maxItems: 10000 }),
  },
  { additionalProperties: false, $id: "io.sharedlb.endpoints.v1" },
);
export type EndpointsResource = Static<typeof EndpointsResource>;

/** Kind tokens a tombstone may carry. `route` stays accepted: it was in v1 before the L7 kinds. */
export const TOMBSTONE_KINDS = [
  "service",
  "node",
  "endpoints",
  "route",
  "ingress",
  "gateway",
  "httproute",
  "grpcroute",
  "tlsroute",
  "secret",
] as const;

export const Tombstone = Type.Object(
  {
    cluster: ClusterId,
    kind: Type.Union(
      TOMBSTONE_KINDS.map((k) => Type.Literal(k)),
      { description: "the subject's kind token; route is reserved (never published)" },
    ),
    namespace: Type.String({ maxLength: 63, description: "empty for cluster-scoped kinds" }),
    name: DottedName,
    uid: Uid,
  },
  { additionalProperties: false, $id: "io.sharedlb.deleted.v1" },
);
export type Tombstone = Static<typeof Tombstone>;

export const AllocationState = Type.Union([
  Type.Literal("Allocated"),
  Type.Literal("Pending"),
  Type.Literal("Failed"),
  Type.Literal("Released"),
]);
export type AllocationState = Static<typeof AllocationState>;

/** Stable reasons for Pending and Failed allocations. */
export const ALLOCATION_REASONS = [
  "PoolExhausted",
  "PortUnavailable",
  "InvalidAnnotation",
  "UnknownPool",
  "IPNotInPool",
  "QuotaExceeded",
  "UnsupportedProtocol",
  "HostnameConflict",
  "InvalidRoute",
] as const;
export type AllocationReason = (typeof ALLOCATION_REASONS)[number];

export const AllocatedPort = Type.Object(
  {
    name: PortName,
    protocol: Protocol,
    port: Port,
    externalPort: Port,
    nodePort: OptionalPort,
  },
  { additionalProperties: false },
);
export type AllocatedPort = Static<typeof AllocatedPort>;

export const Allocation = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: ServiceName,
    uid: Uid,
    state: AllocationState,
    pool: Type.String({ maxLength: 253 }),
    ip: Type.String({ maxLength: 45, description: "empty unless Allocated" }),
    ips: Type.Optional(
      Type.Array(IpLiteral, {
        maxItems: 2,
        description: "addition to v1: one address per IP family (dual-stack), in the Service's family order; ip is the first",
      }),
    ),
    ports: Type.Array(AllocatedPort, { maxItems: 256 }),
    reason: Type.String({ maxLength: 64, description: "empty, or one of the stable reasons" }),
    message: Type.String({ maxLength: 4096 }),
    resourceSequence: Type.Integer({
      minimum: 0,
      description: "LB_RESOURCES stream sequence of the resource event applied",
    }),
    allocationVersion: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          "addition to v1: increases with every change of this Service's allocation; a consumer may drop an event whose version is lower than one it already applied",
      }),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.allocation.v1" },
);
export type Allocation = Static<typeof Allocation>;

export const Condition = Type.Object(
  {
    type: Type.String({ maxLength: 316 }),
    status: Type.Union([Type.Literal("True"), Type.Literal("False"), Type.Literal("Unknown")]),
    reason: Type.String({ maxLength: 1024 }),
    message: Type.String({ maxLength: 32768 }),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof Condition>;

export const StatusReport = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    kind: Type.String({ maxLength: 63, description: "Kubernetes kind written to, e.g. Service" }),
    outcome: Type.Union([Type.Literal("Written"), Type.Literal("Unchanged"), Type.Literal("Failed")]),
    ip: IpAddress,
    ports: Type.Array(AllocatedPort, { maxItems: 256 }),
    condition: Condition,
    error: Type.Optional(Type.String({ maxLength: 4096 })),
    resourceSequence: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false, $id: "io.sharedlb.status.v1" },
);
export type StatusReport = Static<typeof StatusReport>;

export const XdsActivity = Type.Object(
  {
    fleet: Type.String({ maxLength: 253 }),
    node: Type.String({ maxLength: 1024, description: "Envoy node id, exactly" }),
    event: Type.Union([
      Type.Literal("connect"),
      Type.Literal("disconnect"),
      Type.Literal("ack"),
      Type.Literal("nack"),
      Type.Literal("evicted"),
      Type.Literal("refused"),
    ]),
    stream: Type.Union([Type.Literal("sotw"), Type.Literal("delta")]),
    replica: Type.String({ maxLength: 253 }),
    typeUrl: Type.Optional(Type.String({ maxLength: 256 })),
    version: Type.Optional(Type.String({ maxLength: 256 })),
    errorDetail: Type.Optional(
      Type.Object(
        { code: Type.Integer(), message: Type.String({ maxLength: 65536 }) },
        { additionalProperties: false },
      ),
    ),
    reason: Type.Optional(
      Type.String({
        maxLength: 63,
        pattern: "^[A-Za-z]+$",
        description: "why a stream was refused (event refused): NoClientCertificate, FleetNotInCertificate",
      }),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.xds.v1" },
);
export type XdsActivity = Static<typeof XdsActivity>;

export const DeadLetter = Type.Object(
  {
    service: Type.String({ maxLength: 63, description: "the sharedlb service that rejected it" }),
    subject: Type.String({ maxLength: 1024, description: "original NATS subject" }),
    reason: Type.String({ maxLength: 64 }),
    message: Type.String({ maxLength: 4096 }),
    payload: Type.String({ description: "the raw payload, as received" }),
    payloadEncoding: Type.Union([Type.Literal("utf8"), Type.Literal("base64")]),
    streamSequence: Type.Optional(Type.Integer({ minimum: 0 })),
    payloadTruncated: Type.Optional(
      Type.Boolean({ description: "the payload was too large to carry whole: `payload` holds its first bytes (base64)" }),
    ),
    payloadBytes: Type.Optional(Type.Integer({ minimum: 0, description: "size of the original payload, when truncated" })),
    payloadSha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$", description: "sha256 of the original payload, when truncated" })),
  },
  { additionalProperties: false, $id: "io.sharedlb.deadletter.v1" },
);
export type DeadLetter = Static<typeof DeadLetter>;
