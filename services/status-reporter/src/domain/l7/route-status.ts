import type { RefusedRef } from "@sharedlb/contracts";
import { condition } from "./conditions.js";
import { GATEWAY_CONTROLLER, GATEWAY_GROUP, type RouteView, type SpecParentRef, type WantedCondition } from "./gateway-api.js";
import { type L7Verdict, programmedCondition, refusalEvent } from "./gateway-status.js";
import { type L7Event, warning } from "./l7-event.js";
import { nackMessage, programmedVerdict } from "./programmed-verdict.js";
import type { ParentInputs, RouteInputs } from "./world.js";

export interface DesiredParentStatus {
  parentRef: Record<string, unknown>;
  controllerName: typeof GATEWAY_CONTROLLER;
  conditions: WantedCondition[];
}

const PARENT_REASONS = new Set(["NoMatchingParent", "NotAllowedByListeners", "NoMatchingListenerHostname"]);
const BACKEND_REASONS = new Set(["BackendNotFound", "RefNotPermitted", "InvalidKind"]);

/**
 * sharedlb's entries of a route's `status.parents[]`: one per spec.parentRef that is a
 * Gateway sharedlb serves (attached, or refused by the watcher with a reason), in spec
 * order. Entries of other controllers are not ours to decide; the plan keeps them.
 */
export function desiredRouteParents(route: RouteView, inputs: RouteInputs): L7Verdict<DesiredParentStatus[]> {
  if (inputs.presence === "unknown") return { action: "leave" };
  const res = inputs.resource;
  if (inputs.presence === "left" || !res || res.uid !== route.meta.uid) return { action: "write", status: [], events: [] };
  const g = route.meta.generation;
  const events: L7Event[] = res.refusedRefs.map((r) => refusalEvent(r, g));
  const backendRefusals = res.refusedRefs.filter((r) => BACKEND_REASONS.has(r.reason));
  const firstBackend = backendRefusals[0];
  const resolved = firstBackend
    ? condition("ResolvedRefs", "False", firstBackend.reason, describe(backendRefusals), g)
    : condition("ResolvedRefs", "True", "ResolvedRefs", "", g);
  // Rules left out for bad input (an RE2-invalid regex, an unknown filter): the route is
  // served without them, which Gateway API says with PartiallyInvalid.
  const unsupported = res.refusedRefs.filter((r) => r.reason === "UnsupportedValue");
  const partially =
    unsupported.length > 0 ? [condition("PartiallyInvalid", "True", "UnsupportedValue", describeRules(unsupported), g)] : [];
  const verdict = programmedVerdict(inputs.programmed, g);
  const parents: DesiredParentStatus[] = [];
  route.parentRefs.forEach((p, index) => {
    if (p.group !== GATEWAY_GROUP || p.kind !== "Gateway") return;
    const attached = res.parentRefs.some(
      (a) => a.namespace === p.namespace && a.name === p.name && a.sectionName === p.sectionName && a.port === p.port,
    );
    const refused = res.refusedRefs.find((r) => isRefusalOf(r, p, index));
    if (!attached && !refused) return;
    let accepted: WantedCondition;
    let programmed: WantedCondition;
    if (!attached && refused) {
      accepted = condition("Accepted", "False", refused.reason, refused.message, g);
      programmed = condition("Programmed", "False", refused.reason, refused.message, g);
    } else {
      const conflict = hostnameConflict(inputs.parent(p.namespace, p.name), p);
      if (conflict !== undefined) {
        accepted = condition("Accepted", "False", "HostnameConflict", conflict, g);
        programmed = condition("Programmed", "False", "HostnameConflict", conflict, g);
        events.push(warning("HostnameConflict", `parent Gateway ${p.namespace}/${p.name}: ${conflict}`, `HostnameConflict|${index}|${g}`));
      } else {
        accepted = condition("Accepted", "True", "Accepted", `attached to Gateway ${p.namespace}/${p.name}`, g);
        programmed = programmedCondition(g, verdict);
      }
    }
    parents.push({ parentRef: p.raw, controllerName: GATEWAY_CONTROLLER, conditions: [accepted, resolved, programmed, ...partially] });
  });
  if (verdict.state === "nacked" && parents.length > 0) events.push(warning("ConfigurationRejected", nackMessage(verdict), `nack|${g}`));
  return { action: "write", status: parents, events };
}

/** The watcher's refusal of this parentRef: by the field it names (`parentRefs[i]`), else by the Gateway. */
function isRefusalOf(r: RefusedRef, p: SpecParentRef, index: number): boolean {
  if (!PARENT_REASONS.has(r.reason) || r.namespace !== p.namespace || r.name !== p.name) return false;
  const m = /^(?:spec\.)?parentRefs\[(\d+)\]/.exec(r.field);
  return m === null || Number(m[1]) === index;
}

/**
 * A route is not served through a parent whose listeners it attaches to all lost their
 * hostname to another tenant: say so on the route, without naming the other tenant.
 */
function hostnameConflict(parent: ParentInputs, p: SpecParentRef): string | undefined {
  const listeners = (parent.allocation?.listeners ?? []).filter((l) => {
    const spec = parent.resource?.listeners.find((x) => x.name === l.name);
    return (p.sectionName === undefined || p.sectionName === l.name) && (p.port === undefined || p.port === (spec?.port ?? l.port));
  });
  if (listeners.length === 0 || listeners.some((l) => l.state === "Allocated")) return undefined;
  const refused = listeners.flatMap((l) => l.refusedHostnames.filter((h) => h.reason === "HostnameConflict"));
  if (refused.length === 0 && !listeners.some((l) => l.reason === "HostnameConflict")) return undefined;
  const names = [...new Set(refused.map((h) => h.hostname))];
  return `hostname ${names.join(", ") || "of the listener"} is already served on this address by another tenant`;
}

function describeRules(refusals: readonly RefusedRef[]): string {
  return refusals.map((r) => `${r.field}: ${r.message}`).join("; ");
}

function describe(refusals: readonly RefusedRef[]): string {
  return refusals.map((r) => `${r.field}: ${r.kind} ${r.namespace}/${r.name}: ${r.message}`).join("; ");
}
