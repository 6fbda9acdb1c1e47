import { type Static, Type } from "@sinclair/typebox";

// One definition per payload: the TypeScript type, the runtime validator and the JSON
// Schema published in docs/schemas all come from these objects.

const DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

const ClusterId = Type.String({ pattern: DNS_LABEL, maxLength: 63, description: "tenant cluster id" });
const Namespace = Type.String({ pattern: DNS_LABEL, maxLength: 63 });
const ServiceName = Type.String({ pattern: DNS_LABEL, maxLength: 63 });
const DottedName = Type.String({ pattern: DNS_SUBDOMAIN, maxLength: 253 });
const Uid = Type.String({ maxLength: 128 });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
/** 0 means "none" (e.g. allocateLoadBalancerNodePorts: false). */
const OptionalPort = Type.Integer({ minimum: 0, maximum: 65535 });
const PortName = Type.String({ maxLength: 63 });
const IpAddress = Type.String({ maxLength: 45 });

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
    annotations: Type.Record(Type.String({ pattern: "^sharedlb\\.io/" }), Type.String({ maxLength: 4096 }), {
      description: "only sharedlb.io/* keys",
      additionalProperties: false,
    }),
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

export const RouteSourceKind = Type.Union([
  Type.Literal("Ingress"),
  Type.Literal("HTTPRoute"),
  Type.Literal("GRPCRoute"),
]);

export const RouteMatch = Type.Object(
  {
    path: Type.Optional(
      Type.Object(
        {
          type: Type.Union([
            Type.Literal("Exact"),
            Type.Literal("PathPrefix"),
            Type.Literal("RegularExpression"),
          ]),
          value: Type.String({ maxLength: 1024 }),
        },
        { additionalProperties: false },
      ),
    ),
    method: Type.Optional(Type.String({ maxLength: 32 })),
    headers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 256 }),
            value: Type.String({ maxLength: 4096 }),
            type: Type.Optional(Type.Union([Type.Literal("Exact"), Type.Literal("RegularExpression")])),
          },
          { additionalProperties: false },
        ),
        { maxItems: 16 },
      ),
    ),
    grpc: Type.Optional(
      Type.Object(
        { service: Type.Optional(Type.String()), method: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const RouteBackend = Type.Object(
  {
    service: ServiceName,
    port: Port,
    weight: Type.Integer({ minimum: 0, maximum: 1000000 }),
  },
  { additionalProperties: false },
);

export const RouteResource = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    uid: Type.Optional(Uid),
    sourceKind: RouteSourceKind,
    hostnames: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 256 }),
    rules: Type.Array(
      Type.Object(
        {
          matches: Type.Array(RouteMatch, { maxItems: 64 }),
          backends: Type.Array(RouteBackend, { maxItems: 64 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
    tls: Type.Array(
      Type.Object(
        {
          hosts: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 256 }),
          secretName: Type.String({ maxLength: 253 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 64 },
    ),
    annotations: Type.Optional(
      Type.Record(Type.String({ pattern: "^sharedlb\\.io/" }), Type.String({ maxLength: 4096 }), {
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.route.v1" },
);
export type RouteResource = Static<typeof RouteResource>;

export const Tombstone = Type.Object(
  {
    cluster: ClusterId,
    kind: Type.Union([
      Type.Literal("service"),
      Type.Literal("node"),
      Type.Literal("endpoints"),
      Type.Literal("route"),
    ]),
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
  },
  { additionalProperties: false, $id: "io.sharedlb.deadletter.v1" },
);
export type DeadLetter = Static<typeof DeadLetter>;
