import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type CloudEvent, type DeadLetter, encodeEvent, makeEvent, subjects } from "@sharedlb/contracts";

/** The message a dead letter is about. */
export interface RejectedMessage {
  subject: string;
  data: Uint8Array;
  /** Its stream sequence: with it every replica's dead letter for the message has one id. */
  seq?: number;
}

/** Room left in max_payload for the publish's headers (Nats-Msg-Id, …). */
const HEADER_ALLOWANCE = 4096;
/** How much of an oversized payload a dead letter still shows. */
const EXCERPT_BYTES = 16 * 1024;

/**
 * Builds the dead letter for `original`. When the raw payload would not fit `maxBytes`
 * (JSON escaping of control bytes grows it up to 6×, base64 by 4/3), the dead letter
 * carries a summary instead: the payload's size and sha256 and its first bytes.
 */
export function deadLetterEvent(
  service: string,
  replica: string,
  original: RejectedMessage,
  reason: string,
  message: string,
  maxBytes: number,
): { event: CloudEvent<"io.sharedlb.deadletter.v1">; bytes: Uint8Array } {
  const text = strictUtf8(original.data);
  const full: DeadLetter = {
    service,
    subject: original.subject.slice(0, 1024),
    reason: reason.slice(0, 64),
    message: message.slice(0, 4096),
    payload: text ?? Buffer.from(original.data).toString("base64"),
    payloadEncoding: text === undefined ? "base64" : "utf8",
    ...(original.seq !== undefined ? { streamSequence: original.seq } : {}),
  };
  const build = (data: DeadLetter) => {
    const event = makeEvent({
      type: "io.sharedlb.deadletter.v1",
      source: `sharedlb/${service}/${replica}`,
      // Every replica of a service that replays a stream meets the same bad message: one id
      // per (service, subject, sequence) lets JetStream keep one dead letter, not one each.
      ...(original.seq !== undefined ? { id: `deadletter:${service}:${original.subject}:${original.seq}` } : {}),
      subject: original.subject,
      data,
    });
    return { event, bytes: encodeEvent(event) };
  };
  const whole = build(full);
  if (whole.bytes.length + HEADER_ALLOWANCE <= maxBytes) return whole;
  return build({
    ...full,
    payload: Buffer.from(original.data.subarray(0, EXCERPT_BYTES)).toString("base64"),
    payloadEncoding: "base64",
    payloadTruncated: true,
    payloadBytes: original.data.length,
    payloadSha256: createHash("sha256").update(original.data).digest("hex"),
  });
}

/** Publishes dead letters on `lb.deadletter.<service>`, always within the server's max_payload. */
export class DeadLetterPublisher {
  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    readonly service: string,
    private readonly replica: string,
  ) {}

  async publish(original: RejectedMessage, reason: string, message: string): Promise<void> {
    // The connected server's limit (1 MiB by default; the manifests set 8 MiB).
    const maxBytes = this.nc.info?.max_payload ?? 1024 * 1024;
    const { event, bytes } = deadLetterEvent(this.service, this.replica, original, reason, message, maxBytes);
    await this.js.publish(subjects.deadletter(this.service), bytes, { msgID: event.id });
  }
}

function strictUtf8(data: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}
