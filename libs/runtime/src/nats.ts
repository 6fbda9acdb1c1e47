import {
  AckPolicy,
  type Consumer,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  headers,
  type NatsConnection,
  NoRespondersError,
  nanos,
  nuid,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type CloudEvent, encodeEvent, STREAM_CHECK_CONSUMER, type StreamDefinition, streamDefinitions } from "@sharedlb/contracts";
import { describeError } from "./errors.js";
import { type Logger, redactUrl } from "./logging.js";
import { type NatsConnectSettings, natsConnectSettings, type NatsSecurity } from "./nats-auth.js";

/** NATS refused this process's credentials: fatal, retrying cannot help. */
export class NatsAuthRefused extends Error {
  override readonly name = "NatsAuthRefused";
  readonly reason = "NatsAuthRefused";
}

/** verify-only mode found a contract stream missing; the LB side creates them. */
export class StreamMissing extends Error {
  override readonly name = "StreamMissing";
  readonly reason = "StreamMissing";
}

export class StreamConfigConflict extends Error {
  override readonly name = "StreamConfigConflict";
  readonly reason = "StreamConfigConflict";
}

export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export interface StreamOptions {
  replicas: number;
  storage: "file" | "memory";
  historySeconds?: number;
  /** Window within which the same Nats-Msg-Id is dropped. */
  duplicateWindowSeconds?: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = { replicas: 1, storage: "file", duplicateWindowSeconds: 120 };

/**
 * Connects and keeps reconnecting forever; outages are logged, never fatal. Refused
 * credentials are fatal (NatsAuthRefused). A permission violation is logged with its
 * subject (never a payload) and the connection carries on.
 */
export async function connectNats(url: string, name: string, log: Logger, security: NatsSecurity = {}): Promise<NatsHandle> {
  const settings: NatsConnectSettings = natsConnectSettings(url, security);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: settings.servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: true,
      // nats.js otherwise builds an Error (for its stack) on every request and publish:
      // measured at half the client's CPU per JetStream publish (bench/results/allocator.md).
      noAsyncTraces: true,
      ...(settings.authenticator ? { authenticator: settings.authenticator } : {}),
      ...(settings.tls ? { tls: settings.tls } : {}),
      ...(settings.inboxPrefix ? { inboxPrefix: settings.inboxPrefix } : {}),
    });
  } catch (err) {
    if (err instanceof AuthorizationError || (err instanceof Error && err.cause instanceof AuthorizationError)) {
      throw new NatsAuthRefused(
        `NATS ${settings.servers.map(redactUrl).join(",")} refused ${settings.identity}: ${describeError(err)}`,
        { cause: err },
      );
    }
    throw err;
  }
  log.info({ nats: settings.servers.map(redactUrl), identity: settings.identity, tls: settings.tls !== undefined }, "connected to NATS");
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && s.error instanceof PermissionViolationError) {
        log.error({ operation: s.error.operation, subject: s.error.subject }, "NATS permission denied");
      } else if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        log.warn({ nats: s.type, ...(s.type === "error" ? { err: describeError(s.error) } : {}) }, "NATS connection status");
      }
    }
  })();
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

/**
 * verify-only mode: a tenant process has no JetStream admin and no STREAM.INFO or
 * STREAM.NAMES (docs/security.md), so it checks each contract stream exists with a
 * CONSUMER.INFO of STREAM_CHECK_CONSUMER.
 */
export async function verifyStreams(jsm: JetStreamManager, log: Logger): Promise<void> {
  const names = streamDefinitions().map((d) => d.name);
  const missing: string[] = [];
  for (const stream of names) {
    const found = await jsm.consumers.info(stream, STREAM_CHECK_CONSUMER).then(
      () => true,
      (err: unknown) => {
        if (apiErrorCode(err) === JetStreamApiCodes.ConsumerNotFound) return true;
        if (apiErrorCode(err) === JetStreamApiCodes.StreamNotFound) return false;
        throw err;
      },
    );
    if (!found) missing.push(stream);
  }
  if (missing.length > 0) {
    throw new StreamMissing(
      `stream${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing: the LB side (allocator, xds-gateway) creates them; ` +
        "start it first, or check this process connects to the right NATS account",
    );
  }
  log.info({ streams: names }, "streams verified");
}

const apiErrorCode = (err: unknown): number | undefined => (err instanceof JetStreamApiError ? err.code : undefined);

/** Where a filtered consumer starts. */
export type ConsumerStart = { from: "all" } | { from: "sequence"; seq: number } | { from: "new" };

/**
 * An ephemeral, unacknowledged consumer on one filter (or none), made with CONSUMER.CREATE
 * alone: the filter travels in the create subject, which is what a tenant's permissions
 * check. nats.js's ordered consumers first ask STREAM.INFO, which tenants may not (with a
 * subjects_filter it lists every tenant's subject names). A missing stream is StreamMissing.
 */
export async function openFilteredConsumer(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  filter: string | undefined,
  start: ConsumerStart,
): Promise<{ consumer: Consumer; info: ConsumerInfo }> {
  const deliver =
    start.from === "sequence"
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq }
      : { deliver_policy: start.from === "new" ? DeliverPolicy.New : DeliverPolicy.All };
  try {
    const info = await jsm.consumers.add(stream, {
      name: nuid.next(),
      ...(filter ? { filter_subject: filter } : {}),
      ...deliver,
      ack_policy: AckPolicy.None,
      max_deliver: 1,
      mem_storage: true,
      num_replicas: 1,
      // Outlives a NATS reconnect; a consumer left behind by a crash goes by itself.
      inactive_threshold: nanos(5 * 60_000),
    });
    return { consumer: js.consumers.getConsumerFromInfo(info), info };
  } catch (err) {
    if (apiErrorCode(err) === JetStreamApiCodes.StreamNotFound) {
      throw new StreamMissing(`stream ${stream} missing: the LB side (allocator, xds-gateway) creates it`, { cause: err });
    }
    throw err;
  }
}

const PULL_BATCH = 1000;

function connectionOf(js: JetStreamClient): NatsConnection {
  // nats.js's client keeps its connection as `nc`; its interface does not name it.
  const nc = (js as { nc?: NatsConnection }).nc;
  if (!nc) throw new Error("nats.js JetStream client without its connection");
  return nc;
}

/**
 * Pulls what a consumer holds right now, without waiting (`no_wait`; nats.js's fetch waits
 * at least a second when there is nothing) and returns how many messages came. The server
 * ends such a pull with a status message without payload. The stream sequence is read
 * from the ack subject, as nats.js reads it.
 */
async function pullAvailable(
  js: JetStreamClient,
  stream: string,
  consumer: string,
  take: (subject: string, data: Uint8Array, seq: number) => void,
): Promise<number> {
  let got = 0;
  const api = js.getOptions().apiPrefix ?? "$JS.API";
  const replies = await connectionOf(js).requestMany(`${api}.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify({ batch: PULL_BATCH, no_wait: true }), {
    strategy: "sentinel",
    maxWait: 5_000,
  });
  for await (const m of replies) {
    if (m.data.length === 0) break;
    // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…, or with <domain>.<account hash> after ACK.
    const tokens = (m.reply ?? "").split(".");
    const seq = Number(tokens[tokens.length === 9 ? 5 : 7]);
    if (Number.isInteger(seq)) take(m.subject, m.data, seq);
    if (++got === PULL_BATCH) break;
  }
  return got;
}

/**
 * The stream's last sequence, from a consumer that starts after it (what its create reply
 * reports as delivered), so it needs no STREAM.INFO.
 */
export async function streamLastSeq(js: JetStreamClient, jsm: JetStreamManager, stream: string, filter: string | undefined): Promise<number> {
  const { consumer, info } = await openFilteredConsumer(js, jsm, stream, filter, { from: "new" });
  await consumer.delete().catch(() => undefined);
  return info.delivered.stream_seq;
}

function toStreamConfig(def: StreamDefinition, opts: StreamOptions): Partial<StreamConfig> & { name: string } {
  const cfg: Partial<StreamConfig> & { name: string } = {
    name: def.name,
    description: def.description,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: def.maxMsgsPerSubject,
    max_age: nanos(def.maxAgeSeconds * 1000),
    storage: opts.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: opts.replicas,
    duplicate_window: nanos((opts.duplicateWindowSeconds ?? 120) * 1000),
    allow_direct: true,
  };
  if (def.subjects.length > 0) cfg.subjects = def.subjects;
  if (def.sources) cfg.sources = def.sources.map((name) => ({ name }));
  return cfg;
}

/**
 * Creates the contract's streams, or verifies and updates them. Fields that change what a
 * stream means (subjects, last-value retention, sources, storage) must match; a conflict is
 * a startup error naming the stream and field. Tunables (age, replicas, window) are updated.
 */
export async function ensureStreams(jsm: JetStreamManager, opts: StreamOptions, log: Logger): Promise<void> {
  for (const def of streamDefinitions(opts.historySeconds)) {
    const want = toStreamConfig(def, opts);
    let existing: StreamConfig | undefined;
    try {
      existing = (await jsm.streams.info(def.name)).config;
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
    if (!existing) {
      try {
        await jsm.streams.add(want);
        log.info({ stream: def.name }, "stream created");
        continue;
      } catch (err) {
        // Another process created it first: verify what it made.
        existing = await jsm.streams.info(def.name).then(
          (i) => i.config,
          () => undefined,
        );
        if (!existing) throw err;
      }
    }
    const conflicts: string[] = [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const had = existing.subjects ?? [];
    const wanted = want.subjects ?? [];
    // A contract addition (lb.programmed.> joining LB_EVENTS) only adds subjects: a stream
    // made by an earlier version takes them in place; one holding subjects the contract
    // does not give it means something else.
    const added = wanted.filter((x) => !had.includes(x));
    if (had.some((x) => !wanted.includes(x))) {
      conflicts.push(`subjects ${JSON.stringify(had)} ≠ ${JSON.stringify(wanted)}`);
    }
    if ((existing.max_msgs_per_subject ?? -1) !== want.max_msgs_per_subject) {
      conflicts.push(`max_msgs_per_subject ${existing.max_msgs_per_subject} ≠ ${want.max_msgs_per_subject}`);
    }
    if (existing.retention !== want.retention) conflicts.push(`retention ${existing.retention} ≠ ${want.retention}`);
    if (existing.storage !== want.storage) conflicts.push(`storage ${existing.storage} ≠ ${want.storage}`);
    const srcNames = (s: StreamConfig["sources"]) => (s ?? []).map((x) => x.name).sort();
    if (!same(srcNames(existing.sources), srcNames(want.sources))) conflicts.push("sources differ");
    if (conflicts.length > 0) {
      throw new StreamConfigConflict(
        `stream ${def.name} exists with a conflicting configuration: ${conflicts.join("; ")}. ` +
          "Fix or delete the stream; sharedlb will not change what it means.",
      );
    }
    if (added.length > 0) {
      await jsm.streams.update(def.name, { subjects: wanted });
      log.info({ stream: def.name, added }, "stream subjects added (contract addition)");
    }
    if (
      existing.max_age !== want.max_age ||
      existing.num_replicas !== want.num_replicas ||
      existing.duplicate_window !== want.duplicate_window
    ) {
      await jsm.streams.update(def.name, {
        max_age: want.max_age,
        num_replicas: want.num_replicas,
        duplicate_window: want.duplicate_window,
      } as Partial<StreamConfig>);
      log.info({ stream: def.name }, "stream tunables updated");
    }
  }
}

/** Publishes a CloudEvent with its id as Nats-Msg-Id, so a republish within the window is dropped. */
export async function publishEvent(js: JetStreamClient, natsSubject: string, event: CloudEvent): Promise<PubAck> {
  return js.publish(natsSubject, encodeEvent(event), { msgID: event.id });
}

/**
 * NATS itself is unreachable or restarting (nats.js's typed errors, also as a cause): the
 * operation may succeed later, it is not the message's fault.
 */
export function isNatsUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (
      e instanceof TimeoutError ||
      e instanceof NoRespondersError ||
      e instanceof ClosedConnectionError ||
      e instanceof DrainingConnectionError ||
      e instanceof ConnectionError ||
      e instanceof RequestError
    ) {
      return true;
    }
  }
  return false;
}

/** nats.js's typed answer for a stream that does not exist. */
export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

export { headers };

/**
 * Replays a last-value stream (optionally one filter subject): the current value of every
 * subject, with its stream sequence.
 *
 * The consumer's own count says when the replay is near its end: a message with nothing
 * pending behind it (for this filter). A subject rewritten during the replay had its old
 * message deleted (last-value retention) and its new one appended, but the server's count
 * can miss that new one while the rewrite races the replay, so what the consumer holds at
 * that point is then pulled without waiting, and such a subject is read too. Bounded
 * fetches also end when nothing more arrives. Uses no STREAM.INFO, which tenant processes
 * may not (docs/security.md).
 */
export async function readLastValues<V>(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  decode: (subject: string, data: Uint8Array, seq: number) => [string, V] | undefined,
  filter?: string,
  idleMs = 1_000,
): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  const take = (subject: string, data: Uint8Array, seq: number) => {
    const kv = decode(subject, data, seq);
    if (kv) out.set(kv[0], kv[1]);
  };
  const { consumer, info } = await openFilteredConsumer(js, jsm, stream, filter, { from: "all" });
  try {
    // Each fetch asks for no more than the server counts as pending, so it is complete when
    // it ends: a fetch left open would take messages that arrive later away from the pull below.
    let pending = info.num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(PULL_BATCH, pending), expires: idleMs });
      let got = 0;
      for await (const m of batch) {
        got++;
        take(m.subject, m.data, m.seq);
        pending = m.info.pending;
      }
      if (got === 0) break;
    }
    if (pending === 0) while ((await pullAvailable(js, stream, info.name, take)) === PULL_BATCH);
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}
