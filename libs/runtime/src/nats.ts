import {
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
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type CloudEvent, encodeEvent, type StreamDefinition, streamDefinitions } from "@sharedlb/contracts";
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
 * verify-only mode: a tenant process has no JetStream admin, so it only checks the
 * contract's streams exist (by name: STREAM.NAMES reveals nothing of their content).
 */
export async function verifyStreams(jsm: JetStreamManager, log: Logger): Promise<void> {
  const present = new Set<string>();
  for await (const name of jsm.streams.names()) present.add(name);
  const missing = streamDefinitions().map((d) => d.name).filter((n) => !present.has(n));
  if (missing.length > 0) {
    throw new StreamMissing(
      `stream${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing: the LB side (allocator, xds-gateway) creates them; ` +
        "start it first, or check this process connects to the right NATS account",
    );
  }
  log.info({ streams: [...present].filter((n) => streamDefinitions().some((d) => d.name === n)) }, "streams verified");
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
 * Only sequences decide when the replay is done: it reads up to the stream's last sequence
 * ("nothing pending" never comes while the stream keeps receiving messages). A subject
 * rewritten during the replay may have had its old message deleted (last-value retention)
 * before the replay reached it, with its new one past the end; such subjects are then read
 * directly by subject, so none is missing. Bounded fetches also end when nothing more
 * arrives (a filter's last match before the end, a purge).
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
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return out;
  const end = info.state.last_seq;
  const seen = new Set<string>();
  const take = (subject: string, data: Uint8Array, seq: number) => {
    seen.add(subject);
    const kv = decode(subject, data, seq);
    if (kv) out.set(kv[0], kv[1]);
  };
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All, ...(filter ? { filter_subjects: filter } : {}) });
  try {
    for (let done = false; !done; ) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: idleMs });
      let got = 0;
      for await (const m of batch) {
        got++;
        take(m.subject, m.data, m.seq);
        if (m.seq >= end) {
          done = true;
          break;
        }
      }
      if (got === 0) done = true;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  const now = await jsm.streams.info(stream);
  if (filter || (now.state.num_subjects ?? Number.POSITIVE_INFINITY) > seen.size) {
    const listed = await jsm.streams.info(stream, { subjects_filter: filter ?? ">" });
    for (const subject of Object.keys(listed.state.subjects ?? {})) {
      if (seen.has(subject)) continue;
      // Direct get by subject puts the subject in the request subject, so a tenant's
      // permissions can allow it for its own subjects only (docs/security.md).
      const m = await jsm.direct.getMessage(stream, { last_by_subj: subject }).catch(() => null);
      if (m) take(m.subject, m.data, m.seq);
    }
  }
  return out;
}
