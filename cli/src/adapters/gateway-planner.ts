import {
  type Allocation,
  ContractViolation,
  decodeAllocationMessage,
  decodeResourceMessage,
  type ServiceResource,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import { ConfigError, loadYamlConfig } from "@sharedlb/runtime";
import { CliError } from "../domain/errors.js";
import type { FleetFile, PlanView } from "../domain/xds.js";
import { type NatsSession, replay } from "./nats.js";

// The gateway's code (gRPC, generated Envoy types) takes a few hundred milliseconds to
// load; only `sharedlb xds` pays for it.
const loadGateway = () => import("@sharedlb/xds-gateway");
const loadServing = () => import("@sharedlb/serving");

/** Reads a fleet file with the gateway's own schema and checks, so both accept the same files. */
export async function loadFleetFile(path: string): Promise<FleetFile> {
  const { FleetFileSchema, resolveFleets } = await loadServing();
  try {
    return { fleets: resolveFleets(loadYamlConfig(path, FleetFileSchema)) };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError("InvalidFleetConfig", err.message);
    if (err instanceof Error && (err as { reason?: string }).reason === "InvalidFleetConfig")
      throw new CliError("InvalidFleetConfig", `${path}: ${err.message}`);
    throw err;
  }
}

export interface GatewayPlans {
  plans: PlanView[];
  services: Map<string, ServiceResource>;
  allocations: Map<string, Allocation>;
}

/**
 * Replays LB_RESOURCES and LB_ALLOCATIONS into the gateway's own TenantView and asks it to
 * plan every Service: the same inputs, replay rules and planner a gateway replica uses.
 */
export async function planFromStreams(session: NatsSession, idleTimeoutMs: number): Promise<GatewayPlans> {
  const { Gateway } = await loadGateway();
  // No fleets and never live: only the view is used, nothing is built or served.
  const view = new Gateway([]).view;
  const services = new Map<string, ServiceResource>();
  const allocations = new Map<string, Allocation>();
  const skipInvalid = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (err instanceof ContractViolation) return undefined;
      throw err;
    }
  };
  for (const m of await replay(session, STREAM_NAMES.resources, { idleTimeoutMs })) {
    const msg = skipInvalid(() => decodeResourceMessage(m.subject, m.data));
    if (!msg) continue;
    view.applyResource(msg);
    const key = `${msg.subject.cluster}/${msg.subject.namespace}/${msg.subject.name}`;
    if (msg.event.type === "io.sharedlb.service.v1") services.set(key, msg.event.data);
    else if (msg.event.type === "io.sharedlb.deleted.v1" && msg.subject.kind === "service") services.delete(key);
  }
  for (const m of await replay(session, STREAM_NAMES.allocations, { idleTimeoutMs })) {
    const ev = skipInvalid(() => decodeAllocationMessage(m.subject, m.data));
    if (!ev) continue;
    view.applyAllocation(ev.data);
    allocations.set(`${ev.data.cluster}/${ev.data.namespace}/${ev.data.name}`, ev.data);
  }
  const plans: PlanView[] = [];
  for (const key of [...view.allKeys()].sort()) {
    const plan = view.plan(key);
    if (plan) plans.push(plan);
  }
  return { plans, services, allocations };
}
