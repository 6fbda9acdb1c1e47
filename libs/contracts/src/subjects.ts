import { ContractViolation } from "./errors.js";
import {
  assertDnsLabel,
  assertDnsSubdomain,
  dottedNameToToken,
  freeFormToToken,
  tokenToDottedName,
} from "./names.js";

/** Kinds of tenant state the watcher publishes under `lb.resource.<cluster>.<kind>.…`. */
export const RESOURCE_KINDS = ["service", "node", "endpoints", "route"] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const SUBJECT_ROOT = "lb";

export const subjects = {
  service(cluster: string, namespace: string, name: string): string {
    return `lb.resource.${label("cluster", cluster)}.service.${label("namespace", namespace)}.${label("service name", name)}`;
  },
  node(cluster: string, node: string): string {
    return `lb.resource.${label("cluster", cluster)}.node.${dotted("node name", node)}`;
  },
  endpoints(cluster: string, namespace: string, name: string): string {
    return `lb.resource.${label("cluster", cluster)}.endpoints.${label("namespace", namespace)}.${label("service name", name)}`;
  },
  route(cluster: string, namespace: string, name: string): string {
    return `lb.resource.${label("cluster", cluster)}.route.${label("namespace", namespace)}.${dotted("route name", name)}`;
  },
  allocation(cluster: string, namespace: string, name: string): string {
    return `lb.allocation.${label("cluster", cluster)}.${label("namespace", namespace)}.${label("service name", name)}`;
  },
  status(cluster: string, namespace: string, name: string): string {
    return `lb.status.${label("cluster", cluster)}.${label("namespace", namespace)}.${dotted("object name", name)}`;
  },
  xds(fleet: string, node: string): string {
    return `lb.xds.${freeFormToToken(fleet)}.${freeFormToToken(node)}`;
  },
  deadletter(service: string): string {
    return `lb.deadletter.${freeFormToToken(service)}`;
  },
} as const;

/** Filters for consumers. */
export const filters = {
  everything: "lb.>",
  resources: "lb.resource.>",
  clusterResources: (cluster: string) => `lb.resource.${label("cluster", cluster)}.>`,
  services: "lb.resource.*.service.>",
  allocations: "lb.allocation.>",
  clusterAllocations: (cluster: string) => `lb.allocation.${label("cluster", cluster)}.>`,
  status: "lb.status.>",
  xds: "lb.xds.>",
  deadletters: "lb.deadletter.>",
} as const;

export interface ResourceSubject {
  cluster: string;
  kind: ResourceKind;
  /** Empty for cluster-scoped kinds (node). */
  namespace: string;
  name: string;
}

/** Parses `lb.resource.…`; the inverse of the `subjects.*` resource builders. */
export function parseResourceSubject(subject: string): ResourceSubject {
  const t = subject.split(".");
  if (t[0] !== "lb" || t[1] !== "resource" || t.length < 5) {
    throw new ContractViolation("InvalidSubject", `"${subject}" is not a resource subject`);
  }
  const cluster = t[2] ?? "";
  const kind = t[3] ?? "";
  try {
    assertDnsLabel("cluster", cluster);
    if (kind === "node" && t.length === 5) {
      const name = tokenToDottedName(t[4] ?? "");
      assertDnsSubdomain("node name", name);
      return { cluster, kind, namespace: "", name };
    }
    if ((kind === "service" || kind === "endpoints" || kind === "route") && t.length === 6) {
      const namespace = assertDnsLabel("namespace", t[4] ?? "");
      const name = tokenToDottedName(t[5] ?? "");
      if (kind === "route") assertDnsSubdomain("route name", name);
      else assertDnsLabel("service name", name);
      return { cluster, kind, namespace, name };
    }
  } catch (err) {
    if (err instanceof ContractViolation) {
      throw new ContractViolation("InvalidSubject", `"${subject}": ${err.message}`);
    }
    throw err;
  }
  throw new ContractViolation("InvalidSubject", `"${subject}" is not a resource subject`);
}

export interface AllocationSubject {
  cluster: string;
  namespace: string;
  name: string;
}

export function parseAllocationSubject(subject: string): AllocationSubject {
  const t = subject.split(".");
  if (t.length !== 5 || t[0] !== "lb" || t[1] !== "allocation") {
    throw new ContractViolation("InvalidSubject", `"${subject}" is not an allocation subject`);
  }
  const [, , cluster = "", namespace = "", name = ""] = t;
  try {
    assertDnsLabel("cluster", cluster);
    assertDnsLabel("namespace", namespace);
    assertDnsLabel("service name", name);
  } catch (err) {
    if (err instanceof ContractViolation) {
      throw new ContractViolation("InvalidSubject", `"${subject}": ${err.message}`);
    }
    throw err;
  }
  return { cluster, namespace, name };
}

function label(what: string, value: string): string {
  return assertDnsLabel(what, value);
}

function dotted(what: string, value: string): string {
  return dottedNameToToken(assertDnsSubdomain(what, value));
}
