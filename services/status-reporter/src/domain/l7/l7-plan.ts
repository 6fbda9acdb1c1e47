import { sameConditions, type TimedCondition, withTimes } from "./conditions.js";
import {
  type FoundCondition,
  GATEWAY_CONTROLLER,
  type GatewayClassView,
  type GatewayView,
  type IngressView,
  type RouteView,
  type WantedCondition,
} from "./gateway-api.js";
import type { DesiredGatewayStatus } from "./gateway-status.js";
import type { DesiredIngressStatus } from "./ingress-status.js";
import type { DesiredParentStatus } from "./route-status.js";

/**
 * A JSON merge patch of an object's status subresource. `metadata.resourceVersion` makes
 * it conditional: lists are replaced whole by a merge patch, so a write based on a stale
 * read (another controller's parents entry added meanwhile) must fail with 409, not erase.
 */
export interface L7StatusPatch {
  metadata: { resourceVersion: string };
  status: Record<string, unknown>;
}

const GATEWAY_CONDITIONS = new Set(["Accepted", "Programmed"]);

export function planGatewayStatus(gw: GatewayView, want: DesiredGatewayStatus, now: Date): L7StatusPatch | undefined {
  const cur = gw.status;
  const sameAddresses =
    cur.addresses.length === want.addresses.length &&
    want.addresses.every((a, i) => cur.addresses[i]?.type === a.type && cur.addresses[i]?.value === a.value);
  const ours = cur.conditions.filter((c) => GATEWAY_CONDITIONS.has(c.type));
  const sameListeners =
    cur.listeners.length === want.listeners.length &&
    want.listeners.every((l, i) => {
      const f = cur.listeners[i];
      return (
        f !== undefined &&
        f.name === l.name &&
        f.attachedRoutes === l.attachedRoutes &&
        JSON.stringify(f.supportedKinds ?? []) === JSON.stringify(l.supportedKinds) &&
        sameConditions(f.conditions ?? [], l.conditions)
      );
    });
  if (sameAddresses && sameListeners && sameConditions(ours, want.conditions)) return undefined;
  return {
    metadata: { resourceVersion: gw.meta.resourceVersion },
    status: {
      addresses: want.addresses,
      conditions: mergeConditions(cur.conditions, want.conditions, GATEWAY_CONDITIONS, now),
      listeners: want.listeners.map((l) => ({
        name: l.name,
        supportedKinds: l.supportedKinds,
        attachedRoutes: l.attachedRoutes,
        conditions: withTimes(l.conditions, cur.listeners.find((f) => f.name === l.name)?.conditions ?? [], now),
      })),
    },
  };
}

export function planRouteParents(route: RouteView, want: DesiredParentStatus[], now: Date): L7StatusPatch | undefined {
  const others = route.parents.filter((p) => p.controllerName !== GATEWAY_CONTROLLER);
  const ours = route.parents.filter((p) => p.controllerName === GATEWAY_CONTROLLER);
  const same =
    ours.length === want.length &&
    want.every((w, i) => {
      const f = ours[i];
      return f !== undefined && sameRef(f.parentRef ?? {}, w.parentRef) && sameConditions(f.conditions ?? [], w.conditions);
    });
  if (same) return undefined;
  return {
    metadata: { resourceVersion: route.meta.resourceVersion },
    status: {
      parents: [
        ...others.map((p) => p.raw),
        ...want.map((w) => ({
          parentRef: w.parentRef,
          controllerName: w.controllerName,
          conditions: withTimes(w.conditions, ours.find((f) => sameRef(f.parentRef ?? {}, w.parentRef))?.conditions ?? [], now),
        })),
      ],
    },
  };
}

export function planIngressStatus(ing: IngressView, want: DesiredIngressStatus): L7StatusPatch | undefined {
  const same =
    ing.ingress.length === want.ingress.length && want.ingress.every((w, i) => ing.ingress[i]?.ip === w.ip && !ing.ingress[i]?.hostname);
  if (same) return undefined;
  return {
    metadata: { resourceVersion: ing.meta.resourceVersion },
    status: { loadBalancer: { ingress: want.ingress.length > 0 ? want.ingress : null } },
  };
}

export function planGatewayClassStatus(gc: GatewayClassView, want: WantedCondition[], now: Date): L7StatusPatch | undefined {
  const types = new Set(want.map((w) => w.type));
  if (
    sameConditions(
      gc.conditions.filter((c) => types.has(c.type)),
      want,
    )
  )
    return undefined;
  return {
    metadata: { resourceVersion: gc.meta.resourceVersion },
    status: { conditions: mergeConditions(gc.conditions, want, types, now) },
  };
}

/** Conditions of other types stay as they are; ours are replaced (times kept while the status holds). */
function mergeConditions(
  found: readonly FoundCondition[],
  want: readonly WantedCondition[],
  ourTypes: ReadonlySet<string>,
  now: Date,
): (FoundCondition | TimedCondition)[] {
  return [...found.filter((c) => !ourTypes.has(c.type)), ...withTimes(want, found, now)];
}

/** parentRef as written and as echoed compare field by field (key order aside). */
function sameRef(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}
