import {
  type Allocation,
  ContractViolation,
  decodeAllocationMessage,
  decodeResourceMessage,
  type ServiceResource,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import { ConfigError, loadYamlConfig } from "@sharedlb/runtime";
import type { NodeAddressPolicy, PoolHealthChecks } from "@sharedlb/serving";
import { CliError } from "../domain/errors.js";
import type { NodeSelector } from "../domain/explain.js";
import type { FleetFile, PlanView } from "../domain/xds.js";
import { type NatsSession, replay } from "./nats.js";

// libs/serving (with the generated Envoy types) takes a few hundred milliseconds to load;
// only the commands that plan or select nodes pay for it.
const loadServing = () => import("@sharedlb/serving");

/** A fleet file read with the gateway's own schema and checks, so both accept the same files. */
export interface LoadedFleetFile extends FleetFile {
  readonly addressPolicy: NodeAddressPolicy;
  readonly healthChecks: PoolHealthChecks;
}

export async function loadFleetFile(path: string): Promise<LoadedFleetFile> {
  const { FleetConfigError, FleetFileSchema, resolveFleets, resolveHealthChecks, resolveNodeAddressPolicy } = await loadServing();
  try {
    const file = loadYamlConfig(path, FleetFileSchema);
    return { fleets: resolveFleets(file), addressPolicy: resolveNodeAddressPolicy(file), healthChecks: resolveHealthChecks(file) };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError("InvalidFleetConfig", err.message);
    if (err instanceof FleetConfigError) throw new CliError("InvalidFleetConfig", `${path}: ${err.message}`);
    throw err;
  }
}

/** The gateway's node selection under `policy` (the built-in address rules when undefined). */
export async function nodeSelector(policy: NodeAddressPolicy | undefined): Promise<NodeSelector> {
  const { classifyNodes, selectNodes } = await loadServing();
  return (service, nodes, endpoints) => selectNodes(service, classifyNodes(nodes, policy), endpoints);
}

export interface GatewayPlans {
  plans: PlanView[];
  services: Map<string, ServiceResource>;
  allocations: Map<string, Allocation>;
}

/**
 * Replays LB_RESOURCES and LB_ALLOCATIONS into the TenantView a gateway uses and asks it
 * to plan every Service: the same inputs, replay rules, address policy and planner a
 * gateway replica uses, with the fleet file's address policy and health checks (the
 * gateway's defaults without one).
 */
export async function planFromStreams(
  session: NatsSession,
  idleTimeoutMs: number,
  file?: Pick<LoadedFleetFile, "addressPolicy" | "healthChecks">,
): Promise<GatewayPlans> {
  const { TenantView } = await loadServing();
  // The view ignores a tombstone of an earlier incarnation; so does the Service map here.
  let ignoredTombstone = false;
  const view = new TenantView({
    ...(file ? { addressPolicy: file.addressPolicy, healthChecks: file.healthChecks } : {}),
    observer: {
      staleIncarnation: () => {
        ignoredTombstone = true;
      },
    },
  });
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
    ignoredTombstone = false;
    view.applyResource(msg);
    const key = `${msg.subject.cluster}/${msg.subject.namespace}/${msg.subject.name}`;
    if (msg.event.type === "io.sharedlb.service.v1") services.set(key, msg.event.data);
    else if (msg.event.type === "io.sharedlb.deleted.v1" && msg.subject.kind === "service" && !ignoredTombstone) services.delete(key);
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
