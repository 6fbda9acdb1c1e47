import type { V1Secret } from "@kubernetes/client-node";
import {
  type AllowedRoutes,
  type GatewayListener,
  type GatewayResource,
  L7_PROTOCOLS,
  type ListenerProtocol,
  type ObjectReference,
  type RefusedRef,
  type RouteSourceKind,
} from "@sharedlb/contracts";
import { sharedlbAnnotations } from "../service.js";
import { certificateProblem } from "./certificate.js";
import { GATEWAY_GROUP, type Gateway, type Listener } from "./gateway-api.js";
import { referencePermitted, refused, selectorMatches } from "./references.js";
import { hostnameProblem } from "./validation.js";
import { GATEWAY_CONTROLLER, type L7View } from "./view.js";

type GatewayRouteKind = Exclude<RouteSourceKind, "Ingress">;

/** Route kinds a listener admits when allowedRoutes.kinds is empty (Gateway API defaults). */
const DEFAULT_KINDS: Record<ListenerProtocol, GatewayRouteKind[]> = {
  HTTP: ["HTTPRoute", "GRPCRoute"],
  HTTPS: ["HTTPRoute", "GRPCRoute"],
  TLS: ["TLSRoute"],
  TCP: [],
  UDP: [],
};

/** True when the Gateway's class is one sharedlb serves. */
export function servedGateway(view: L7View, gw: Gateway | undefined): gw is Gateway {
  const cls = gw?.spec?.gatewayClassName;
  return cls !== undefined && view.gatewayClass(cls)?.spec?.controllerName === GATEWAY_CONTROLLER;
}

/**
 * A Gateway of a sharedlb GatewayClass, normalized: allowedRoutes resolved against the
 * cluster's namespaces, certificateRefs kept only where permitted and valid. A listener
 * the contract cannot carry (unknown protocol, bad hostname) is left out and refused.
 */
export function normalizeGateway(view: L7View, gw: Gateway | undefined, opts: { checkSecrets: boolean } = { checkSecrets: true }): GatewayResource | undefined {
  if (!servedGateway(view, gw)) return undefined;
  const namespace = gw.metadata?.namespace ?? "";
  const refusedRefs: RefusedRef[] = [];
  const listeners: GatewayListener[] = [];
  (gw.spec?.listeners ?? []).forEach((l, i) => {
    const out = normalizeListener(view, gw, l, `spec.listeners[${i}]`, refusedRefs, opts.checkSecrets);
    if (out) listeners.push(out);
  });
  return {
    cluster: view.cluster,
    namespace,
    name: gw.metadata?.name ?? "",
    uid: gw.metadata?.uid ?? "",
    generation: gw.metadata?.generation ?? 0,
    gatewayClassName: gw.spec?.gatewayClassName ?? "",
    listeners,
    annotations: sharedlbAnnotations(gw.metadata?.annotations),
    refusedRefs,
  };
}

function normalizeListener(
  view: L7View,
  gw: Gateway,
  l: Listener,
  field: string,
  refusedRefs: RefusedRef[],
  checkSecret: boolean,
): GatewayListener | undefined {
  const namespace = gw.metadata?.namespace ?? "";
  const self = { group: GATEWAY_GROUP, kind: "Gateway", namespace, name: gw.metadata?.name ?? "" };
  const protocol = l.protocol ?? "";
  if (!isListenerProtocol(protocol)) {
    refusedRefs.push(refused(`${field}.protocol`, self, "UnsupportedProtocol", `listener ${l.name ?? ""}: protocol "${protocol}" is not supported`));
    return undefined;
  }
  const problem = l.hostname === undefined ? undefined : hostnameProblem(l.hostname);
  if (problem) {
    refusedRefs.push(refused(`${field}.hostname`, self, "UnsupportedValue", `listener ${l.name ?? ""}: ${problem}`));
    return undefined;
  }
  const out: GatewayListener = {
    name: l.name ?? "",
    protocol,
    port: l.port ?? 0,
    allowedRoutes: allowedRoutes(view, namespace, protocol, l, field, self, refusedRefs),
  };
  if (l.hostname) out.hostname = l.hostname;
  if (protocol === "HTTPS" || protocol === "TLS") {
    const mode = l.tls?.mode === "Passthrough" ? "Passthrough" : "Terminate";
    const certificateRefs: ObjectReference[] = [];
    // Passthrough never terminates TLS here: its certificateRefs are not used.
    (mode === "Terminate" ? (l.tls?.certificateRefs ?? []) : []).forEach((ref, j) => {
      const r = resolveCertificateRef(view, namespace, ref, `${field}.tls.certificateRefs[${j}]`, { checkSecret });
      if ("refused" in r) refusedRefs.push(r.refused);
      else certificateRefs.push(r.ref);
    });
    out.tls = { mode, certificateRefs };
  }
  return out;
}

export type CertificateRefResult = { ref: ObjectReference } | { refused: RefusedRef };

/**
 * A listener's certificateRef: a core Secret in the Gateway's namespace, or in another one
 * that grants it; the Secret must be a valid, unexpired kubernetes.io/tls key pair.
 */
export function resolveCertificateRef(
  view: L7View,
  gatewayNamespace: string,
  ref: { group?: string; kind?: string; name?: string; namespace?: string },
  field: string,
  opts: { checkSecret: boolean } = { checkSecret: true },
): CertificateRefResult {
  const target = { group: ref.group ?? "", kind: ref.kind ?? "Secret", namespace: ref.namespace ?? gatewayNamespace, name: ref.name ?? "" };
  if (target.group !== "" || target.kind !== "Secret") {
    return { refused: refused(field, target, "InvalidCertificateRef", `certificateRef kind ${target.group}/${target.kind} is not supported (only core Secrets)`) };
  }
  if (target.namespace !== gatewayNamespace) {
    const from = { group: GATEWAY_GROUP, kind: "Gateway", namespace: gatewayNamespace };
    if (!referencePermitted(view.referenceGrants(target.namespace), from, { group: "", kind: "Secret", name: target.name })) {
      return {
        refused: refused(field, target, "RefNotPermitted", `no ReferenceGrant in namespace ${target.namespace} allows Gateways of ${gatewayNamespace} to refer to Secret ${target.name}`),
      };
    }
  }
  if (opts.checkSecret) {
    const problem = secretProblem(view, view.secret(target.namespace, target.name), target.namespace, target.name);
    if (problem) return { refused: refused(field, target, "InvalidCertificateRef", problem) };
  }
  return { ref: { namespace: target.namespace, name: target.name } };
}

/** Why a referenced Secret cannot serve TLS, or undefined when it can. */
export function secretProblem(view: L7View, secret: V1Secret | undefined, namespace: string, name: string): string | undefined {
  if (!secret) return `Secret ${namespace}/${name} does not exist or is not of type kubernetes.io/tls`;
  const problem = certificateProblem(secret, view.now);
  return problem ? `Secret ${namespace}/${name}: ${problem}` : undefined;
}

function allowedRoutes(
  view: L7View,
  namespace: string,
  protocol: ListenerProtocol,
  l: Listener,
  field: string,
  self: { group: string; kind: string; namespace: string; name: string },
  refusedRefs: RefusedRef[],
): AllowedRoutes {
  const from = l.allowedRoutes?.namespaces?.from ?? "Same";
  let allNamespaces = false;
  let namespaces: string[] = [];
  if (from === "All") allNamespaces = true;
  else if (from === "Selector") {
    const selector = l.allowedRoutes?.namespaces?.selector ?? {};
    namespaces = view
      .namespaces()
      .filter((ns) => selectorMatches(selector, ns.labels))
      .map((ns) => ns.name)
      .sort();
  } else namespaces = [namespace];
  const supported = DEFAULT_KINDS[protocol];
  const wanted = l.allowedRoutes?.kinds ?? [];
  let kinds: GatewayRouteKind[] = supported;
  if (wanted.length > 0) {
    kinds = [];
    wanted.forEach((k, j) => {
      const kind = k.kind ?? "";
      const ok = (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (supported as string[]).includes(kind);
      if (ok && !kinds.includes(kind as GatewayRouteKind)) kinds.push(kind as GatewayRouteKind);
      else if (!ok) {
        refusedRefs.push(
          refused(`${field}.allowedRoutes.kinds[${j}]`, self, "InvalidKind", `listener ${l.name ?? ""} (${protocol}) cannot serve route kind ${k.group ?? GATEWAY_GROUP}/${kind}`),
        );
      }
    });
  }
  return { allNamespaces, namespaces, kinds };
}

function isListenerProtocol(p: string): p is ListenerProtocol {
  return (L7_PROTOCOLS as readonly string[]).includes(p);
}
