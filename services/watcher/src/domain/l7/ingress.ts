import type { V1Ingress } from "@kubernetes/client-node";
import type { RouteBackend, RouteResource, RouteRule } from "@sharedlb/contracts";
import { resolveIngressBackend } from "./backends.js";
import { resolveCertificateRef } from "./gateway.js";
import { RuleContext } from "./rule-context.js";
import { base, identity, type NormalizedRoute } from "./routes.js";
import { hostnameProblem } from "./validation.js";
import { INGRESS_CONTROLLER, type L7View } from "./view.js";

const DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";
const LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class";

/**
 * True when sharedlb serves the Ingress: its class is an IngressClass of our controller, or
 * it names none and one of ours is the cluster's default (the legacy annotation counts as
 * the class name).
 */
export function servedIngress(view: L7View, ing: V1Ingress | undefined): ing is V1Ingress {
  if (!ing) return false;
  const cls = ing.spec?.ingressClassName ?? ing.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (cls) return view.ingressClass(cls)?.spec?.controller === INGRESS_CONTROLLER;
  return view
    .listIngressClasses()
    .some((c) => c.spec?.controller === INGRESS_CONTROLLER && c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true");
}

/**
 * An Ingress as a route: one rule per path (hostnames [host], or [] for a host-less rule,
 * which matches every host), the default backend, and TLS entries whose Secret is valid.
 */
export function normalizeIngress(view: L7View, ing: V1Ingress | undefined): NormalizedRoute | undefined {
  if (!servedIngress(view, ing)) return undefined;
  const namespace = ing.metadata?.namespace ?? "";
  const ctx = new RuleContext(view, identity(ing, "Ingress", "networking.k8s.io", "networking.k8s.io/v1"));
  const hostnames = new Set<string>();
  const host = (h: string, field: string): boolean => {
    const problem = hostnameProblem(h);
    if (problem) ctx.refuseValue(field, problem);
    else hostnames.add(h);
    return !problem;
  };
  const rules: RouteRule[] = [];
  (ing.spec?.rules ?? []).forEach((r, i) => {
    const field = `spec.rules[${i}]`;
    if (r.host && !host(r.host, `${field}.host`)) return;
    (r.http?.paths ?? []).forEach((p, j) => {
      const f = `${field}.http.paths[${j}]`;
      const path = p.path || "/";
      if (!path.startsWith("/")) {
        ctx.refuseValue(`${f}.path`, `path "${path}" does not start with "/"`);
        return;
      }
      const b = resolveIngressBackend(view, ctx.route, p.backend, `${f}.backend`);
      const backends: RouteBackend[] = [];
      if ("refused" in b) ctx.refusedRefs.push(b.refused);
      else {
        backends.push(b.backend);
        if (b.companion) ctx.companions.push(b.companion);
      }
      rules.push({
        hostnames: r.host ? [r.host] : [],
        matches: [{ path: { type: p.pathType === "Exact" ? "Exact" : "PathPrefix", value: path } }],
        filters: [],
        backends,
      });
    });
  });
  const tls: NonNullable<RouteResource["tls"]> = [];
  (ing.spec?.tls ?? []).forEach((t, i) => {
    const field = `spec.tls[${i}]`;
    const hosts = (t.hosts ?? []).filter((h, k) => host(h, `${field}.hosts[${k}]`));
    if (!t.secretName) {
      ctx.refuseValue(`${field}.secretName`, "a TLS entry without a secretName cannot be served");
      return;
    }
    const r = resolveCertificateRef(view, namespace, { name: t.secretName }, `${field}.secretName`);
    if ("refused" in r) ctx.refusedRefs.push(r.refused);
    else tls.push({ hosts, secret: r.ref });
  });
  const out: RouteResource = {
    ...base(view, ing),
    sourceKind: "Ingress",
    parentRefs: [],
    hostnames: [...hostnames].sort(),
    rules,
    refusedRefs: ctx.refusedRefs,
  };
  const d = ing.spec?.defaultBackend;
  if (d) {
    const b = resolveIngressBackend(view, ctx.route, d, "spec.defaultBackend");
    if ("refused" in b) ctx.refusedRefs.push(b.refused);
    else {
      out.defaultBackend = b.backend;
      if (b.companion) ctx.companions.push(b.companion);
    }
  }
  if ((ing.spec?.tls ?? []).length > 0) out.tls = tls;
  return { data: out, companions: ctx.companions };
}
