import { google, type MessageType } from "@sharedlb/envoy-api";

// google.protobuf.Any.value is field 2, length-delimited.
const ANY_VALUE_TAG = (2 << 3) | 2;

/**
 * Encodes `message` straight into the value of a google.protobuf.Any, in one pass: the
 * same bytes as wrapping a separately encoded message, without encoding it into one
 * buffer and copying it into another (at 30,000 resources that copy and its garbage were
 * a third of a full build). Resources are never empty messages, the one case where
 * protobufjs would omit the value field and the bytes would differ.
 */
export function encodeAsAny<P>(typeUrl: string, type: MessageType<P>, message: P): Uint8Array {
  return encodeAnyWith(typeUrl, (w) => type.encode(message, w));
}

/** protobufjs's Writer. */
export type ProtoWriter = ReturnType<MessageType<unknown>["encode"]>;

/** An Any whose value `write` writes field by field (spliced from encoded pieces). */
export function encodeAnyWith(typeUrl: string, write: (w: ProtoWriter) => void): Uint8Array {
  const w = google.protobuf.Any.encode({ type_url: typeUrl });
  w.uint32(ANY_VALUE_TAG).fork();
  write(w);
  return w.ldelim().finish();
}

/** The message bytes inside an encoded Any. */
export function anyValue(any: Uint8Array): Uint8Array {
  return google.protobuf.Any.decode(any).value ?? new Uint8Array();
}
