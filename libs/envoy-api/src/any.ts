import type { Reader, Writer } from "protobufjs/minimal.js";
import { google } from "../generated/envoy.js";

/**
 * The part of a pbjs static message class that the helpers need. Every
 * generated class (e.g. `envoy.config.listener.v3.Listener`) satisfies it.
 */
export interface MessageType<Props, Decoded extends Props = Props> {
  encode(message: Props, writer?: Writer): Writer;
  decode(reader: Reader | Uint8Array, length?: number): Decoded;
  getTypeUrl(prefix?: string): string;
}

/** Encodes one message to bytes (a Buffer under Node). */
export function encodeMessage<Props>(type: MessageType<Props>, message: Props): Uint8Array {
  return type.encode(message).finish();
}

/**
 * Wraps already-encoded bytes in a `google.protobuf.Any`.
 *
 * pbjs takes google.protobuf.Any from protobufjs' bundled definition, which
 * keeps the proto field name `type_url` (every other field in this package is
 * camelCase). An object literal with `typeUrl` compiles only where excess
 * property checks do not apply and is then silently not encoded, so
 * construct Anys through this helper (or `packAny`) rather than by hand.
 */
export function toAny(typeUrl: string, value: Uint8Array): google.protobuf.Any {
  return google.protobuf.Any.create({ type_url: typeUrl, value });
}

/** Encodes `message` and wraps it in an Any with the type's own type URL. */
export function packAny<Props>(type: MessageType<Props>, message: Props): google.protobuf.Any {
  return toAny(type.getTypeUrl(), encodeMessage(type, message));
}

/**
 * Decodes the payload of `any` as `type`, or returns undefined when the Any
 * holds a different type (type URLs are compared after the last "/", so a
 * non-default prefix still matches, as in Envoy).
 */
export function unpackAny<Props, Decoded extends Props>(
  type: MessageType<Props, Decoded>,
  any: google.protobuf.Any.$Properties | null | undefined,
): Decoded | undefined {
  if (!any?.type_url || typeNameOf(any.type_url) !== typeNameOf(type.getTypeUrl())) return undefined;
  return type.decode(any.value ?? new Uint8Array(0));
}

/** The fully-qualified message name in a type URL. */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/**
 * Encoded bytes of a whole `google.protobuf.Any` message (not just its
 * payload). A server that caches these per resource version can assemble a
 * DiscoveryResponse without re-encoding anything, see
 * `encodeDiscoveryResponse` in ads.ts.
 */
export function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return google.protobuf.Any.encode(toAny(typeUrl, value)).finish();
}
