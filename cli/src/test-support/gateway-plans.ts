import {
  type Allocation,
  type EndpointsResource,
  makeEvent,
  type NodeResource,
  type ResourceMessage,
  type ServiceResource,
} from "@sharedlb/contracts";
import { TenantView } from "@sharedlb/serving";
import type { PlanView } from "../domain/xds.js";

export interface TenantInputs {
  services?: ServiceResource[];
  allocations?: Allocation[];
  nodes?: NodeResource[];
  endpoints?: EndpointsResource[];
}

const source = "sharedlb/watcher/test";

/**
 * The xds-gateway's plans for some tenant state, obtained the way the CLI obtains them
 * (messages into libs/serving's TenantView), so tests follow the gateway as it changes.
 */
export function gatewayPlans(input: TenantInputs): PlanView[] {
  const view = new TenantView();
  const apply = (msg: ResourceMessage) => view.applyResource(msg);
  for (const n of input.nodes ?? []) {
    apply({
      subject: { cluster: n.cluster, kind: "node", namespace: "", name: n.name },
      event: makeEvent({ type: "io.sharedlb.node.v1", source, subject: `${n.cluster}//${n.name}`, data: n }),
    });
  }
  for (const e of input.endpoints ?? []) {
    apply({
      subject: { cluster: e.cluster, kind: "endpoints", namespace: e.namespace, name: e.name },
      event: makeEvent({ type: "io.sharedlb.endpoints.v1", source, subject: `${e.cluster}/${e.namespace}/${e.name}`, data: e }),
    });
  }
  for (const s of input.services ?? []) {
    apply({
      subject: { cluster: s.cluster, kind: "service", namespace: s.namespace, name: s.name },
      event: makeEvent({ type: "io.sharedlb.service.v1", source, subject: `${s.cluster}/${s.namespace}/${s.name}`, data: s }),
    });
  }
  for (const a of input.allocations ?? []) view.applyAllocation(a);
  const plans: PlanView[] = [];
  for (const key of [...view.allKeys()].sort()) {
    const plan = view.plan(key);
    if (plan) plans.push(plan);
  }
  return plans;
}
