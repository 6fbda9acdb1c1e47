import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, type ResourceTypeUrl, ROUTE_TYPE, SECRET_TYPE } from "@sharedlb/envoy-api";

/**
 * Make-before-break: a cluster exists (and has endpoints) before a listener points at
 * it, a certificate before the listener that terminates TLS with it, and a listener
 * before the route configuration it loads.
 */
export const PUSH_ORDER: readonly ResourceTypeUrl[] = [CLUSTER_TYPE, ENDPOINT_TYPE, SECRET_TYPE, LISTENER_TYPE, ROUTE_TYPE];

/** Types where an empty first request means "everything" (legacy wildcard). */
export const WILDCARD_TYPES: ReadonlySet<ResourceTypeUrl> = new Set([LISTENER_TYPE, CLUSTER_TYPE]);

/** Short names for logs, metric labels and events. */
export const TYPE_LABELS: Readonly<Record<ResourceTypeUrl, string>> = {
  [LISTENER_TYPE]: "lds",
  [CLUSTER_TYPE]: "cds",
  [ENDPOINT_TYPE]: "eds",
  [ROUTE_TYPE]: "rds",
  [SECRET_TYPE]: "sds",
};
