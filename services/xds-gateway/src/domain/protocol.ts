import type { ResourceTypeUrl } from "@sharedlb/envoy-api";

/** google.rpc.Status of a NACK, as Envoy sends it. */
export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

/** What a request meant, for events, metrics and logs. */
export type RequestOutcome =
  | { readonly kind: "initial"; readonly typeUrl: ResourceTypeUrl }
  | { readonly kind: "ack"; readonly typeUrl: ResourceTypeUrl; readonly version: string }
  | { readonly kind: "nack"; readonly typeUrl: ResourceTypeUrl; readonly version: string; readonly error: ErrorDetail }
  /** Answers a response that has since been superseded: ignored. */
  | { readonly kind: "stale"; readonly typeUrl: ResourceTypeUrl }
  /** A subscription change that acknowledges nothing. */
  | { readonly kind: "update"; readonly typeUrl: ResourceTypeUrl };

/** Rejected versions a stream remembers, so it never sends one again. */
export const NACK_MEMORY = 16;

export function remember<T>(list: T[], item: T, max = NACK_MEMORY): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
