import type { V1Service, V1ServicePort } from "@kubernetes/client-node";
import { shortHash } from "../fingerprint.js";

// NodePort companions: the LB side reaches tenant backends only at NodeIP:NodePort, so a
// ClusterIP backend gets a NodePort Service of the same selector and ports, one per
// backend Service, named from the backend so every route referring to it finds it.

export const COMPANION_LABEL = "sharedlb.io/companion-of";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "sharedlb-watcher";
export const COMPANION_PREFIX = "sharedlb-";

export function companionName(namespace: string, service: string): string {
  return `${COMPANION_PREFIX}${shortHash(`${namespace}/${service}`, 10)}`;
}

export function isCompanion(svc: V1Service): boolean {
  return svc.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && svc.metadata.labels[COMPANION_LABEL] !== undefined;
}

/** A ClusterIP Service (headless too) has no NodePort of its own; NodePort and LoadBalancer ones do. */
export function needsCompanion(svc: V1Service): boolean {
  const type = svc.spec?.type ?? "ClusterIP";
  return type === "ClusterIP";
}

/** A route that needs a companion; an owner only when it lives in the backend's namespace. */
export interface CompanionOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface CompanionNeed {
  namespace: string;
  service: string;
  /** Absent for a cross-namespace route: Kubernetes ignores owners in other namespaces. */
  owner?: CompanionOwner;
}

/** The companion Service wanted for a backend, from the backend's selector and ports. */
export interface CompanionSpec {
  namespace: string;
  name: string;
  backend: string;
  selector: Record<string, string>;
  ports: V1ServicePort[];
  owners: CompanionOwner[];
}

export function desiredCompanions(needs: Iterable<CompanionNeed>, backend: (ns: string, name: string) => V1Service | undefined): CompanionSpec[] {
  const byName = new Map<string, CompanionSpec>();
  for (const need of needs) {
    const svc = backend(need.namespace, need.service);
    if (!svc || !needsCompanion(svc)) continue;
    const name = companionName(need.namespace, need.service);
    let spec = byName.get(name);
    if (!spec) {
      spec = {
        namespace: need.namespace,
        name,
        backend: need.service,
        selector: { ...(svc.spec?.selector ?? {}) },
        ports: (svc.spec?.ports ?? []).map(companionPort),
        owners: [],
      };
      byName.set(name, spec);
    }
    if (need.owner && !spec.owners.some((o) => o.uid === need.owner?.uid)) spec.owners.push(need.owner);
  }
  for (const spec of byName.values()) spec.owners.sort((a, b) => a.uid.localeCompare(b.uid));
  return [...byName.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

function companionPort(p: V1ServicePort): V1ServicePort {
  const out: V1ServicePort = { port: p.port, protocol: p.protocol ?? "TCP" };
  if (p.name) out.name = p.name;
  if (p.targetPort !== undefined) out.targetPort = p.targetPort;
  if (p.appProtocol) out.appProtocol = p.appProtocol;
  return out;
}

/** True when the existing companion already has what `spec` wants (nodePorts aside). */
export function companionUpToDate(existing: V1Service, spec: CompanionSpec): boolean {
  const ports = (existing.spec?.ports ?? []).map((p) => companionPort(p));
  const owners = (existing.metadata?.ownerReferences ?? []).map((o) => o.uid).sort();
  return (
    existing.spec?.type === "NodePort" &&
    JSON.stringify(existing.spec.selector ?? {}) === JSON.stringify(spec.selector) &&
    JSON.stringify(ports) === JSON.stringify(spec.ports) &&
    JSON.stringify(owners) === JSON.stringify(spec.owners.map((o) => o.uid))
  );
}

/** The Service object for a companion; an existing one's NodePorts are kept, so they stay stable. */
export function companionObject(spec: CompanionSpec, existing?: V1Service): V1Service {
  const nodePorts = new Map((existing?.spec?.ports ?? []).map((p) => [`${p.protocol ?? "TCP"}/${p.port}`, p.nodePort]));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      namespace: spec.namespace,
      name: spec.name,
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPANION_LABEL]: spec.backend },
      ownerReferences: spec.owners.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid })),
    },
    spec: {
      type: "NodePort",
      selector: spec.selector,
      ports: spec.ports.map((p) => {
        const nodePort = nodePorts.get(`${p.protocol ?? "TCP"}/${p.port}`);
        return nodePort ? { ...p, nodePort } : p;
      }),
    },
  };
}
