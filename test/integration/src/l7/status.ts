import type { CoreV1Api } from "@kubernetes/client-node";
import { GATEWAY_CONTROLLER, type Obj } from "./objects.js";

// Reading what the status-reporter wrote, the way a Gateway API user (or Argo CD) reads it.

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
}

interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  conditions?: Condition[];
}

interface RouteParentStatus {
  parentRef: { name: string; namespace?: string; sectionName?: string };
  controllerName: string;
  conditions?: Condition[];
}

const find = (list: Condition[] | undefined, type: string) => (list ?? []).find((c) => c.type === type);

export function gatewayCondition(gw: Obj | undefined, type: string): Condition | undefined {
  return find((gw?.status as { conditions?: Condition[] } | undefined)?.conditions, type);
}

export function listenerStatus(gw: Obj | undefined, listener: string): ListenerStatus | undefined {
  return ((gw?.status as { listeners?: ListenerStatus[] } | undefined)?.listeners ?? []).find((l) => l.name === listener);
}

export function listenerCondition(gw: Obj | undefined, listener: string, type: string): Condition | undefined {
  return find(listenerStatus(gw, listener)?.conditions, type);
}

export function gatewayAddress(gw: Obj | undefined): string | undefined {
  return (gw?.status as { addresses?: { value: string }[] } | undefined)?.addresses?.[0]?.value;
}

export function ingressIp(ing: Obj | undefined): string | undefined {
  return (ing?.status as { loadBalancer?: { ingress?: { ip?: string }[] } } | undefined)?.loadBalancer?.ingress?.[0]?.ip;
}

/** sharedlb's entry in a route's status.parents[] for a parent Gateway. */
export function routeParent(route: Obj | undefined, gateway: string): RouteParentStatus | undefined {
  return ((route?.status as { parents?: RouteParentStatus[] } | undefined)?.parents ?? []).find(
    (p) => p.controllerName === GATEWAY_CONTROLLER && p.parentRef.name === gateway,
  );
}

export function routeCondition(route: Obj | undefined, gateway: string, type: string): Condition | undefined {
  return find(routeParent(route, gateway)?.conditions, type);
}

export const is = (c: Condition | undefined, status: Condition["status"], reason?: string) =>
  c?.status === status && (reason === undefined || c.reason === reason);

/** Every condition sharedlb wrote on the object, wherever it is (object, listeners, parents). */
export function allConditions(o: Obj): Condition[] {
  const s = (o.status ?? {}) as {
    conditions?: Condition[];
    listeners?: ListenerStatus[];
    parents?: RouteParentStatus[];
  };
  return [
    ...(s.conditions ?? []),
    ...(s.listeners ?? []).flatMap((l) => l.conditions ?? []),
    ...(s.parents ?? []).filter((p) => p.controllerName === GATEWAY_CONTROLLER).flatMap((p) => p.conditions ?? []),
  ];
}

/** Conditions whose observedGeneration is not the object's generation (Argo CD's "progressing forever"). */
export function staleConditions(o: Obj): Condition[] {
  const generation = o.metadata?.generation;
  return allConditions(o).filter((c) => c.observedGeneration !== generation);
}

/** Reasons of the Events regarding an object (core/v1 view of events.k8s.io Events). */
export async function eventReasons(core: CoreV1Api, namespace: string, name: string, kind?: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => kind === undefined || e.involvedObject.kind === kind).map((e) => e.reason ?? "");
}
