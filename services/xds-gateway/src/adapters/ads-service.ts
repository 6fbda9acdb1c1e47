import type { ServiceDefinition } from "@grpc/grpc-js";
import { AggregatedDiscoveryService, type DeltaDiscoveryRequest, envoy } from "@sharedlb/envoy-api";
import { MalformedMessage, readDiscoveryRequest } from "../domain/sotw-wire.js";

function readDeltaDiscoveryRequest(bytes: Buffer): DeltaDiscoveryRequest | MalformedMessage {
  try {
    return envoy.service.discovery.v3.DeltaDiscoveryRequest.decode(bytes);
  } catch (err) {
    return new MalformedMessage(err instanceof Error ? err.message : String(err));
  }
}

/**
 * The ADS service as the gateway serves it. Requests are read by deserializers that
 * never throw: grpc-js answers a throwing one with INTERNAL ("Error deserializing
 * request"), while a client that sent bad bytes should learn it from INVALID_ARGUMENT
 * naming what was wrong, which the stream sends when it sees the MalformedMessage.
 * SotW requests are read without decoding resource names (see readDiscoveryRequest).
 */
export const ADS_SERVICE = {
  StreamAggregatedResources: {
    ...AggregatedDiscoveryService.StreamAggregatedResources,
    requestDeserialize: readDiscoveryRequest,
  },
  DeltaAggregatedResources: {
    ...AggregatedDiscoveryService.DeltaAggregatedResources,
    requestDeserialize: readDeltaDiscoveryRequest,
  },
} satisfies ServiceDefinition;
