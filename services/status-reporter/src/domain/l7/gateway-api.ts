// The Gateway API and Ingress shapes the status-reporter reads and writes: only the
// fields it needs. Objects come from the tenant's API server (validated by the CRDs), but
// are still read defensively: a field that is not what the schema says is treated as
// absent, never trusted to crash a pass.

export const GATEWAY_CONTROLLER = "sharedlb.io/gateway-controller";
export const GATEWAY_GROUP = "gateway.networking.k8s.io";
/** The GatewayClass name CONTRACTS.md gives; classes named by served Gateways are handled too. */
export const DEFAULT_GATEWAY_CLASS = "sharedlb";

/** Which objects the L7 side writes, as the tokens of its work keys. */
export type L7ObjectKind = "gatewayclass" | "gateway" | "httproute" | "grpcroute" | "tlsroute" | "ingress";
export type RouteKind = "httproute" | "grpcroute" | "tlsroute";

export const ROUTE_KINDS: Record<RouteKind, string> = { httproute: "HTTPRoute", grpcroute: "GRPCRoute", tlsroute: "TLSRoute" };

export type ConditionStatus = "True" | "False" | "Unknown";

/** A condition as sharedlb wants it; times are added by the plan. */
export interface WantedCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration: number;
}

/** metav1.Condition as found on an object. */
export interface FoundCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: unknown;
}

export interface ObjectMeta {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  resourceVersion: string;
}

export interface RouteGroupKind {
  group: string;
  kind: string;
}

export interface SpecListener {
  name: string;
  protocol: string;
  port: number;
  hostname?: string;
  certificateRefs: { namespace: string; name: string }[];
  /** `allowedRoutes.kinds` as written; undefined when not set (the protocol's defaults apply). */
  kinds: RouteGroupKind[] | undefined;
}

export interface SpecParentRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName?: string;
  port?: number;
  /** The entry exactly as written in spec.parentRefs: status.parents[].parentRef echoes it. */
  raw: Record<string, unknown>;
}

export interface FoundParentStatus {
  /** The entry as found: another controller's is written back untouched. */
  raw: Record<string, unknown>;
  controllerName?: string;
  parentRef?: Record<string, unknown>;
  conditions?: FoundCondition[];
}

export interface GatewayView {
  meta: ObjectMeta;
  className: string;
  listeners: SpecListener[];
  status: { addresses: { type?: string; value?: string }[]; conditions: FoundCondition[]; listeners: FoundListenerStatus[] };
}

export interface FoundListenerStatus {
  name?: string;
  attachedRoutes?: number;
  supportedKinds?: { group?: string; kind?: string }[];
  conditions?: FoundCondition[];
}

export interface RouteView {
  meta: ObjectMeta;
  kind: RouteKind;
  parentRefs: SpecParentRef[];
  parents: FoundParentStatus[];
}

export interface IngressView {
  meta: ObjectMeta;
  ingress: { ip?: string; hostname?: string }[];
}

export interface GatewayClassView {
  meta: ObjectMeta;
  controllerName: string;
  conditions: FoundCondition[];
}

type Json = Record<string, unknown>;

const rec = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const optStr = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const optNum = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) ? v : undefined);

export function readMeta(obj: unknown): ObjectMeta {
  const m = rec(rec(obj).metadata);
  return {
    namespace: str(m.namespace),
    name: str(m.name),
    uid: str(m.uid),
    generation: optNum(m.generation) ?? 0,
    resourceVersion: str(m.resourceVersion),
  };
}

function readConditions(v: unknown): FoundCondition[] {
  return arr(v).flatMap((c) => {
    const r = rec(c);
    if (typeof r.type !== "string") return [];
    const out: FoundCondition = { type: r.type, status: str(r.status), lastTransitionTime: r.lastTransitionTime };
    if (typeof r.reason === "string") out.reason = r.reason;
    if (typeof r.message === "string") out.message = r.message;
    const g = optNum(r.observedGeneration);
    if (g !== undefined) out.observedGeneration = g;
    return [out];
  });
}

export function readGateway(obj: unknown): GatewayView {
  const meta = readMeta(obj);
  const spec = rec(rec(obj).spec);
  const status = rec(rec(obj).status);
  const listeners = arr(spec.listeners).map((l): SpecListener => {
    const r = rec(l);
    const allowed = rec(r.allowedRoutes);
    const out: SpecListener = {
      name: str(r.name),
      protocol: str(r.protocol),
      port: optNum(r.port) ?? 0,
      certificateRefs: arr(rec(r.tls).certificateRefs).map((c) => ({
        namespace: optStr(rec(c).namespace) ?? meta.namespace,
        name: str(rec(c).name),
      })),
      kinds: Array.isArray(allowed.kinds)
        ? allowed.kinds.map((k) => ({ group: optStr(rec(k).group) ?? GATEWAY_GROUP, kind: str(rec(k).kind) }))
        : undefined,
    };
    const hostname = optStr(r.hostname);
    if (hostname !== undefined) out.hostname = hostname;
    return out;
  });
  return {
    meta,
    className: str(spec.gatewayClassName),
    listeners,
    status: {
      addresses: arr(status.addresses).map(
        (a) => ({ type: optStr(rec(a).type), value: optStr(rec(a).value) }) as { type?: string; value?: string },
      ),
      conditions: readConditions(status.conditions),
      listeners: arr(status.listeners).map((l) => {
        const r = rec(l);
        return {
          name: str(r.name),
          attachedRoutes: optNum(r.attachedRoutes) ?? 0,
          supportedKinds: arr(r.supportedKinds).map((k) => ({ group: str(rec(k).group), kind: str(rec(k).kind) })),
          conditions: readConditions(r.conditions),
        };
      }),
    },
  };
}

export function readRoute(obj: unknown, kind: RouteKind): RouteView {
  const meta = readMeta(obj);
  const spec = rec(rec(obj).spec);
  return {
    meta,
    kind,
    parentRefs: arr(spec.parentRefs).map((p): SpecParentRef => {
      const r = rec(p);
      const out: SpecParentRef = {
        group: optStr(r.group) ?? GATEWAY_GROUP,
        kind: optStr(r.kind) ?? "Gateway",
        namespace: optStr(r.namespace) ?? meta.namespace,
        name: str(r.name),
        raw: r,
      };
      const section = optStr(r.sectionName);
      if (section !== undefined) out.sectionName = section;
      const port = optNum(r.port);
      if (port !== undefined) out.port = port;
      return out;
    }),
    parents: arr(rec(rec(obj).status).parents).map((p) => {
      const r = rec(p);
      return { raw: r, controllerName: str(r.controllerName), parentRef: rec(r.parentRef), conditions: readConditions(r.conditions) };
    }),
  };
}

export function readIngress(obj: unknown): IngressView {
  const lb = rec(rec(rec(obj).status).loadBalancer);
  return {
    meta: readMeta(obj),
    ingress: arr(lb.ingress).map((i) => {
      const out: { ip?: string; hostname?: string } = {};
      const ip = optStr(rec(i).ip);
      const hostname = optStr(rec(i).hostname);
      if (ip !== undefined) out.ip = ip;
      if (hostname !== undefined) out.hostname = hostname;
      return out;
    }),
  };
}

export function readGatewayClass(obj: unknown): GatewayClassView {
  return {
    meta: readMeta(obj),
    controllerName: str(rec(rec(obj).spec).controllerName),
    conditions: readConditions(rec(rec(obj).status).conditions),
  };
}
