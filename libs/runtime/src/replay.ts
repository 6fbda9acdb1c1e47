import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";

/**
 * Reads the last message of every subject under `filter` in a last-value stream, up to
 * the moment of the call, with an ephemeral ordered consumer (nothing to ack, nothing left
 * behind). Messages published meanwhile may or may not be included. Returns the count.
 */
export async function replayLastValues(
  js: JetStreamClient,
  stream: string,
  filter: string,
  onMessage: (m: JsMsg) => void,
): Promise<number> {
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.LastPerSubject });
  const info = await consumer.info(true);
  if (info.num_pending === 0) {
    await consumer.delete().catch(() => undefined);
    return 0;
  }
  let n = 0;
  let complete = false;
  const messages = await consumer.consume({ max_messages: 1000 });
  try {
    for await (const m of messages) {
      onMessage(m);
      n++;
      if (m.info.pending === 0) {
        complete = true;
        break;
      }
    }
  } finally {
    await messages.close().catch(() => undefined);
  }
  // A caller that acts on what is absent (tombstones) must not act on a partial replay.
  if (!complete) throw new ReplayIncomplete(`replay of ${filter} from ${stream} ended after ${n} messages`);
  return n;
}

export class ReplayIncomplete extends Error {
  override readonly name = "ReplayIncomplete";
  readonly reason = "ReplayIncomplete";
}
