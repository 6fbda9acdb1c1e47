import { condition } from "./conditions.js";
import { GATEWAY_CONTROLLER, type GatewayClassView, type WantedCondition } from "./gateway-api.js";

/** A GatewayClass of sharedlb's controller is Accepted; another controller's class is left alone. */
export function desiredGatewayClassConditions(gc: GatewayClassView): WantedCondition[] | undefined {
  if (gc.controllerName !== GATEWAY_CONTROLLER) return undefined;
  return [condition("Accepted", "True", "Accepted", "handled by sharedlb", gc.meta.generation)];
}
