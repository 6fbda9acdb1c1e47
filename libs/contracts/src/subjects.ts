import { ContractViolation } from "./errors.js";
import { L7_ALLOCATION_KINDS, type L7AllocationKind } from "./l7-allocation.js";
import {
  assertDnsLabel,
  assertDnsSubdomain,
  dottedNameToToken,
  freeFormToToken,
  tokenToDottedName,
} from "./names.js";
import type { ProgrammedKind } from "./programmed.js";

/** Layer 7 kinds, each with its own token, so an Ingress and an HTTPRoute never share a subject. */
export const L7_RESOURCE_KINDS = ["ingress", "gateway", "httproute", "grpcroute", "tlsroute", "secret"] as const;
export type L7ResourceKind = (typeof L7_RESOURCE_KINDS)[number];

/** Kinds of tenant state the watcher publishes under `lb.resource.<cluster>.<kind>.…`. */
export const RESOURCE_KINDS = ["service", "node", "endpoints", ...L7_RESOURCE_KINDS] as const;
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
  /** `lb.resource.<cluster>.<kind>.<namespace>.<name>` for an Ingress, Gateway, route or Secret. */
  l7Resource(cluster: string, kind: L7ResourceKind, namespace: string, name: string): string {
    return `lb.resource.${label("cluster", cluster)}.${l7Kind(kind)}.${label("namespace", namespace)}.${dotted(`${kind} name`, name)}`;
  },
  allocation(cluster: string, namespace: string, name: string): string {
    return `lb.allocation.${label("cluster", cluster)}.${label("namespace", namespace)}.${label("service name", name)}`;
  },
  /** One token more than a Service's, so `lb.allocation.*.*.*` still means Services only. */
  l7Allocation(cluster: string, namespace: string, name: string, kind: L7AllocationKind): string {
    if (!isL7AllocationKind(kind)) throw new ContractViolation("InvalidName", `"${kind}" is not an L7 allocation kind`);
    return `lb.allocation.${label("cluster", cluster)}.${label("namespace", namespace)}.${dotted(`${kind} name`, name)}.${kind}`;
  },
  /** `lb.programmed.<cluster>.<namespace>.<name>[.<kind>]`: no kind token for a Service. */
  programmed(cluster: string, namespace: string, name: string, kind: ProgrammedKind = "service"): string {
    const base = `lb.programmed.${label("cluster", cluster)}.${label("namespace", namespace)}`;
    if (kind === "service") return `${base}.${label("service name", name)}`;
    if (!isL7AllocationKind(kind)) throw new ContractViolation("InvalidName", `"${kind}" is not a programmed kind`);
    return `${base}.${dotted(`${kind} name`, name)}.${kind}`;
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
  /** Service allocations only (L7 allocations have one token more). */
  serviceAllocations: "lb.allocation.*.*.*",
  clusterAllocations: (cluster: string) => `lb.allocation.${label("cluster", cluster)}.>`,
  programmed: "lb.programmed.>",
  clusterProgrammed: (cluster: string) => `lb.programmed.${label("cluster", cluster)}.>`,
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
  return withSubject(subject, () => {
    assertDnsLabel("cluster", cluster);
    if (kind === "node" && t.length === 5) {
      const name = assertDnsSubdomain("node name", tokenToDottedName(t[4] ?? ""));
      return { cluster, kind, namespace: "", name };
    }
    if ((kind === "service" || kind === "endpoints") && t.length === 6) {
      const namespace = assertDnsLabel("namespace", t[4] ?? "");
      return { cluster, kind, namespace, name: assertDnsLabel("service name", t[5] ?? "") };
    }
    if (isL7ResourceKind(kind) && t.length === 6) {
      const namespace = assertDnsLabel("namespace", t[4] ?? "");
      return { cluster, kind, namespace, name: assertDnsSubdomain(`${kind} name`, tokenToDottedName(t[5] ?? "")) };
    }
    throw new ContractViolation("InvalidSubject", `"${subject}" is not a resource subject`);
  });
}

export interface AllocationSubject {
  cluster: string;
  namespace: string;
  name: string;
  /** `service` for a Service's allocation (no kind token), else the L7 object's kind. */
  kind: "service" | L7AllocationKind;
}

/** True when the subject is a Service's allocation (not an L7 one); it does not validate. */
export function isServiceAllocationSubject(subject: string): boolean {
  return subject.split(".").length === 5;
}

export function parseAllocationSubject(subject: string): AllocationSubject {
  const t = subject.split(".");
  if ((t.length !== 5 && t.length !== 6) || t[0] !== "lb" || t[1] !== "allocation") {
    throw new ContractViolation("InvalidSubject", `"${subject}" is not an allocation subject`);
  }
  return withSubject(subject, () => parseObjectTokens(t, "allocation"));
}

/** The kinds coincide: every L7 object with an allocation may be reported programmed. */
export type ProgrammedSubject = AllocationSubject & { kind: ProgrammedKind };

export function parseProgrammedSubject(subject: string): ProgrammedSubject {
  const t = subject.split(".");
  if ((t.length !== 5 && t.length !== 6) || t[0] !== "lb" || t[1] !== "programmed") {
    throw new ContractViolation("InvalidSubject", `"${subject}" is not a programmed subject`);
  }
  return withSubject(subject, () => parseObjectTokens(t, "programmed"));
}

export function isL7ResourceKind(kind: string): kind is L7ResourceKind {
  return (L7_RESOURCE_KINDS as readonly string[]).includes(kind);
}

/**
 * `lb.<what>.<cluster>.<namespace>.<name>` is a Service; one more token names the L7 kind
 * (and the name may then contain dots, as `_`).
 */
function parseObjectTokens(t: readonly string[], what: string): AllocationSubject {
  const [, , cluster = "", namespace = "", nameToken = ""] = t;
  assertDnsLabel("cluster", cluster);
  assertDnsLabel("namespace", namespace);
  if (t.length === 5) return { cluster, namespace, name: assertDnsLabel("service name", nameToken), kind: "service" };
  const kind = t[5] ?? "";
  if (!isL7AllocationKind(kind)) throw new ContractViolation("InvalidSubject", `"${kind}" is not an L7 ${what} kind`);
  return { cluster, namespace, name: assertDnsSubdomain(`${kind} name`, tokenToDottedName(nameToken)), kind };
}

function isL7AllocationKind(kind: string): kind is L7AllocationKind {
  return (L7_ALLOCATION_KINDS as readonly string[]).includes(kind);
}

/** Runs a parse and re-labels a name error as an error of the whole subject. */
function withSubject<T>(subject: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ContractViolation && err.reason !== "InvalidSubject") {
      throw new ContractViolation("InvalidSubject", `"${subject}": ${err.message}`);
    }
    throw err;
  }
}

function l7Kind(kind: string): string {
  if (!isL7ResourceKind(kind)) throw new ContractViolation("InvalidName", `"${kind}" is not an L7 resource kind`);
  return kind;
}

function label(what: string, value: string): string {
  return assertDnsLabel(what, value);
}

function dotted(what: string, value: string): string {
  return dottedNameToToken(assertDnsSubdomain(what, value));
}
