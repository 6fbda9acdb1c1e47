import type { V1Service } from "@kubernetes/client-node";
import type { RefusedRef, RouteBackend } from "@sharedlb/contracts";
import { type CompanionNeed, type CompanionOwner, companionName, needsCompanion } from "./companions.js";
import type { BackendRef } from "./gateway-api.js";
import { refused, referencePermitted } from "./references.js";
import type { L7View } from "./view.js";

/** The route a backend reference belongs to. */
export interface RouteIdentity {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  owner: CompanionOwner;
}

export type BackendResult = { backend: RouteBackend; companion?: CompanionNeed } | { refused: RefusedRef };

/**
 * Resolves a backendRef (Gateway API) to the Service port that serves it and the NodePort
 * that reaches it: the Service's own, or its companion's (0 until the companion has one).
 */
export function resolveBackendRef(view: L7View, route: RouteIdentity, ref: BackendRef, field: string): BackendResult {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Service";
  const namespace = ref.namespace ?? route.namespace;
  const name = ref.name ?? "";
  const target = { group, kind, namespace, name };
  if (group !== "" || kind !== "Service") {
    return { refused: refused(field, target, "InvalidKind", `backend kind ${group ? `${group}/` : ""}${kind} is not supported (only core Services)`) };
  }
  if (namespace !== route.namespace) {
    const from = { group: route.group, kind: route.kind, namespace: route.namespace };
    if (!referencePermitted(view.referenceGrants(namespace), from, { group: "", kind: "Service", name })) {
      return {
        refused: refused(field, target, "RefNotPermitted", `no ReferenceGrant in namespace ${namespace} allows ${route.kind}s of ${route.namespace} to refer to Service ${name}`),
      };
    }
  }
  if (ref.port === undefined) return { refused: refused(field, target, "UnsupportedValue", "a Service backend needs a port") };
  const svc = view.service(namespace, name);
  const result = servicePort(view, svc, namespace, name, { number: ref.port }, field, target);
  if ("refused" in result) return result;
  const weight = ref.weight ?? 1;
  return withCompanion({ ...result.backend, weight }, svc as V1Service, route, result.companion);
}

/** Resolves an Ingress backend (same namespace only, port by number or name). */
export function resolveIngressBackend(
  view: L7View,
  route: RouteIdentity,
  backend: { service?: { name?: string; port?: { number?: number; name?: string } }; resource?: { kind?: string; name?: string; apiGroup?: string } },
  field: string,
): BackendResult {
  if (!backend.service) {
    const r = backend.resource;
    const target = { group: r?.apiGroup ?? "", kind: r?.kind ?? "", namespace: route.namespace, name: r?.name ?? "" };
    return { refused: refused(field, target, "InvalidKind", "only Service backends are supported") };
  }
  const name = backend.service.name ?? "";
  const target = { group: "", kind: "Service", namespace: route.namespace, name };
  const port = backend.service.port ?? {};
  const svc = view.service(route.namespace, name);
  const result = servicePort(view, svc, route.namespace, name, port, field, target);
  if ("refused" in result) return result;
  return withCompanion({ ...result.backend, weight: 1 }, svc as V1Service, route, result.companion);
}

function servicePort(
  view: L7View,
  svc: V1Service | undefined,
  namespace: string,
  name: string,
  want: { number?: number; name?: string },
  field: string,
  target: { group: string; kind: string; namespace: string; name: string },
): { backend: Omit<RouteBackend, "weight">; companion: boolean } | { refused: RefusedRef } {
  if (!svc) return { refused: refused(field, target, "BackendNotFound", `Service ${namespace}/${name} does not exist`) };
  if (svc.spec?.type === "ExternalName") {
    return { refused: refused(field, target, "UnsupportedValue", `Service ${namespace}/${name} is an ExternalName Service, which has no NodePort`) };
  }
  const port = (svc.spec?.ports ?? []).find((p) => (p.protocol ?? "TCP") === "TCP" && (want.name ? p.name === want.name : p.port === want.number));
  const wanted = want.name ?? String(want.number ?? "");
  if (!port) return { refused: refused(field, target, "BackendNotFound", `Service ${namespace}/${name} has no TCP port ${wanted}`) };
  const companion = needsCompanion(svc);
  if (companion && Object.keys(svc.spec?.selector ?? {}).length === 0) {
    return {
      refused: refused(field, target, "UnsupportedValue", `ClusterIP Service ${namespace}/${name} has no selector, so no NodePort companion can reach its pods`),
    };
  }
  let nodePort = port.nodePort ?? 0;
  let companionSvc: string | undefined;
  if (companion) {
    companionSvc = companionName(namespace, name);
    nodePort = (view.service(namespace, companionSvc)?.spec?.ports ?? []).find((p) => p.port === port.port && (p.protocol ?? "TCP") === "TCP")?.nodePort ?? 0;
  }
  const backend: Omit<RouteBackend, "weight"> = { namespace, service: name, port: port.port, nodePort };
  if (companionSvc) backend.companion = companionSvc;
  if (port.appProtocol) backend.appProtocol = port.appProtocol;
  return { backend, companion };
}

function withCompanion(backend: RouteBackend, svc: V1Service, route: RouteIdentity, companion: boolean): BackendResult {
  if (!companion) return { backend };
  const need: CompanionNeed = { namespace: backend.namespace, service: svc.metadata?.name ?? backend.service };
  if (backend.namespace === route.namespace) need.owner = route.owner;
  return { backend, companion: need };
}
