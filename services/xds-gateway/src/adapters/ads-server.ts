import * as grpc from "@grpc/grpc-js";
import { parseHostPort } from "@sharedlb/runtime";
import { type AdsTransport, INSECURE_TRANSPORT } from "./ads-credentials.js";
import { adsService } from "./ads-service.js";
import type { ManagedStream, StreamDeps } from "./ads-stream.js";
import { type DeltaCall, DeltaStream } from "./delta-stream.js";
import { type SotwCall, SotwStream } from "./sotw-stream.js";

export interface AdsServerOptions {
  /** Server pings idle connections this often, so dead Envoys are noticed. */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /**
   * Connections are closed (GOAWAY, then after the grace period for good) after this
   * age, with grpc-js' ±10% jitter, so Envoys spread across replicas again after a
   * rollout or scale-up instead of staying where they first landed.
   */
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  readonly maxReceiveMessageBytes: number;
}

export const DEFAULT_ADS_OPTIONS: AdsServerOptions = {
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxConnectionAgeMs: 30 * 60_000,
  maxConnectionAgeGraceMs: 60_000,
  // A SotW EDS request names every cluster an Envoy has.
  maxReceiveMessageBytes: 64 * 1024 * 1024,
};

/** The ADS gRPC server: StreamAggregatedResources and DeltaAggregatedResources. */
export class AdsServer {
  private readonly server: grpc.Server;
  private readonly streams = new Set<ManagedStream>();
  private bound: string | undefined;

  private readonly deps: StreamDeps;

  constructor(
    deps: StreamDeps,
    options: AdsServerOptions = DEFAULT_ADS_OPTIONS,
    private readonly transport: AdsTransport = INSECURE_TRANSPORT,
  ) {
    this.deps = { ...deps, peerCheck: transport.peerCheck };
    this.server = new grpc.Server({
      "grpc.keepalive_time_ms": options.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs,
      "grpc.max_connection_age_ms": options.maxConnectionAgeMs,
      "grpc.max_connection_age_grace_ms": options.maxConnectionAgeGraceMs,
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes,
      "grpc.max_send_message_length": -1,
    });
    const forget = (s: ManagedStream) => {
      this.streams.delete(s);
    };
    this.server.addService(adsService(deps.fleets.subscriptions.wireForms), {
      StreamAggregatedResources: (call: SotwCall) => this.accept(new SotwStream(call, this.deps, forget)),
      DeltaAggregatedResources: (call: DeltaCall) => this.accept(new DeltaStream(call, this.deps, forget)),
    });
  }

  get streamCount(): number {
    return this.streams.size;
  }

  private accept(stream: ManagedStream): void {
    this.streams.add(stream);
    stream.start();
  }

  /** Binds `host:port` (port 0: any free port) and returns what was bound. */
  async listen(addr: string): Promise<{ host: string; port: number }> {
    const { host, port } = parseHostPort("--grpc-addr", addr);
    const hostPart = host.includes(":") ? `[${host}]` : host;
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${hostPart}:${port}`, this.transport.credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.bound = `${hostPart}:${bound}`;
    return { host, port: bound };
  }

  /**
   * GOAWAY to every connection so clients reconnect elsewhere, then wait up to
   * `graceMs` for streams to go, then cut what is left. (tryShutdown would wait
   * forever: ADS streams never end on their own.)
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.bound) this.server.drain(this.bound, graceMs);
    const deadline = Date.now() + graceMs;
    while (this.streams.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.server.forceShutdown();
    for (const s of this.streams) s.close();
  }
}
