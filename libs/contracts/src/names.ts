import { ContractViolation } from "./errors.js";

// RFC 1123 label: what Kubernetes requires of namespaces and Service names, and what
// sharedlb requires of cluster ids. These never contain '.', so they go into subjects as-is.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// RFC 1123 subdomain: Node, Ingress and route names may contain dots.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

export function assertDnsLabel(what: string, value: string): string {
  if (!isDnsLabel(value)) {
    throw new ContractViolation("InvalidName", `${what} "${value}" is not a DNS label (RFC 1123)`);
  }
  return value;
}

export function assertDnsSubdomain(what: string, value: string): string {
  if (!isDnsSubdomain(value)) {
    throw new ContractViolation(
      "InvalidName",
      `${what} "${value}" is not a DNS subdomain (RFC 1123)`,
    );
  }
  return value;
}

/**
 * Subject token for a name that may contain dots. Kubernetes names never contain '_',
 * so replacing '.' by '_' is reversible.
 */
export function dottedNameToToken(name: string): string {
  return name.replaceAll(".", "_");
}

export function tokenToDottedName(token: string): string {
  return token.replaceAll("_", ".");
}

/**
 * Subject token for free-form ids that are not Kubernetes names (Envoy node ids, fleet
 * names). Anything NATS treats specially or that is not a plain word character becomes
 * '_'. Not reversible: the exact id is always carried in the event data.
 */
export function freeFormToToken(value: string): string {
  const token = value.replace(/[^A-Za-z0-9_-]/g, "_");
  return token.length > 0 ? token : "_";
}

/** The key that names one tenant object everywhere: `<cluster>/<namespace>/<name>`. */
export function objectKey(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

export interface ObjectRef {
  cluster: string;
  namespace: string;
  name: string;
}

export function parseObjectKey(key: string): ObjectRef {
  const parts = key.split("/");
  const [cluster, namespace, name] = parts;
  if (parts.length !== 3 || !cluster || !namespace || !name) {
    throw new ContractViolation(
      "InvalidName",
      `"${key}" is not of the form <cluster>/<namespace>/<name>`,
    );
  }
  assertDnsLabel("cluster", cluster);
  assertDnsLabel("namespace", namespace);
  assertDnsSubdomain("name", name);
  return { cluster, namespace, name };
}
