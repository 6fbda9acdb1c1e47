import { status } from "@grpc/grpc-js";
import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { describeError, type Logger } from "@sharedlb/runtime";
import type { FleetChange, FleetSnapshot, FleetSubscriber } from "../domain/fleet-snapshot.js";
import type { TrackedStream } from "../domain/programmed-tracker.js";
import type { ResourceEntry } from "../domain/resource-entry.js";
import { TYPE_LABELS } from "../domain/order.js";
import type { RequestOutcome } from "../domain/protocol.js";
import { type ClientNode, InvalidRequest } from "../domain/request.js";
import type { FleetRegistry } from "../domain/fleet-registry.js";
import type { StreamSubscription } from "../domain/subscription.js";
import type { GatewayMetrics } from "../metrics.js";
import type { Refusal } from "../domain/fleet-identity.js";
import type { AuthenticatedCall, PeerCheck } from "./envoy-identity.js";
import type { BudgetGrant, WriteBudget } from "./write-budget.js";
import type { XdsEventSink } from "./xds-events.js";

export type AdsProtocol = "sotw" | "delta";

/** The part of a grpc-js server duplex call that a stream uses. */
export interface DuplexCall<Req> extends AuthenticatedCall {
  on(event: "data", listener: (req: Req) => void): unknown;
  on(event: "end" | "cancelled" | "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  once(event: "drain", listener: () => void): unknown;
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean;
  end(): void;
  emit(event: "error", status: { code: number; details: string }): boolean;
  getPeer(): string;
}

/** What one stream may hold up, so a slow or stuck client cannot starve the others. */
export interface StreamLimits {
  /**
   * Bytes of responses sent and not yet answered (ACK or NACK) after which nothing more
   * is sent until the client answers. A stream with nothing unanswered may always send
   * one response, however large.
   */
  readonly unackedBytes: number;
  /** A stream whose response has not been read for this long is ended (evicted). */
  readonly evictAfterMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { unackedBytes: 16 * 1024 * 1024, evictAfterMs: 30_000 };

export interface StreamDeps {
  readonly fleets: FleetRegistry;
  readonly metrics: GatewayMetrics;
  readonly events: XdsEventSink;
  readonly budget: WriteBudget;
  readonly log: Logger;
  /** DEFAULT_STREAM_LIMITS when omitted. */
  readonly limits?: StreamLimits;
  /** Who may be served (the ADS transport's; every peer when omitted). */
  readonly peerCheck?: PeerCheck;
}

/** What the server needs to know of a stream, whatever its protocol. */
export interface ManagedStream {
  readonly protocol: AdsProtocol;
  start(): void;
  close(): void;
}

/** One response ready to write. */
export interface Outgoing {
  readonly bytes: Uint8Array;
  readonly typeUrl: ResourceTypeUrl;
  /** Resources it carries. */
  readonly resources: number;
  /** The resources themselves, for lb.programmed. */
  readonly entries: readonly ResourceEntry[];
  readonly nonce: string;
  /** When the change it carries was built (performance.now()). */
  readonly changedAt: number;
}

const UNKNOWN_FLEET = "_unknown";

/**
 * What SotW and delta streams share: identifying the client and its fleet from the
 * first request, failing malformed requests with a status, events and metrics, and a
 * writer that keeps at most one response in flight per stream. While a response is
 * being written, changes only mark types dirty; the next response is computed when the
 * previous one has left, so a slow client gets the latest state, not a queue of old ones.
 */
interface Unanswered {
  readonly typeUrl: ResourceTypeUrl;
  readonly size: number;
}

type ParsedRequest = { readonly node: ClientNode | undefined; readonly typeUrl: ResourceTypeUrl; readonly responseNonce: string };

export abstract class AdsStream<Req, Parsed extends ParsedRequest> implements FleetSubscriber, ManagedStream, TrackedStream {
  protected fleet: FleetSnapshot | undefined;
  private node: ClientNode | undefined;
  private fleetLabel = UNKNOWN_FLEET;
  private closed = false;
  private pumping = false;
  private scheduled = false;
  private inflight: (() => void) | undefined;
  private readonly answered = new Set<ResourceTypeUrl>();
  /** Responses sent and not answered yet, oldest first, by nonce. */
  private readonly unanswered = new Map<string, Unanswered>();
  private unansweredBytes = 0;
  private readonly limits: StreamLimits;
  protected readonly log: Logger;

  constructor(
    private readonly call: DuplexCall<Req>,
    protected readonly deps: StreamDeps,
    readonly protocol: AdsProtocol,
    private readonly onClosed: (stream: ManagedStream) => void,
  ) {
    this.log = deps.log.child({ peer: call.getPeer(), protocol });
    this.limits = deps.limits ?? DEFAULT_STREAM_LIMITS;
  }

  /** Parses one request (throws InvalidRequest); `first` is true for the stream's first. */
  protected abstract parse(req: Req, first: boolean): Parsed;
  /** Applies a parsed request to the session. */
  protected abstract apply(parsed: Parsed): RequestOutcome;
  /** The next response to write, if the client is missing anything. */
  protected abstract next(fleet: FleetSnapshot): Outgoing | undefined;
  /** Marks what a fleet change touches; returns whether anything may need sending. */
  protected abstract changed(change: FleetChange): boolean;
  protected abstract dispose(): void;
  /** What the client asked for of a type, once it has asked. */
  protected abstract subscription(typeUrl: ResourceTypeUrl): StreamSubscription | undefined;

  /** Whether the client subscribes to this resource. */
  covers(entry: ResourceEntry): boolean {
    return this.subscription(entry.typeUrl)?.covers(entry.name, entry.wildcard) ?? false;
  }

  coverage(typeUrl: ResourceTypeUrl): object | undefined {
    return this.subscription(typeUrl)?.coverage();
  }

  get nodeId(): string {
    return this.node?.id ?? "";
  }

  /** A response of `fleet` to write, timed from its table's last change. */
  protected outgoing(
    fleet: FleetSnapshot,
    typeUrl: ResourceTypeUrl,
    bytes: Uint8Array,
    entries: readonly ResourceEntry[],
    nonce: string,
  ): Outgoing {
    return { bytes, typeUrl, resources: entries.length, entries, nonce, changedAt: fleet.table(typeUrl).changedAt };
  }

  /** The client holds these without being sent them (a reconnect that named them). */
  protected readonly held = (entries: readonly ResourceEntry[]): void => {
    this.fleet?.programmed.acked(this, entries);
  };

  start(): void {
    this.call.on("data", (req) => this.onData(req));
    this.call.on("end", () => {
      this.close();
      this.call.end();
    });
    this.call.on("cancelled", () => this.close());
    this.call.on("error", () => this.close());
    this.call.on("close", () => this.close());
    const refusal = this.deps.peerCheck?.onOpen(this.call);
    if (refusal) this.refuse(refusal, undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onFleetChange(change: FleetChange): void {
    if (this.closed) return;
    if (this.changed(change)) this.schedule();
  }

  private onData(raw: Req): void {
    if (this.closed) return;
    try {
      const first = this.node === undefined;
      const parsed = this.parse(raw, first);
      if (first && parsed.node) {
        const refusal = this.deps.peerCheck?.onFleet(this.call, parsed.node.cluster);
        if (refusal) {
          this.refuse(refusal, parsed.node);
          return;
        }
        this.identify(parsed.node);
      }
      this.record(this.apply(parsed));
      if (parsed.responseNonce !== "") this.answer(parsed.typeUrl, parsed.responseNonce);
      this.schedule();
    } catch (err) {
      if (err instanceof InvalidRequest) {
        this.deps.metrics.invalidRequests.inc({ protocol: this.protocol, reason: err.reason });
        this.fail(status.INVALID_ARGUMENT, err.message);
        return;
      }
      this.log.error({ err: describeError(err) }, "request handling failed");
      this.fail(status.INTERNAL, "internal error handling the request");
    }
  }

  /**
   * The client answered `nonce`: that response, and earlier ones of its type (which it
   * superseded, SotW, or which were answered in order, delta), no longer count.
   */
  private answer(typeUrl: ResourceTypeUrl, nonce: string): void {
    if (!this.unanswered.has(nonce)) return;
    for (const [n, u] of this.unanswered) {
      if (u.typeUrl !== typeUrl) continue;
      this.unanswered.delete(n);
      this.unansweredBytes -= u.size;
      if (n === nonce) break;
    }
  }

  private identify(node: ClientNode): void {
    this.node = node;
    this.fleet = this.deps.fleets.fleet(node.cluster);
    if (this.fleet) {
      this.fleetLabel = this.fleet.name;
      this.fleet.subscribe(this);
      this.fleet.programmed.connected(this);
      this.log.info({ node: node.id, fleet: node.cluster }, "ADS stream connected");
    } else {
      // Serve nothing rather than end the stream: Envoy would reconnect in a loop, and
      // an empty answer would delete whatever configuration it has.
      this.log.warn(
        { node: node.id, fleet: node.cluster, known: this.deps.fleets.fleetNames() },
        "ADS stream from an unknown fleet (node.cluster); serving nothing",
      );
    }
    this.deps.metrics.streams.inc({ protocol: this.protocol, fleet: this.fleetLabel });
    this.deps.events.emit({ fleet: node.cluster, node: node.id, event: "connect", stream: this.protocol });
  }

  private record(outcome: RequestOutcome): void {
    const type = TYPE_LABELS[outcome.typeUrl];
    this.deps.metrics.requests.inc({ protocol: this.protocol, type, outcome: outcome.kind });
    const node = this.node;
    if (!node) return;
    if (outcome.kind === "ack") {
      this.fleet?.programmed.acked(this, outcome.entries);
      this.deps.events.emit({
        fleet: node.cluster,
        node: node.id,
        event: "ack",
        stream: this.protocol,
        typeUrl: outcome.typeUrl,
        version: outcome.version,
      });
    } else if (outcome.kind === "nack") {
      this.fleet?.programmed.nacked(this, outcome.entries, { typeUrl: outcome.typeUrl, nodeId: node.id, message: outcome.error.message });
      this.deps.metrics.nacks.inc({ protocol: this.protocol, type, fleet: this.fleetLabel });
      this.log.warn(
        { node: node.id, fleet: node.cluster, typeUrl: outcome.typeUrl, version: outcome.version, error: outcome.error },
        "configuration rejected (NACK); keeping the client's last good version, this one is not sent again",
      );
      this.deps.events.emit({
        fleet: node.cluster,
        node: node.id,
        event: "nack",
        stream: this.protocol,
        typeUrl: outcome.typeUrl,
        version: outcome.version,
        errorDetail: outcome.error,
      });
    }
  }

  private schedule(): void {
    if (this.closed || this.scheduled || this.pumping || !this.fleet) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    const fleet = this.fleet;
    if (!fleet || this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed) {
        // Wait for answers before sending more (the next request schedules the pump again).
        if (this.unanswered.size > 0 && this.unansweredBytes >= this.limits.unackedBytes) break;
        const out = this.next(fleet);
        if (!out) break;
        await this.write(out);
      }
    } catch (err) {
      this.log.error({ err: describeError(err) }, "writing a response failed");
      this.fail(status.INTERNAL, "internal error writing a response");
    } finally {
      this.pumping = false;
    }
  }

  private async write(out: Outgoing): Promise<void> {
    const size = out.bytes.byteLength;
    const grant: BudgetGrant = await this.deps.budget.acquire(this, size);
    if (this.closed) {
      grant.release();
      return;
    }
    this.unanswered.set(out.nonce, { typeUrl: out.typeUrl, size });
    this.unansweredBytes += size;
    await new Promise<void>((resolve) => {
      let parts = 2;
      let finished = false;
      // A client that does not read its response for this long is evicted.
      const unread = setTimeout(() => this.evict(), this.limits.evictAfterMs);
      unread.unref();
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(unread);
        this.inflight = undefined;
        grant.release();
        resolve();
      };
      const part = () => {
        if (--parts === 0) finish();
      };
      // grpc-js never calls back a write on a cancelled call: close() finishes it.
      this.inflight = finish;
      this.fleet?.programmed.sent(this, out.entries);
      const accepted = this.call.write(out.bytes, () => {
        this.sent(out, size);
        part();
      });
      if (accepted) part();
      else this.call.once("drain", part);
    });
  }

  private evict(): void {
    if (this.closed) return;
    const node = this.node;
    this.deps.metrics.evictions.inc({ protocol: this.protocol, fleet: this.fleetLabel });
    if (node) this.deps.events.emit({ fleet: node.cluster, node: node.id, event: "evicted", stream: this.protocol });
    this.fail(status.RESOURCE_EXHAUSTED, `evicted: the client has not read its response for ${this.limits.evictAfterMs} ms`);
  }

  private sent(out: Outgoing, size: number): void {
    const type = TYPE_LABELS[out.typeUrl];
    this.deps.metrics.pushes.inc({ protocol: this.protocol, type });
    this.deps.metrics.pushBytes.inc({ protocol: this.protocol, type }, size);
    this.deps.metrics.pushResources.inc({ protocol: this.protocol, type }, out.resources);
    if (this.answered.has(out.typeUrl)) {
      this.deps.metrics.pushLatency.observe({ protocol: this.protocol }, (performance.now() - out.changedAt) / 1000);
    } else {
      this.answered.add(out.typeUrl);
    }
  }

  /**
   * The peer's certificate does not allow this stream: ends it before anything is
   * served, and reports it (an lb.xds `refused` event once the node is known).
   */
  private refuse(refusal: Refusal, node: ClientNode | undefined): void {
    const code = refusal.reason === "NoClientCertificate" ? status.UNAUTHENTICATED : status.PERMISSION_DENIED;
    this.deps.metrics.refusals.inc({ protocol: this.protocol, reason: refusal.reason });
    this.log.warn({ reason: refusal.reason, node: node?.id, fleet: node?.cluster, details: refusal.message }, "ADS stream refused");
    if (node) {
      this.deps.events.emit({
        fleet: node.cluster,
        node: node.id,
        event: "refused",
        stream: this.protocol,
        reason: refusal.reason,
        errorDetail: { code, message: refusal.message },
      });
    }
    this.fail(code, refusal.message);
  }

  private fail(code: number, details: string): void {
    if (this.closed) return;
    this.log.warn({ code, details, node: this.node?.id }, "ending ADS stream");
    this.call.emit("error", { code, details });
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fleet?.unsubscribe(this);
    this.fleet?.programmed.closed(this);
    this.inflight?.();
    this.dispose();
    const node = this.node;
    if (node) {
      this.deps.metrics.streams.dec({ protocol: this.protocol, fleet: this.fleetLabel });
      this.deps.events.emit({ fleet: node.cluster, node: node.id, event: "disconnect", stream: this.protocol });
      this.log.info({ node: node.id, fleet: node.cluster }, "ADS stream closed");
    }
    this.onClosed(this);
  }
}
