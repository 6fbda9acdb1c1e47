import * as grpc from "@grpc/grpc-js";
import { AggregatedDiscoveryService, type DeltaDiscoveryResponse, type DiscoveryResponse, envoy } from "@sharedlb/envoy-api";
import { type ResponseHead, readResponseHead } from "./response-head.js";

type DiscoveryRequestIn = envoy.service.discovery.v3.DiscoveryRequest.$Properties;
const DiscoveryRequestMessage = envoy.service.discovery.v3.DiscoveryRequest;
type DeltaDiscoveryRequestIn = envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties;

export interface AdsClientOptions {
  readonly channelOptions?: grpc.ChannelOptions;
  /** Plaintext when omitted; `grpc.credentials.createSsl(ca, key, cert)` for a gateway serving mutual TLS. */
  readonly credentials?: grpc.ChannelCredentials;
}

/**
 * A raw ADS client: requests in, decoded responses out, nothing interpreted. Tests use
 * it to check what the gateway serves, the benchmark to stand in for many Envoys, and
 * it is small enough to point at a live gateway when debugging.
 */
export class AdsClient {
  private readonly client: grpc.Client;

  constructor(address: string, options: AdsClientOptions = {}) {
    this.client = new grpc.Client(address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions ?? {});
  }

  sotw(opts: AdsCallOptions<DiscoveryResponse> = {}): AdsCall<DiscoveryRequestIn, DiscoveryResponse> {
    const m = AggregatedDiscoveryService.StreamAggregatedResources;
    const stream = this.client.makeBidiStreamRequest(
      m.path,
      m.requestSerialize,
      (bytes: Buffer) => m.responseDeserialize(bytes) as DiscoveryResponse,
    );
    return new AdsCall(stream, opts);
  }

  delta(opts: AdsCallOptions<DeltaDiscoveryResponse> = {}): AdsCall<DeltaDiscoveryRequestIn, DeltaDiscoveryResponse> {
    const m = AggregatedDiscoveryService.DeltaAggregatedResources;
    const stream = this.client.makeBidiStreamRequest(
      m.path,
      m.requestSerialize,
      (bytes: Buffer) => m.responseDeserialize(bytes) as DeltaDiscoveryResponse,
    );
    return new AdsCall(stream, opts);
  }

  /**
   * SotW, keeping only each response's head (see ResponseHead). Requests naming the same
   * `resourceNames` array again reuse its encoding (serializeNamesOnce).
   */
  sotwHeads(opts: AdsCallOptions<ResponseHead> = {}): AdsCall<DiscoveryRequestIn, ResponseHead> {
    const m = AggregatedDiscoveryService.StreamAggregatedResources;
    return new AdsCall(
      this.client.makeBidiStreamRequest(m.path, serializeNamesOnce, (b: Buffer) => readResponseHead(b, false)),
      opts,
    );
  }

  /** Delta, keeping only each response's head and resource names. */
  deltaHeads(opts: AdsCallOptions<ResponseHead> = {}): AdsCall<DeltaDiscoveryRequestIn, ResponseHead> {
    const m = AggregatedDiscoveryService.DeltaAggregatedResources;
    return new AdsCall(
      this.client.makeBidiStreamRequest(m.path, m.requestSerialize, (b: Buffer) => readResponseHead(b, true)),
      opts,
    );
  }

  close(): void {
    this.client.close();
  }
}

export interface AdsCallOptions<Res> {
  /** Called for every response as it arrives (before any waiter). */
  readonly onResponse?: (res: Res) => void;
  /** Keep every response in `received` (default true; a benchmark turns it off). */
  readonly keep?: boolean;
}

interface Waiter<Res> {
  readonly pred: (r: Res) => boolean;
  readonly resolve: (r: Res) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One ADS stream. */
export class AdsCall<Req, Res> {
  readonly received: Res[] = [];
  private readonly waiters = new Set<Waiter<Res>>();
  private ended: grpc.StatusObject | undefined;
  /** Resolves with the final status when the stream ends, whichever way. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(
    private readonly stream: grpc.ClientDuplexStream<Req, Res>,
    private readonly opts: AdsCallOptions<Res>,
  ) {
    this.status = new Promise((resolve) => {
      stream.on("status", (s: grpc.StatusObject) => {
        this.ended = s;
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`stream ended (${grpc.status[s.code]}: ${s.details}) before the awaited response`));
        }
        this.waiters.clear();
        resolve(s);
      });
    });
    // Errors also arrive as a status; without a listener they would be thrown.
    stream.on("error", () => undefined);
    stream.on("data", (res: Res) => this.onData(res));
  }

  private onData(res: Res): void {
    this.opts.onResponse?.(res);
    if (this.opts.keep !== false) this.received.push(res);
    for (const w of this.waiters) {
      if (w.pred(res)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(res);
      }
    }
  }

  send(req: Req): void {
    this.stream.write(req);
  }

  /**
   * The first response satisfying `pred`: among those already received from index
   * `from` on (default: none of them, only responses still to come), else the next
   * one to arrive.
   */
  waitFor(pred: (r: Res) => boolean, timeoutMs = 10_000, from = this.received.length): Promise<Res> {
    for (let i = from; i < this.received.length; i++) {
      const r = this.received[i];
      if (r !== undefined && pred(r)) return Promise.resolve(r);
    }
    if (this.ended) return Promise.reject(new Error(`stream already ended: ${this.ended.details}`));
    return new Promise((resolve, reject) => {
      const w: Waiter<Res> = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(new Error(`no matching ADS response within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /** Half-closes the stream (the server then ends it). */
  end(): void {
    this.stream.end();
  }

  cancel(): void {
    this.stream.cancel();
  }
}

/** Encoded `resource_names` fields, by the array they were encoded from. */
const encodedNames = new WeakMap<readonly string[], Uint8Array>();

/**
 * A DiscoveryRequest's bytes, its resource names encoded once per array: one process plays
 * many Envoys in the benchmarks, and each SotW ACK names every cluster (10,900: 1–2 ms to
 * encode), so encoding them anew made each stream's response wait for the ACKs of the
 * streams read before it. Protobuf fields may come in any order and a message's bytes are
 * its fields' bytes, so the names are appended to the rest.
 */
function serializeNamesOnce(req: DiscoveryRequestIn): Buffer {
  const names = req.resourceNames;
  if (!names || names.length < 64) return Buffer.from(DiscoveryRequestMessage.encode(req).finish());
  let tail = encodedNames.get(names);
  if (!tail) {
    tail = DiscoveryRequestMessage.encode({ resourceNames: names }).finish();
    encodedNames.set(names, tail);
  }
  return Buffer.concat([DiscoveryRequestMessage.encode({ ...req, resourceNames: [] }).finish(), tail]);
}
