import type { IngressView } from "./gateway-api.js";
import { type L7Verdict, refusalEvent } from "./gateway-status.js";
import { type L7Event, warning } from "./l7-event.js";
import type { IngressInputs } from "./world.js";

export interface DesiredIngressStatus {
  ingress: { ip: string }[];
}

/**
 * An Ingress carries the IP its listeners were allocated (`status.loadBalancer.ingress`);
 * what it could not get (a host taken by another tenant, a refused Secret or backend) it
 * learns from Events, since Ingress has no conditions.
 */
export function desiredIngressStatus(ing: IngressView, inputs: IngressInputs): L7Verdict<DesiredIngressStatus> {
  if (inputs.presence === "unknown") return { action: "leave" };
  if (inputs.presence === "left") return { action: "write", status: { ingress: [] }, events: [] };
  const g = ing.meta.generation;
  const allocation = inputs.allocation?.uid === ing.meta.uid ? inputs.allocation : undefined;
  const events: L7Event[] = (inputs.resource?.uid === ing.meta.uid ? inputs.resource.refusedRefs : []).map((r) => refusalEvent(r, g));
  const ips: string[] = [];
  for (const l of allocation?.listeners ?? []) {
    if (l.state === "Allocated") for (const ip of l.ips ?? [l.ip]) if (ip !== "" && !ips.includes(ip)) ips.push(ip);
    for (const h of l.refusedHostnames) {
      events.push(warning(h.reason, `${l.name}: host ${h.hostname}: ${h.message}`, `${h.reason}|${l.name}|${h.hostname}|${g}`));
    }
    if (l.state !== "Allocated" && l.reason !== "" && l.reason !== "HostnameConflict") {
      events.push(warning(l.reason, `${l.name}: ${l.message}`, `${l.reason}|${l.name}|${g}`));
    }
  }
  return { action: "write", status: { ingress: ips.map((ip) => ({ ip })) }, events };
}
