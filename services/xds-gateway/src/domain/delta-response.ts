import { encodeDeltaDiscoveryResponse, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { ResourceEntry } from "./resource-entry.js";

/** One DeltaDiscoveryResponse, encoded on first use; a shared one is encoded once for all its streams. */
export class DeltaResponse {
  private body: Buffer | undefined;

  constructor(
    readonly typeUrl: ResourceTypeUrl,
    readonly nonce: string,
    readonly systemVersion: string,
    readonly resources: readonly ResourceEntry[],
    readonly removed: readonly string[],
  ) {}

  bytes(): Buffer {
    this.body ??= encodeDeltaDiscoveryResponse(
      { systemVersionInfo: this.systemVersion, typeUrl: this.typeUrl, nonce: this.nonce, removedResources: [...this.removed] },
      this.resources.map((e) => e.deltaResource()),
    );
    return this.body;
  }
}

/**
 * The first sync of one scope (wildcard or not, one interned set of names) at one
 * generation of a type, cut into responses. Every stream that starts a first sync of
 * that scope without initial_resource_versions needs exactly these, so they are built
 * and encoded once (nonces included) and written to each of them.
 */
export class SharedFirstSync {
  constructor(
    readonly generation: number,
    readonly responses: readonly DeltaResponse[],
  ) {}
}
