import type { GatewayListener, ParentReference, RefusedRef, RouteSourceKind } from "@sharedlb/contracts";
import { normalizeGateway, servedGateway } from "./gateway.js";
import { GATEWAY_GROUP, type ParentRef } from "./gateway-api.js";
import { intersectHostnames, refused } from "./references.js";
import type { L7View } from "./view.js";

export interface ParentResolution {
  /** False when no parentRef names a Gateway sharedlb serves: the route is not ours. */
  ours: boolean;
  parentRefs: ParentReference[];
  refusedRefs: RefusedRef[];
}

/**
 * Gateway API attachment: a parentRef to a sharedlb Gateway is kept when some listener
 * matches its sectionName/port, admits the route's namespace and kind, and shares a
 * hostname with the route. Parents of other controllers are none of ours and left out
 * silently; their status belongs to those controllers.
 */
export function resolveParents(
  view: L7View,
  route: { kind: Exclude<RouteSourceKind, "Ingress">; namespace: string; hostnames: readonly string[]; parentRefs: readonly ParentRef[] },
): ParentResolution {
  const out: ParentResolution = { ours: false, parentRefs: [], refusedRefs: [] };
  route.parentRefs.forEach((p, i) => {
    if ((p.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (p.kind ?? "Gateway") !== "Gateway") return;
    const namespace = p.namespace ?? route.namespace;
    const name = p.name ?? "";
    const gw = view.gateway(namespace, name);
    if (!servedGateway(view, gw)) return;
    out.ours = true;
    const field = `spec.parentRefs[${i}]`;
    const target = { group: GATEWAY_GROUP, kind: "Gateway", namespace, name };
    // Attachment depends on listeners, never on their certificates: those are not parsed here.
    const listeners = (normalizeGateway(view, gw, { checkSecrets: false })?.listeners ?? []).filter(
      (l) => (p.sectionName === undefined || l.name === p.sectionName) && (p.port === undefined || l.port === p.port),
    );
    const where = `${p.sectionName ? ` listener ${p.sectionName}` : ""}${p.port ? ` port ${p.port}` : ""}`;
    if (listeners.length === 0) {
      out.refusedRefs.push(refused(field, target, "NoMatchingParent", `Gateway ${namespace}/${name} has no${where || " such"} listener`));
      return;
    }
    const admitting = listeners.filter((l) => admits(l, route.kind, route.namespace));
    if (admitting.length === 0) {
      out.refusedRefs.push(
        refused(field, target, "NotAllowedByListeners", `no listener of Gateway ${namespace}/${name}${where} admits ${route.kind}s from namespace ${route.namespace}`),
      );
      return;
    }
    if (!admitting.some((l) => hostnamesIntersect(l, route.hostnames))) {
      out.refusedRefs.push(
        refused(field, target, "NoMatchingListenerHostname", `no listener of Gateway ${namespace}/${name}${where} has a hostname matching the route's hostnames`),
      );
      return;
    }
    const ref: ParentReference = { namespace, name };
    if (p.sectionName !== undefined) ref.sectionName = p.sectionName;
    if (p.port !== undefined) ref.port = p.port;
    out.parentRefs.push(ref);
  });
  return out;
}

function admits(l: GatewayListener, kind: Exclude<RouteSourceKind, "Ingress">, namespace: string): boolean {
  return l.allowedRoutes.kinds.includes(kind) && (l.allowedRoutes.allNamespaces || l.allowedRoutes.namespaces.includes(namespace));
}

function hostnamesIntersect(l: GatewayListener, hostnames: readonly string[]): boolean {
  const r = intersectHostnames(l.hostname, hostnames);
  return r === "any" || r.length > 0;
}
