import { type Static, type TSchema, Type } from "@sinclair/typebox";
import {
  ClusterId,
  DottedName,
  Generation,
  Hostname,
  Namespace,
  OptionalPort,
  Port,
  ServiceName,
  SharedlbAnnotations,
  Timestamp,
  Uid,
} from "./primitives.js";

// Layer 7 tenant state, normalized by the watcher (contract v1 additions). The watcher
// resolves everything the tenant cluster decides (ReferenceGrants, allowedRoutes, backend
// Services and their NodePorts), so the LB side never sees what the tenant did not permit.

const object = <T extends Record<string, TSchema>>(props: T, $id?: string) =>
  Type.Object(props, $id ? { additionalProperties: false, $id } : { additionalProperties: false });

export const L7_PROTOCOLS = ["HTTP", "HTTPS", "TLS", "TCP", "UDP"] as const;
export const ListenerProtocol = Type.Union(L7_PROTOCOLS.map((p) => Type.Literal(p)));
export type ListenerProtocol = Static<typeof ListenerProtocol>;

export const ROUTE_SOURCE_KINDS = ["Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute"] as const;
export const RouteSourceKind = Type.Union(ROUTE_SOURCE_KINDS.map((k) => Type.Literal(k)));
export type RouteSourceKind = Static<typeof RouteSourceKind>;

/** A namespaced reference to a tenant object, resolved by the watcher. */
export const ObjectReference = object({ namespace: Namespace, name: DottedName });
export type ObjectReference = Static<typeof ObjectReference>;

// --- Gateway -------------------------------------------------------------------------

export const ListenerTls = object({
  mode: Type.Union([Type.Literal("Terminate"), Type.Literal("Passthrough")]),
  certificateRefs: Type.Array(ObjectReference, {
    maxItems: 64,
    description: "kubernetes.io/tls Secrets the tenant permitted; refused ones are in refusedRefs",
  }),
});
export type ListenerTls = Static<typeof ListenerTls>;

export const AllowedRoutes = object({
  allNamespaces: Type.Boolean({ description: "from: All" }),
  namespaces: Type.Array(Namespace, {
    maxItems: 10000,
    description: "when not allNamespaces: the namespaces allowed (from: Same, or the Selector resolved)",
  }),
  kinds: Type.Array(RouteSourceKind, { maxItems: 8 }),
});
export type AllowedRoutes = Static<typeof AllowedRoutes>;

export const GatewayListener = object({
  name: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", maxLength: 253 }),
  protocol: ListenerProtocol,
  port: Port,
  hostname: Type.Optional(Hostname),
  tls: Type.Optional(ListenerTls),
  allowedRoutes: AllowedRoutes,
});
export type GatewayListener = Static<typeof GatewayListener>;

/** Why the watcher left a reference out (the Gateway API reasons where one exists). */
export const REFUSAL_REASONS = [
  "RefNotPermitted",
  "InvalidKind",
  "BackendNotFound",
  "UnsupportedProtocol",
  "InvalidCertificateRef",
  "NoMatchingParent",
  "NotAllowedByListeners",
  "NoMatchingListenerHostname",
  "UnsupportedValue",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const RefusedRef = object({
  field: Type.String({ maxLength: 256, description: "where the reference was, e.g. rules[0].backendRefs[1]" }),
  group: Type.String({ maxLength: 253, description: "API group; empty for the core group" }),
  kind: Type.String({ maxLength: 63 }),
  namespace: Type.String({ maxLength: 63 }),
  name: Type.String({ maxLength: 253 }),
  reason: Type.Union(REFUSAL_REASONS.map((r) => Type.Literal(r))),
  message: Type.String({ maxLength: 4096 }),
});
export type RefusedRef = Static<typeof RefusedRef>;

const RefusedRefs = Type.Array(RefusedRef, { maxItems: 1024 });

export const GatewayResource = object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    uid: Uid,
    generation: Generation,
    gatewayClassName: Type.String({ maxLength: 253 }),
    listeners: Type.Array(GatewayListener, { maxItems: 64 }),
    annotations: SharedlbAnnotations,
    refusedRefs: RefusedRefs,
  },
  "io.sharedlb.gateway.v1",
);
export type GatewayResource = Static<typeof GatewayResource>;

// --- Routes (Ingress, HTTPRoute, GRPCRoute, TLSRoute) --------------------------------

const MatchType = Type.Union([Type.Literal("Exact"), Type.Literal("RegularExpression")]);
const NameValueMatch = object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  value: Type.String({ maxLength: 4096 }),
  type: MatchType,
});

export const RouteMatch = object({
  path: Type.Optional(
    object({
      type: Type.Union([Type.Literal("Exact"), Type.Literal("PathPrefix"), Type.Literal("RegularExpression")]),
      value: Type.String({ minLength: 1, maxLength: 1024 }),
    }),
  ),
  method: Type.Optional(Type.String({ pattern: "^[A-Z]+$", maxLength: 32 })),
  headers: Type.Optional(Type.Array(NameValueMatch, { maxItems: 16 })),
  queryParams: Type.Optional(Type.Array(NameValueMatch, { maxItems: 16 })),
  grpc: Type.Optional(
    object({
      type: MatchType,
      service: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
      method: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    }),
  ),
});
export type RouteMatch = Static<typeof RouteMatch>;

export const RouteBackend = object({
  namespace: Namespace,
  service: ServiceName,
  port: Port,
  weight: Type.Integer({ minimum: 0, maximum: 1000000 }),
  nodePort: OptionalPort,
  companion: Type.Optional(
    Type.String({
      pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
      maxLength: 63,
      description: "the NodePort companion Service carrying nodePort, when the backend is ClusterIP",
    }),
  ),
  appProtocol: Type.Optional(Type.String({ maxLength: 253, description: "the backend port's appProtocol" })),
});
export type RouteBackend = Static<typeof RouteBackend>;

const HeaderValue = object({ name: Type.String({ minLength: 1, maxLength: 256 }), value: Type.String({ maxLength: 4096 }) });
export const HeaderModifier = object({
  set: Type.Array(HeaderValue, { maxItems: 16 }),
  add: Type.Array(HeaderValue, { maxItems: 16 }),
  remove: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 16 }),
});
export type HeaderModifier = Static<typeof HeaderModifier>;

export const PathModifier = object({
  type: Type.Union([Type.Literal("ReplaceFullPath"), Type.Literal("ReplacePrefixMatch")]),
  value: Type.String({ maxLength: 1024 }),
});

export const RouteFilter = Type.Union([
  object({ type: Type.Literal("RequestHeaderModifier"), headers: HeaderModifier }),
  object({ type: Type.Literal("ResponseHeaderModifier"), headers: HeaderModifier }),
  object({
    type: Type.Literal("RequestRedirect"),
    scheme: Type.Optional(Type.Union([Type.Literal("http"), Type.Literal("https")])),
    hostname: Type.Optional(Hostname),
    path: Type.Optional(PathModifier),
    port: Type.Optional(Port),
    statusCode: Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(303), Type.Literal(307), Type.Literal(308)]),
  }),
  object({ type: Type.Literal("URLRewrite"), hostname: Type.Optional(Hostname), path: Type.Optional(PathModifier) }),
  object({
    type: Type.Literal("RequestMirror"),
    backend: RouteBackend,
    percent: Type.Integer({ minimum: 0, maximum: 100 }),
  }),
]);
export type RouteFilter = Static<typeof RouteFilter>;

export const RouteTimeouts = object({
  requestMs: Type.Optional(Type.Integer({ minimum: 0, description: "0: no timeout" })),
  backendRequestMs: Type.Optional(Type.Integer({ minimum: 0, description: "0: no timeout" })),
});

export const RouteRule = object({
  name: Type.Optional(Type.String({ maxLength: 253 })),
  hostnames: Type.Optional(
    Type.Array(Hostname, { maxItems: 256, description: "Ingress: the hosts of this rule; absent: the route's hostnames" }),
  ),
  matches: Type.Array(RouteMatch, { maxItems: 64, description: "empty: match everything (TLSRoute: always empty)" }),
  filters: Type.Array(RouteFilter, { maxItems: 32 }),
  backends: Type.Array(RouteBackend, { maxItems: 64 }),
  timeouts: Type.Optional(RouteTimeouts),
});
export type RouteRule = Static<typeof RouteRule>;

export const ParentReference = object({
  namespace: Namespace,
  name: DottedName,
  sectionName: Type.Optional(Type.String({ maxLength: 253 })),
  port: Type.Optional(Port),
});
export type ParentReference = Static<typeof ParentReference>;

export const IngressTls = object({
  hosts: Type.Array(Hostname, { maxItems: 256 }),
  secret: ObjectReference,
});

export const RouteResource = object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    uid: Uid,
    generation: Generation,
    sourceKind: RouteSourceKind,
    parentRefs: Type.Array(ParentReference, { maxItems: 32, description: "empty for Ingress" }),
    hostnames: Type.Array(Hostname, { maxItems: 256 }),
    rules: Type.Array(RouteRule, { maxItems: 256 }),
    defaultBackend: Type.Optional(RouteBackend),
    tls: Type.Optional(Type.Array(IngressTls, { maxItems: 64, description: "Ingress only" })),
    refusedRefs: RefusedRefs,
    annotations: SharedlbAnnotations,
  },
  "io.sharedlb.route.v1",
);
export type RouteResource = Static<typeof RouteResource>;

// --- Secret --------------------------------------------------------------------------

export const SEALED_KEY_ALG = "X25519-HKDF-SHA256-A256GCM";
const Base64Url = (what: string, maxLength: number) =>
  Type.String({ pattern: "^[A-Za-z0-9_-]*$", maxLength, description: `${what}, base64url without padding` });

export const SealedKey = object({
  alg: Type.Literal(SEALED_KEY_ALG),
  keyId: Type.String({ pattern: "^[0-9a-f]{16,64}$", description: "which gateway key pair it is sealed to" }),
  epk: Base64Url("ephemeral X25519 public key (32 bytes)", 43),
  nonce: Base64Url("AES-GCM nonce (12 bytes)", 16),
  ciphertext: Base64Url("AES-256-GCM ciphertext followed by its 16-byte tag", 65536),
});
export type SealedKey = Static<typeof SealedKey>;

export const SecretResource = object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    uid: Uid,
    certificateChainPem: Type.String({ minLength: 1, maxLength: 65536 }),
    notAfter: Timestamp,
    dnsNames: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 1024 }),
    privateKey: SealedKey,
  },
  "io.sharedlb.secret.v1",
);
export type SecretResource = Static<typeof SecretResource>;
