import type { GatewayResource, L7Allocation, Programmed, RouteResource } from "@sharedlb/contracts";
import { apiErrorClass, apiErrorMessage, apiStatusCode, isTransientApiError, WorkQueue } from "@sharedlb/kube";
import { describeError, errorDetails, KeyedQueue, type Logger } from "@sharedlb/runtime";
import type { EventRegarding } from "../adapters/event-recorder.js";
import { l7EventName } from "../domain/event-name.js";
import {
  GATEWAY_GROUP,
  type L7ObjectKind,
  ROUTE_KINDS,
  type RouteKind,
  readGateway,
  readGatewayClass,
  readIngress,
  readMeta,
  readRoute,
} from "../domain/l7/gateway-api.js";
import { desiredGatewayStatus } from "../domain/l7/gateway-status.js";
import { desiredGatewayClassConditions } from "../domain/l7/gatewayclass-status.js";
import { desiredIngressStatus } from "../domain/l7/ingress-status.js";
import type { L7Event } from "../domain/l7/l7-event.js";
import {
  type L7StatusPatch,
  planGatewayClassStatus,
  planGatewayStatus,
  planIngressStatus,
  planRouteParents,
} from "../domain/l7/l7-plan.js";
import { desiredRouteParents } from "../domain/l7/route-status.js";
import { L7World, parseWorkKey } from "../domain/l7/world.js";
import type { ReporterMetrics } from "../metrics.js";
import type { L7EventSink, L7Feed, L7ObjectStore, L7Sink } from "./ports.js";
import type { PassResult } from "./reporter.js";

export interface L7ReporterOptions {
  concurrency: number;
  feed: L7Feed;
  objects: L7ObjectStore;
  recorder: L7EventSink;
  metrics: ReporterMetrics;
  log: Logger;
  /** The clock for condition transition times. */
  now?: () => Date;
}

interface Plan {
  patch: L7StatusPatch | undefined;
  events: L7Event[];
}

const MAX_CONFLICT_RETRIES = 5;
/** Event names recorded by this process, so a pass does not ask the API server again; bounded. */
const MAX_REMEMBERED_EVENTS = 100_000;

/**
 * The leader's L7 work: makes every Gateway, route, Ingress and GatewayClass of sharedlb
 * carry what the LB side says about it. NATS messages only update the in-memory world and
 * queue the keys they affect; a pass reads the object fresh (get, no watch needed), decides
 * its status, and merge-patches only the difference, conditional on the resourceVersion
 * it read. Passes wait until the feed has delivered the current state, so a restart writes
 * from the whole picture and writes nothing when nothing changed.
 */
export class L7Reporter implements L7Sink {
  private readonly world = new L7World();
  private readonly queue: WorkQueue<PassResult>;
  private readonly events: KeyedQueue;
  private readonly recorded = new Set<string>();
  private live = false;
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly opts: L7ReporterOptions) {
    this.now = opts.now ?? (() => new Date());
    this.queue = new WorkQueue((key) => this.reconcile(key), { concurrency: opts.concurrency });
    this.events = new KeyedQueue(Math.max(1, Math.ceil(opts.concurrency / 4)), (key, err) =>
      opts.log.error({ object: key, err: errorDetails(err) }, "recording an Event failed"),
    );
  }

  get isReady(): boolean {
    return this.live && this.opts.feed.caughtUp;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  async start(): Promise<void> {
    const started = performance.now();
    await this.opts.feed.start(this);
    if (this.stopped) return;
    this.live = true;
    const keys = this.world.keys();
    this.opts.log.info(
      { objects: keys.length, ms: Math.round(performance.now() - started) },
      "L7 state replayed; reconciling every L7 object",
    );
    for (const key of keys) this.queue.enqueue(key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    await this.opts.feed.stop();
    await this.queue.stop();
    await this.events.idle();
  }

  /** Resolves when no pass is waiting or running (tests, drain). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  allocation(a: L7Allocation, seq: number): void {
    this.touch(this.world.setAllocation(a, seq));
  }

  programmed(p: Programmed, source: string, seq: number): void {
    this.touch(this.world.setProgrammed(p, source, seq));
  }

  gateway(namespace: string, name: string, r: GatewayResource | undefined, seq: number): void {
    this.touch(this.world.setGateway(namespace, name, r, seq));
  }

  route(kind: RouteKind | "ingress", namespace: string, name: string, r: RouteResource | undefined, seq: number): void {
    this.touch(this.world.setRoute(kind, namespace, name, r, seq));
  }

  /** Before the replay is complete, changes only build the world: the start-up pass covers them. */
  private touch(keys: readonly string[]): void {
    if (this.live) for (const k of keys) this.queue.enqueue(k);
  }

  private async reconcile(key: string): Promise<PassResult> {
    const { kind, namespace, name } = parseWorkKey(key);
    let result: PassResult = { outcome: "Unchanged", transient: false };
    let obj: unknown;
    let plan: Plan | undefined;
    try {
      for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
        obj = await this.opts.objects.get(kind, namespace, name);
        plan = obj === undefined ? undefined : this.plan(kind, obj);
        if (!plan?.patch) break;
        const started = performance.now();
        try {
          obj = await this.opts.objects.patchStatus(kind, namespace, name, plan.patch);
          this.opts.metrics.writeSeconds.observe((performance.now() - started) / 1000);
          result = { outcome: "Written", transient: false };
          break;
        } catch (err) {
          // 409: changed since it was read (another controller's entry, a new generation): decide again.
          if (apiStatusCode(err) !== 409 || attempt === MAX_CONFLICT_RETRIES - 1) throw err;
          this.opts.metrics.apiErrors.inc({ class: apiErrorClass(err) });
        }
      }
    } catch (err) {
      this.opts.metrics.apiErrors.inc({ class: apiErrorClass(err) });
      // 404: the object went away between the read and the write; nothing is left to write.
      if (apiStatusCode(err) !== 404) {
        result = { outcome: "Failed", transient: isTransientApiError(err) };
        this.opts.log.warn({ object: key, err: apiErrorMessage(err) }, "L7 status write failed");
      }
    }
    this.opts.metrics.l7Passes.inc({ kind, outcome: result.outcome });
    if (result.outcome === "Failed" && result.transient) this.queue.retryLater(key);
    else this.queue.forget(key);
    if (obj !== undefined && plan && plan.events.length > 0) this.recordEvents(key, kind, obj, plan.events);
    return result;
  }

  private plan(kind: L7ObjectKind, obj: unknown): Plan | undefined {
    const now = this.now();
    const { namespace, name } = readMeta(obj);
    switch (kind) {
      case "gatewayclass": {
        const gc = readGatewayClass(obj);
        const want = desiredGatewayClassConditions(gc);
        return want ? { patch: planGatewayClassStatus(gc, want, now), events: [] } : undefined;
      }
      case "gateway": {
        const gw = readGateway(obj);
        const v = desiredGatewayStatus(gw, this.world.gateway(namespace, name));
        return v.action === "leave" ? undefined : { patch: planGatewayStatus(gw, v.status, now), events: v.events };
      }
      case "ingress": {
        const ing = readIngress(obj);
        const v = desiredIngressStatus(ing, this.world.ingress(namespace, name));
        return v.action === "leave" ? undefined : { patch: planIngressStatus(ing, v.status), events: v.events };
      }
      default: {
        const route = readRoute(obj, kind);
        const v = desiredRouteParents(route, this.world.route(kind, namespace, name));
        return v.action === "leave" ? undefined : { patch: planRouteParents(route, v.status, now), events: v.events };
      }
    }
  }

  /** Off the pass, in order per object: the status is what users wait for; Events follow. */
  private recordEvents(key: string, kind: L7ObjectKind, obj: unknown, events: readonly L7Event[]): void {
    const meta = readMeta(obj);
    const regarding: EventRegarding = {
      apiVersion: kind === "ingress" ? "networking.k8s.io/v1" : `${GATEWAY_GROUP}/v1`,
      kind: kind === "ingress" ? "Ingress" : kind === "gateway" ? "Gateway" : kind === "gatewayclass" ? "GatewayClass" : ROUTE_KINDS[kind],
      namespace: meta.namespace,
      name: meta.name,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
    };
    for (const ev of events) {
      const eventName = l7EventName(meta.name, meta.uid, ev.id);
      if (this.recorded.has(eventName)) continue;
      if (this.recorded.size >= MAX_REMEMBERED_EVENTS) this.recorded.clear();
      this.recorded.add(eventName);
      void this.events.push(key, async () => {
        try {
          const created = await this.opts.recorder.recordAbout(regarding, eventName, ev, "Report");
          this.opts.metrics.events.inc({ reason: ev.reason, result: created ? "recorded" : "exists" });
        } catch (err) {
          // Recorded on a later pass; the condition already carries the same information.
          this.recorded.delete(eventName);
          this.opts.metrics.events.inc({ reason: ev.reason, result: "failed" });
          this.opts.log.warn({ object: key, err: describeError(err) }, "event not recorded");
        }
      });
    }
  }
}
