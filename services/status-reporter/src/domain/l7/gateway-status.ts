import type { GatewayResource, ListenerAllocation, RefusedRef, RouteResource } from "@sharedlb/contracts";
import { condition } from "./conditions.js";
import { GATEWAY_GROUP, type GatewayView, type RouteGroupKind, type SpecListener, type WantedCondition } from "./gateway-api.js";
import { type L7Event, warning } from "./l7-event.js";
import { nackMessage, type ProgrammedVerdict, programmedVerdict } from "./programmed-verdict.js";
import type { GatewayInputs } from "./world.js";

export interface DesiredListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: RouteGroupKind[];
  conditions: WantedCondition[];
}

export interface DesiredGatewayStatus {
  addresses: { type: "IPAddress"; value: string }[];
  conditions: WantedCondition[];
  listeners: DesiredListenerStatus[];
}

export type L7Verdict<S> = { action: "leave" } | { action: "write"; status: S; events: L7Event[] };

/** Route kinds each listener protocol can carry here. */
const PROTOCOL_KINDS: Record<string, readonly string[]> = {
  HTTP: ["HTTPRoute", "GRPCRoute"],
  HTTPS: ["HTTPRoute", "GRPCRoute"],
  TLS: ["TLSRoute"],
};

const CERTIFICATE_REASONS = new Set(["InvalidCertificateRef", "RefNotPermitted"]);

/**
 * What a Gateway should carry, from its L7 allocation, the normalized Gateway (refused
 * references), the routes attached to it and the fleet's programmed reports. Every
 * condition's observedGeneration is the Gateway's own generation. A Gateway that left
 * sharedlb gets back the status the CRD starts with; one never seen is left alone.
 */
export function desiredGatewayStatus(gw: GatewayView, inputs: GatewayInputs): L7Verdict<DesiredGatewayStatus> {
  const g = gw.meta.generation;
  if (inputs.presence === "unknown") return { action: "leave" };
  if (inputs.presence === "left") return { action: "write", status: clearedGateway(g), events: [] };
  const allocation = inputs.allocation?.uid === gw.meta.uid ? inputs.allocation : undefined;
  const verdict = programmedVerdict(inputs.programmed, g);
  const events: L7Event[] = [];
  const listeners = gw.listeners.map((l, index) => {
    const la = allocation?.listeners.find((x) => x.name === l.name);
    const refusals = certificateRefusals(inputs.resource, l, index);
    return listenerStatus(gw, l, la, refusals, inputs.routes, verdict, events);
  });
  for (const r of inputs.resource?.refusedRefs ?? []) events.push(refusalEvent(r, g));
  const allocated = (allocation?.listeners ?? []).filter((l) => l.state === "Allocated");
  const addresses = [...new Set(allocated.flatMap((l) => l.ips ?? [l.ip]).filter((ip) => ip !== ""))].map((value) => ({
    type: "IPAddress" as const,
    value,
  }));
  const conditions = [
    gatewayAccepted(gw, allocation?.listeners, allocation?.message ?? ""),
    gatewayProgrammed(g, allocated.length > 0, allocation?.message, verdict),
  ];
  if (verdict.state === "nacked" && allocated.length > 0) events.push(warning("ConfigurationRejected", nackMessage(verdict), `nack|${g}`));
  return { action: "write", status: { addresses, conditions, listeners }, events };
}

function gatewayAccepted(gw: GatewayView, listeners: readonly ListenerAllocation[] | undefined, message: string): WantedCondition {
  const g = gw.meta.generation;
  if (!listeners) return condition("Accepted", "Unknown", "Pending", "waiting for sharedlb to allocate an address", g);
  const failed = listeners.filter((l) => l.state === "Failed");
  if (listeners.length > 0 && failed.length === listeners.length) {
    return condition(
      "Accepted",
      "False",
      "ListenersNotValid",
      failed.map((l) => `${l.name}: ${l.reason} ${l.message}`.trim()).join("; "),
      g,
    );
  }
  if (listeners.length === 0 && gw.listeners.length > 0)
    return condition("Accepted", "False", "Invalid", message || "no listener was allocated", g);
  return condition("Accepted", "True", "Accepted", "accepted by sharedlb", g);
}

function gatewayProgrammed(g: number, hasAddress: boolean, allocationMessage: string | undefined, v: ProgrammedVerdict): WantedCondition {
  if (allocationMessage === undefined)
    return condition("Programmed", "Unknown", "Pending", "waiting for sharedlb to allocate an address", g);
  if (!hasAddress) return condition("Programmed", "False", "AddressNotAssigned", allocationMessage || "no listener has an address yet", g);
  return programmedCondition(g, v);
}

/** The Programmed condition of an object whose resources the fleet serves. */
export function programmedCondition(g: number, v: ProgrammedVerdict): WantedCondition {
  switch (v.state) {
    case "acked":
      return condition(
        "Programmed",
        "True",
        "Programmed",
        `applied by ${v.acked} Envoy(s) of fleet ${v.fleets.join(", ")} (generation ${g})`,
        g,
      );
    case "nacked":
      return condition("Programmed", "False", "Invalid", nackMessage(v), g);
    case "pending":
      return condition("Programmed", "Unknown", "Pending", v.message, g);
  }
}

function listenerStatus(
  gw: GatewayView,
  l: SpecListener,
  la: ListenerAllocation | undefined,
  refusals: RefusedRef[],
  routes: readonly RouteResource[],
  verdict: ProgrammedVerdict,
  events: L7Event[],
): DesiredListenerStatus {
  const g = gw.meta.generation;
  const supported = PROTOCOL_KINDS[l.protocol] ?? [];
  const wanted = l.kinds ?? supported.map((kind) => ({ group: GATEWAY_GROUP, kind }));
  const supportedKinds = wanted.filter((k) => k.group === GATEWAY_GROUP && supported.includes(k.kind));
  const invalidKinds = wanted.filter((k) => !supportedKinds.includes(k));
  const attachedRoutes = routes.filter(
    (r) =>
      supportedKinds.some((k) => k.kind === r.sourceKind) &&
      r.parentRefs.some(
        (p) =>
          p.namespace === gw.meta.namespace &&
          p.name === gw.meta.name &&
          (p.sectionName === undefined || p.sectionName === l.name) &&
          (p.port === undefined || p.port === l.port),
      ),
  ).length;

  const conflicts = (la?.refusedHostnames ?? []).filter((h) => h.reason === "HostnameConflict");
  for (const h of la?.refusedHostnames ?? []) {
    events.push(warning(h.reason, `listener ${l.name}: hostname ${h.hostname}: ${h.message}`, `${h.reason}|${l.name}|${h.hostname}|${g}`));
  }
  const conflicted =
    conflicts.length > 0 || la?.reason === "HostnameConflict"
      ? condition(
          "Conflicted",
          "True",
          "HostnameConflict",
          conflicts.map((h) => `${h.hostname}: ${h.message}`).join("; ") || (la?.message ?? ""),
          g,
        )
      : condition("Conflicted", "False", "NoConflicts", "", g);

  let accepted: WantedCondition;
  let programmed: WantedCondition;
  if (!la) {
    accepted = condition("Accepted", "Unknown", "Pending", "waiting for sharedlb to allocate this listener", g);
    programmed = condition("Programmed", "Unknown", "Pending", "waiting for sharedlb to allocate this listener", g);
  } else if (la.state === "Allocated") {
    const hosts = la.claimedHostnames.length > 0 ? ` for ${la.claimedHostnames.join(", ")}` : "";
    accepted = condition("Accepted", "True", "Accepted", `${la.ip}:${la.port ?? l.port}${la.shared ? " (shared)" : ""}${hosts}`, g);
    programmed = programmedCondition(g, verdict);
  } else {
    const reason = la.reason || (la.state === "Pending" ? "Pending" : "Invalid");
    const waiting = la.state === "Pending" ? " (waiting: served as soon as it becomes possible)" : "";
    accepted = condition("Accepted", "False", reason, `${la.message || la.state}${waiting}`, g);
    programmed = condition("Programmed", "False", la.state === "Pending" ? "Pending" : "Invalid", `${la.message || la.state}${waiting}`, g);
    if (la.reason !== "HostnameConflict" && la.reason !== "")
      events.push(warning(la.reason, `listener ${l.name}: ${la.message}`, `${la.reason}|${l.name}|${g}`));
  }

  let resolved = condition("ResolvedRefs", "True", "ResolvedRefs", "", g);
  const first = refusals[0];
  if (first) {
    resolved = condition(
      "ResolvedRefs",
      "False",
      first.reason,
      refusals.map((r) => `${r.namespace}/${r.name}: ${r.message}`).join("; "),
      g,
    );
  } else if (invalidKinds.length > 0) {
    const kinds = invalidKinds.map((k) => `${k.group}/${k.kind}`).join(", ");
    resolved = condition("ResolvedRefs", "False", "InvalidRouteKinds", `not supported on a ${l.protocol} listener: ${kinds}`, g);
  }
  return { name: l.name, attachedRoutes, supportedKinds, conditions: [accepted, programmed, resolved, conflicted] };
}

/** The refused certificate references of one listener: by the field the watcher names, or by the Secret. */
function certificateRefusals(resource: GatewayResource | undefined, l: SpecListener, index: number): RefusedRef[] {
  return (resource?.refusedRefs ?? []).filter(
    (r) =>
      CERTIFICATE_REASONS.has(r.reason) &&
      (new RegExp(`^(spec\\.)?listeners\\[${index}\\]`).test(r.field) ||
        (r.kind === "Secret" && l.certificateRefs.some((c) => c.namespace === r.namespace && c.name === r.name))),
  );
}

export function refusalEvent(r: RefusedRef, g: number): L7Event {
  const what = `${r.kind ? `${r.kind} ` : ""}${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
  return warning(r.reason, `${r.field}: ${what}: ${r.message}`, `${r.reason}|${r.field}|${g}`);
}

/** The status a Gateway starts with (the CRD's default): what sharedlb wrote is gone. */
function clearedGateway(g: number): DesiredGatewayStatus {
  return {
    addresses: [],
    listeners: [],
    conditions: [
      condition("Accepted", "Unknown", "Pending", "Waiting for controller", g),
      condition("Programmed", "Unknown", "Pending", "Waiting for controller", g),
    ],
  };
}
