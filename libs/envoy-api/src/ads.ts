import type { handleBidiStreamingCall, MethodDefinition, ServerDuplexStream } from "@grpc/grpc-js";
import { envoy } from "../generated/envoy.js";

import DiscoveryRequestType = envoy.service.discovery.v3.DiscoveryRequest;
import DiscoveryResponseType = envoy.service.discovery.v3.DiscoveryResponse;
import DeltaDiscoveryRequestType = envoy.service.discovery.v3.DeltaDiscoveryRequest;
import DeltaDiscoveryResponseType = envoy.service.discovery.v3.DeltaDiscoveryResponse;

/** A decoded request as the server receives it. */
export type DiscoveryRequest = DiscoveryRequestType & DiscoveryRequestType.$Shape;
export type DeltaDiscoveryRequest = DeltaDiscoveryRequestType & DeltaDiscoveryRequestType.$Shape;
/** A decoded response as a client (or a test) receives it. */
export type DiscoveryResponse = DiscoveryResponseType & DiscoveryResponseType.$Shape;
export type DeltaDiscoveryResponse = DeltaDiscoveryResponseType & DeltaDiscoveryResponseType.$Shape;

/**
 * What the server may write to a stream: either a message to encode, or the
 * bytes of an already-encoded response (see `encodeDiscoveryResponse`), which
 * are handed to gRPC without another copy.
 */
export type DiscoveryResponseOut = DiscoveryResponseType.$Properties | Uint8Array;
export type DeltaDiscoveryResponseOut = DeltaDiscoveryResponseType.$Properties | Uint8Array;

// DiscoveryResponse.resources and DeltaDiscoveryResponse.resources are both
// field 2, length-delimited: tag = (2 << 3) | 2.
const RESOURCES_FIELD_TAG = 18;

/** Fields of a DiscoveryResponse other than `resources`. */
export type DiscoveryResponseHead = Omit<DiscoveryResponseType.$Properties, "resources">;
/** Fields of a DeltaDiscoveryResponse other than `resources`. */
export type DeltaDiscoveryResponseHead = Omit<DeltaDiscoveryResponseType.$Properties, "resources">;

/**
 * Encodes a DiscoveryResponse whose resources are already encoded
 * `google.protobuf.Any` messages (from `encodeAny`). Only the head fields are
 * encoded here; each resource costs one tag, one length and one memcpy.
 *
 * The resources are appended after the head fields. Protobuf parsers accept
 * fields in any order and concatenate repeated fields, so this is the same
 * message as one with the resources in field order.
 */
export function encodeDiscoveryResponse(head: DiscoveryResponseHead, encodedAnys: readonly Uint8Array[]): Buffer {
  return framedMessage(DiscoveryResponseType.encode(head).finish(), encodedAnys);
}

/**
 * Delta variant of `encodeDiscoveryResponse`: each element is an encoded
 * `envoy.service.discovery.v3.Resource` (name, version and the Any), which a
 * server can cache per resource version just like the SotW Any bytes.
 */
export function encodeDeltaDiscoveryResponse(head: DeltaDiscoveryResponseHead, encodedResources: readonly Uint8Array[]): Buffer {
  return framedMessage(DeltaDiscoveryResponseType.encode(head).finish(), encodedResources);
}

/**
 * The property of a serialized message that holds the same message with its 5-byte gRPC
 * prefix in front (patches/@grpc__grpc-js@1.14.7.patch): grpc-js then writes that buffer
 * as is, where it would otherwise copy the message into a new framed buffer for every
 * call. After a node flap one 240 KB response goes to every Envoy of a fleet: 100 copies
 * (24 MB of short-lived buffers, and the full garbage collection they set off) per change.
 */
const FRAMED_MESSAGE = Symbol.for("@grpc/grpc-js.framedMessage");

/**
 * `head`, then each of `resources` as field 2 (length-delimited), written once into a
 * buffer that starts with the gRPC message prefix; returns the message part (a view),
 * which knows its framed buffer.
 */
function framedMessage(head: Uint8Array, resources: readonly Uint8Array[]): Buffer {
  let length = head.byteLength;
  for (const r of resources) length += 1 + varintSize(r.byteLength) + r.byteLength;
  const framed = Buffer.allocUnsafe(length + 5);
  framed[0] = 0; // not compressed
  framed.writeUInt32BE(length, 1);
  framed.set(head, 5);
  let at = 5 + head.byteLength;
  for (const r of resources) {
    framed[at++] = RESOURCES_FIELD_TAG;
    for (let n = r.byteLength; ; n >>>= 7) {
      if (n < 0x80) {
        framed[at++] = n;
        break;
      }
      framed[at++] = (n & 0x7f) | 0x80;
    }
    framed.set(r, at);
    at += r.byteLength;
  }
  const message = framed.subarray(5);
  Object.defineProperty(message, FRAMED_MESSAGE, { value: framed });
  return message;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

/** Encodes one `envoy.service.discovery.v3.Resource` for the delta protocol. */
export function encodeDeltaResource(resource: envoy.service.discovery.v3.Resource.$Properties): Uint8Array {
  return envoy.service.discovery.v3.Resource.encode(resource).finish();
}

// grpc-js wants Buffers; protobufjs already returns one under Node, and any
// other Uint8Array is wrapped without copying.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function serializeResponse(value: DiscoveryResponseOut): Buffer {
  return value instanceof Uint8Array ? asBuffer(value) : asBuffer(DiscoveryResponseType.encode(value).finish());
}

function serializeDeltaResponse(value: DeltaDiscoveryResponseOut): Buffer {
  return value instanceof Uint8Array ? asBuffer(value) : asBuffer(DeltaDiscoveryResponseType.encode(value).finish());
}

export const STREAM_AGGREGATED_RESOURCES_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
export const DELTA_AGGREGATED_RESOURCES_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/**
 * A type alias rather than an interface so it stays assignable to grpc-js'
 * index-signature `ServiceDefinition` in `server.addService()`.
 *
 * One ResponseType serves both directions in grpc-js: servers write
 * `DiscoveryResponseOut`, and `responseDeserialize` (client side) returns a
 * decoded `DiscoveryResponse`, which is a member of that union.
 */
export type AggregatedDiscoveryServiceDefinition = {
  readonly StreamAggregatedResources: MethodDefinition<DiscoveryRequestType.$Properties, DiscoveryResponseOut>;
  readonly DeltaAggregatedResources: MethodDefinition<DeltaDiscoveryRequestType.$Properties, DeltaDiscoveryResponseOut>;
};

/** `envoy.service.discovery.v3.AggregatedDiscoveryService` for grpc-js. */
export const AggregatedDiscoveryService: AggregatedDiscoveryServiceDefinition = {
  StreamAggregatedResources: {
    path: STREAM_AGGREGATED_RESOURCES_PATH,
    requestStream: true,
    responseStream: true,
    // Same alias @grpc/proto-loader sets, so generic clients get both spellings.
    originalName: "streamAggregatedResources",
    requestSerialize: (value) => asBuffer(DiscoveryRequestType.encode(value).finish()),
    requestDeserialize: (bytes): DiscoveryRequest => DiscoveryRequestType.decode(bytes),
    responseSerialize: serializeResponse,
    responseDeserialize: (bytes): DiscoveryResponse => DiscoveryResponseType.decode(bytes),
  },
  DeltaAggregatedResources: {
    path: DELTA_AGGREGATED_RESOURCES_PATH,
    requestStream: true,
    responseStream: true,
    originalName: "deltaAggregatedResources",
    requestSerialize: (value) => asBuffer(DeltaDiscoveryRequestType.encode(value).finish()),
    requestDeserialize: (bytes): DeltaDiscoveryRequest => DeltaDiscoveryRequestType.decode(bytes),
    responseSerialize: serializeDeltaResponse,
    responseDeserialize: (bytes): DeltaDiscoveryResponse => DeltaDiscoveryResponseType.decode(bytes),
  },
};

/**
 * Server-side stream types. The request side is what requestDeserialize
 * returns; the write side accepts messages or pre-encoded bytes.
 */
export type AdsStream = ServerDuplexStream<DiscoveryRequest, DiscoveryResponseOut>;
export type DeltaAdsStream = ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponseOut>;

/** Handler map to pass with `AggregatedDiscoveryService` to `server.addService()`. */
export type AggregatedDiscoveryServiceHandlers = {
  StreamAggregatedResources: handleBidiStreamingCall<DiscoveryRequest, DiscoveryResponseOut>;
  DeltaAggregatedResources: handleBidiStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponseOut>;
};
