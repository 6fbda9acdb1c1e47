import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import {
  ContractViolation,
  decodeAnyAllocationMessage,
  decodeProgrammedMessage,
  decodeResourceMessage,
  filters,
  type Programmed,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import type { ConsumerMetrics, DeadLetterSink, Logger } from "@sharedlb/runtime";
import type { L7Feed, L7Sink } from "../app/ports.js";
import type { ReporterMetrics } from "../metrics.js";
import { DeadLetterNotPublished, FilteredFollower, type FollowedOutcome } from "./filtered-follower.js";

export interface StreamL7FeedOptions {
  js: JetStreamClient;
  cluster: string;
  log: Logger;
  deadLetters: DeadLetterSink;
  metrics: ReporterMetrics;
  consumerMetrics: ConsumerMetrics;
  /** Where a Service's lb.programmed reports go (the Service reporter); L7 kinds go to the sink. */
  onServiceProgrammed?: (p: Programmed, source: string, seq: number) => void;
}

const ROUTE_KINDS = ["ingress", "httproute", "grpcroute", "tlsroute"] as const;

/**
 * The cluster's L7 state from NATS: its L7 allocations (`lb.allocation.<c>.*.*.*`, one
 * token more than a Service's), the normalized Gateways and routes on LB_RESOURCES (for
 * refused references and parentRefs) and the fleet's `lb.programmed.<c>.>` reports (a
 * Service's go to `onServiceProgrammed`: what the fleet leaves out of it). Each
 * is a filtered ordered consumer; none reads another cluster's subjects. A message that
 * breaks the contract is dead-lettered and skipped, and nothing else is affected; one that
 * cannot be applied (or whose dead letter cannot be published) is kept, retried and named
 * by `applyDetail()` until it or a later message for its subject goes through.
 */
export class StreamL7Feed implements L7Feed {
  private followers: FilteredFollower[] = [];

  constructor(private readonly o: StreamL7FeedOptions) {}

  get caughtUp(): boolean {
    return this.followers.length > 0 && this.followers.every((f) => f.caughtUp);
  }

  /** The first message a follower could not apply, for /readyz; undefined when there is none. */
  applyDetail(): string | undefined {
    for (const f of this.followers) {
      const detail = f.applyDetail();
      if (detail !== undefined) return detail;
    }
    return undefined;
  }

  start(sink: L7Sink): Promise<void> {
    const { js, cluster, log, consumerMetrics: metrics } = this.o;
    const follow = (name: string, stream: string, filter: string, handle: (m: JsMsg) => void) =>
      new FilteredFollower({ js, stream, filter, name: `l7-${name}`, handle: (m) => this.guarded(m, handle), metrics, log });
    const resources = `lb.resource.${cluster}`;
    this.followers = [
      follow("allocations", STREAM_NAMES.allocations, `lb.allocation.${cluster}.*.*.*`, (m) => {
        const decoded = decodeAnyAllocationMessage(m.subject, m.data);
        if (decoded.kind !== "service") sink.allocation(decoded.event.data, m.seq);
      }),
      // Every report, not the last per subject: each xds-gateway replica publishes its own counts on the same subject.
      follow("programmed", STREAM_NAMES.events, filters.clusterProgrammed(cluster), (m) => {
        const { event } = decodeProgrammedMessage(m.subject, m.data);
        if (event.data.kind === "service") this.o.onServiceProgrammed?.(event.data, event.source, m.seq);
        else sink.programmed(event.data, event.source, m.seq);
      }),
      follow("gateway", STREAM_NAMES.resources, `${resources}.gateway.>`, (m) => {
        const { subject, event } = decodeResourceMessage(m.subject, m.data);
        sink.gateway(subject.namespace, subject.name, event.type === "io.sharedlb.gateway.v1" ? event.data : undefined, m.seq);
      }),
      ...ROUTE_KINDS.map((kind) =>
        follow(kind, STREAM_NAMES.resources, `${resources}.${kind}.>`, (m) => {
          const { subject, event } = decodeResourceMessage(m.subject, m.data);
          sink.route(kind, subject.namespace, subject.name, event.type === "io.sharedlb.route.v1" ? event.data : undefined, m.seq);
        }),
      ),
    ];
    for (const f of this.followers) f.start();
    return Promise.all(this.followers.map((f) => f.whenCaughtUp())).then(() => undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(this.followers.map((f) => f.stop()));
  }

  private async guarded(m: JsMsg, handle: (m: JsMsg) => void): Promise<FollowedOutcome> {
    try {
      handle(m);
      return "handled";
    } catch (err) {
      if (!(err instanceof ContractViolation)) throw err;
      try {
        await this.o.deadLetters.publish({ subject: m.subject, data: m.data, seq: m.seq }, err.reason, err.message);
      } catch (e) {
        throw new DeadLetterNotPublished(m.subject, err.reason, e);
      }
      this.o.metrics.deadletters.inc();
      this.o.log.warn(
        { subject: m.subject, seq: m.seq, reason: err.reason, err: err.message.slice(0, 512) },
        "invalid L7 message dead-lettered",
      );
      return "deadlettered";
    }
  }
}
