import type { ServiceDefinition } from "@grpc/grpc-js";
import { AggregatedDiscoveryService } from "@sharedlb/envoy-api";
import { readDeltaDiscoveryRequest } from "../domain/delta-wire.js";
import type { KnownNameLists } from "../domain/known-name-lists.js";
import { readDiscoveryRequest } from "../domain/sotw-wire.js";

/**
 * The ADS service as the gateway serves it. Requests are read by deserializers that
 * never throw: grpc-js answers a throwing one with INTERNAL ("Error deserializing
 * request"), while a client that sent bad bytes should learn it from INVALID_ARGUMENT
 * naming what was wrong, which the stream sends when it sees the MalformedMessage.
 * SotW requests are read without decoding resource names, and name lists the
 * subscriptions know without walking them (see readDiscoveryRequest); delta requests
 * read initial_resource_versions straight into a Map (readDeltaDiscoveryRequest).
 */
export function adsService(known: KnownNameLists) {
  return {
    StreamAggregatedResources: {
      ...AggregatedDiscoveryService.StreamAggregatedResources,
      requestDeserialize: (bytes: Buffer) => readDiscoveryRequest(bytes, known),
    },
    DeltaAggregatedResources: {
      ...AggregatedDiscoveryService.DeltaAggregatedResources,
      requestDeserialize: readDeltaDiscoveryRequest,
    },
  } satisfies ServiceDefinition;
}
