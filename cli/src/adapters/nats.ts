import { DeliverPolicy, type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ConfigError, describeError, natsConnectSettings, natsSecurityFromEnv, redactUrl } from "@sharedlb/runtime";
import { CliError } from "../domain/errors.js";

export interface NatsSession {
  /** The URL as given, with credentials removed: what error messages name. */
  url: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  close(): Promise<void>;
}

export interface OpenOptions {
  timeoutMs: number;
  /** Keep reconnecting after the first connection (events --follow); one-shot reads fail fast. */
  reconnect: boolean;
}

/**
 * Connects for one command. Unlike the services' connectNats (which waits for the first
 * connection forever, right for a daemon), a person at a terminal needs a prompt, clear
 * failure naming the server.
 */
export async function openNats(url: string, opts: OpenOptions, env: NodeJS.ProcessEnv = process.env): Promise<NatsSession> {
  let settings: ReturnType<typeof natsConnectSettings>;
  try {
    // Credentials and TLS come from NATS_NKEY, NATS_CA, … (docs/security.md).
    settings = natsConnectSettings(url, natsSecurityFromEnv(env));
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError("UsageError", err.message);
    throw err;
  }
  const { servers } = settings;
  // As given (credentials redacted), so the user recognises the URL they passed.
  const shown = url
    .split(",")
    .map((s) => redactUrl(s.trim()))
    .filter((s) => s !== "")
    .join(",");
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...(settings.authenticator ? { authenticator: settings.authenticator } : {}),
      ...(settings.tls ? { tls: settings.tls } : {}),
      ...(settings.inboxPrefix ? { inboxPrefix: settings.inboxPrefix } : {}),
      name: "sharedlb-cli",
      timeout: opts.timeoutMs,
      maxReconnectAttempts: opts.reconnect ? -1 : 0,
      reconnectTimeWait: 1000,
    });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause ? describeError(cause) : describeError(err);
    throw new CliError("NatsUnavailable", `cannot connect to NATS at ${shown}: ${detail} (set --nats-url or NATS_URL)`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: opts.timeoutMs });
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw new CliError("NatsUnavailable", `NATS at ${shown} has no JetStream: ${describeError(err)}`);
  }
  return {
    url: shown,
    nc,
    js: jetstream(nc, { timeout: opts.timeoutMs }),
    jsm,
    close: async () => {
      await nc.close().catch(() => undefined);
    },
  };
}

/** One message as stored in a stream. */
export interface StoredMessage {
  stream: string;
  seq: number;
  subject: string;
  data: Uint8Array;
  /** ISO time the stream stored it. */
  storedAt: string;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; api_error?: { err_code?: number } };
  return e?.name === "StreamNotFoundError" || e?.api_error?.err_code === 10059 || /stream not found/i.test(describeError(err));
}

function streamMissing(session: NatsSession, stream: string): CliError {
  return new CliError(
    "StreamMissing",
    `stream ${stream} does not exist on NATS at ${session.url}: no sharedlb service has started against this server yet (the allocator creates the streams)`,
  );
}

/** The last message on one subject, or undefined when there is none. */
export async function lastOnSubject(session: NatsSession, stream: string, subject: string): Promise<StoredMessage | undefined> {
  try {
    const m = await session.jsm.streams.getMessage(stream, { last_by_subj: subject });
    if (!m) return undefined;
    return { stream, seq: m.seq, subject: m.subject, data: m.data, storedAt: m.time.toISOString() };
  } catch (err) {
    if (isNotFound(err)) {
      // "no message found" and "stream not found" share a code path; tell them apart.
      if (/no message found/i.test(describeError(err))) return undefined;
      throw streamMissing(session, stream);
    }
    if (/no message found/i.test(describeError(err))) return undefined;
    throw err;
  }
}

/** Subjects with messages under a filter, with their counts. */
export async function subjectsUnder(session: NatsSession, stream: string, filter: string): Promise<Map<string, number>> {
  try {
    const info = await session.jsm.streams.info(stream, { subjects_filter: filter });
    return new Map(Object.entries(info.state.subjects ?? {}));
  } catch (err) {
    if (isNotFound(err)) throw streamMissing(session, stream);
    throw err;
  }
}

export interface ReplayOptions {
  /** A single subject filter (nats-server 2.9 takes one per consumer). */
  filter?: string;
  /** Only messages stored at or after this time. */
  since?: Date;
  /** Give up when no message arrives for this long. */
  idleTimeoutMs: number;
}

/**
 * Reads a stream from the start (or `since`) up to the last message it held when the
 * read began, with an ordered consumer (ephemeral, in memory, removed by the server when
 * idle). The consumer's pending count at creation tells an empty selection apart from a
 * slow one, so nothing waits on a timer to find out there is nothing to read.
 */
export async function replay(session: NatsSession, stream: string, opts: ReplayOptions): Promise<StoredMessage[]> {
  let lastSeq: number;
  try {
    const info = await session.jsm.streams.info(stream);
    if (info.state.messages === 0) return [];
    lastSeq = info.state.last_seq;
  } catch (err) {
    if (isNotFound(err)) throw streamMissing(session, stream);
    throw err;
  }
  const consumer = await session.js.consumers.get(stream, {
    inactive_threshold: 30_000,
    ...(opts.filter ? { filter_subjects: opts.filter } : {}),
    ...(opts.since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() }
      : { deliver_policy: DeliverPolicy.All }),
  });
  if ((await consumer.info(true)).num_pending === 0) return [];
  const messages = await consumer.consume({ max_messages: 1000 });
  const out: StoredMessage[] = [];
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      void messages.close();
    }, opts.idleTimeoutMs);
  };
  arm();
  try {
    for await (const m of messages) {
      arm();
      out.push({
        stream,
        seq: m.seq,
        subject: m.subject,
        data: m.data,
        storedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)).toISOString(),
      });
      // With a filter the stream's last message may not match; pending 0 ends it then.
      if (m.seq >= lastSeq || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close();
  }
  if (timedOut) {
    throw new CliError(
      "ReadTimeout",
      `reading stream ${stream} on NATS at ${session.url} stalled: nothing for ${opts.idleTimeoutMs} ms (read ${out.length} so far)`,
    );
  }
  return out;
}
