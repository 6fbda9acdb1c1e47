import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { ResourceEntry } from "./resource-entry.js";

/** google.rpc.Status of a NACK, as Envoy sends it. */
export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

/** What a request meant, for events, metrics and logs. */
export type RequestOutcome =
  | { readonly kind: "initial"; readonly typeUrl: ResourceTypeUrl }
  /** `entries`: the resources of the response answered. */
  | { readonly kind: "ack"; readonly typeUrl: ResourceTypeUrl; readonly version: string; readonly entries: readonly ResourceEntry[] }
  | {
      readonly kind: "nack";
      readonly typeUrl: ResourceTypeUrl;
      readonly version: string;
      readonly error: ErrorDetail;
      readonly entries: readonly ResourceEntry[];
    }
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

/** Told when a client turns out to hold resources it was not sent on this stream (a reconnect naming them). */
export type HeldListener = (entries: readonly ResourceEntry[]) => void;
