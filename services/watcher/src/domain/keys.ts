import { L7_RESOURCE_KINDS, type L7ResourceKind, objectKey, parseResourceSubject, subjects } from "@sharedlb/contracts";

/** The kinds this watcher owns under `lb.resource.<cluster>.…`: L4 state and the L7 objects. */
export const WATCHED_KINDS = ["service", "node", "endpoints", ...L7_RESOURCE_KINDS] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];
export type L7Kind = L7ResourceKind;

export function isL7Kind(kind: WatchedKind): kind is L7Kind {
  return (L7_RESOURCE_KINDS as readonly string[]).includes(kind);
}

export interface ResourceRef {
  kind: WatchedKind;
  /** Empty for nodes. */
  namespace: string;
  name: string;
}

/** Work-queue key: `kind/namespace/name` (namespace empty for nodes). */
export function refKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function parseRefKey(key: string): ResourceRef {
  const [kind = "", namespace = "", ...rest] = key.split("/");
  if (!isWatchedKind(kind) || rest.length !== 1) throw new Error(`"${key}" is not a watcher key`);
  return { kind, namespace, name: rest[0] as string };
}

export function isWatchedKind(kind: string): kind is WatchedKind {
  return (WATCHED_KINDS as readonly string[]).includes(kind);
}

export function refSubject(cluster: string, ref: ResourceRef): string {
  switch (ref.kind) {
    case "service":
      return subjects.service(cluster, ref.namespace, ref.name);
    case "endpoints":
      return subjects.endpoints(cluster, ref.namespace, ref.name);
    case "node":
      return subjects.node(cluster, ref.name);
    default:
      return subjects.l7Resource(cluster, ref.kind, ref.namespace, ref.name);
  }
}

/** The CloudEvent `subject`: `<cluster>/<namespace>/<name>`. */
export function refEventSubject(cluster: string, ref: ResourceRef): string {
  return objectKey(cluster, ref.namespace, ref.name);
}

/** A resource subject of this cluster and a kind this watcher owns, else undefined. */
export function refFromSubject(cluster: string, subject: string): ResourceRef | undefined {
  let parsed: ReturnType<typeof parseResourceSubject>;
  try {
    parsed = parseResourceSubject(subject);
  } catch {
    return undefined;
  }
  if (parsed.cluster !== cluster || !isWatchedKind(parsed.kind)) return undefined;
  return { kind: parsed.kind, namespace: parsed.namespace, name: parsed.name };
}
