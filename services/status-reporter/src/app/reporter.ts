import type { V1Service } from "@kubernetes/client-node";
import type { Allocation, Programmed } from "@sharedlb/contracts";
import {
  apiErrorClass,
  apiErrorMessage,
  apiStatusCode,
  type ClassScope,
  inScope,
  isTransientApiError,
  WorkQueue,
} from "@sharedlb/kube";
import { describeError, errorDetails, KeyedQueue, type Logger } from "@sharedlb/runtime";
import { decideStatus, hasOurMarks, type Verdict } from "../domain/desired-status.js";
import { eventName, l7EventName } from "../domain/event-name.js";
import { currentWarnings, decideNotices, type HeldReport, type ServingNotices } from "../domain/serving-notices.js";
import { planStatus } from "../domain/status-plan.js";
import type { ReporterMetrics } from "../metrics.js";
import type {
  AllocationDelivery,
  AllocationFeed,
  Disposition,
  EventSink,
  FeedSubscription,
  ServiceCache,
  StatusReports,
  StatusWriter,
} from "./ports.js";

export interface ReporterOptions {
  scope: ClassScope;
  concurrency: number;
  services: ServiceCache;
  allocations: AllocationFeed;
  writer: StatusWriter;
  recorder: EventSink;
  reports: StatusReports;
  metrics: ReporterMetrics;
  log: Logger;
  /** The clock for condition transition times and the lag metric. */
  now?: () => Date;
}

export interface PassResult {
  outcome: "Written" | "Unchanged" | "Failed";
  /** A Failed pass that may succeed when tried again. */
  transient: boolean;
}

interface Held {
  allocation: Allocation;
  seq: number;
}

const MAX_CONFLICT_RETRIES = 5;
/** Notice Events this process recorded (or found recorded); forgotten past this many, which costs a 409 each. */
const MAX_REMEMBERED_NOTICES = 10_000;

/**
 * The leader's work: makes every Service of ours carry its latest allocation. Allocations
 * come from the cluster's durable consumer (and a replay of the stream's last values on
 * start, so nothing depends on what a previous leader acked); Service changes come from an
 * informer. Both only queue a key; a pass compares what the Service carries with what it
 * should and writes only the difference.
 */
export class Reporter {
  private readonly held = new Map<string, Held>();
  /** Per Service, the latest lb.programmed report of each (fleet, xds-gateway replica). */
  private readonly programmedReports = new Map<string, Map<string, HeldReport>>();
  /** Notice Events already recorded, so a pass per Service does not ask the API again for each. */
  private readonly noticed = new Set<string>();
  /** The object a write returned, newer than the informer's copy until the watch catches up. */
  private readonly written = new Map<string, V1Service>();
  private readonly queue: WorkQueue<PassResult>;
  /** Kubernetes Events, recorded after the status writes and with less concurrency. */
  private readonly events: KeyedQueue;
  private consumer: FeedSubscription | undefined;
  private live = false;
  private ready = false;
  private stopped = false;
  private readonly services: ServiceCache;
  private readonly writer: StatusWriter;
  private readonly recorder: EventSink;
  private readonly reports: StatusReports;
  private readonly metrics: ReporterMetrics;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly opts: ReporterOptions) {
    ({ services: this.services, writer: this.writer, recorder: this.recorder, reports: this.reports } = opts);
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.now = opts.now ?? (() => new Date());
    this.queue = new WorkQueue((key, report) => this.reconcile(key, report), { concurrency: opts.concurrency });
    this.events = new KeyedQueue(Math.max(1, Math.ceil(opts.concurrency / 4)), (service, err) =>
      this.opts.log.error({ service, err: errorDetails(err) }, "recording an Event failed"),
    );
  }

  get isReady(): boolean {
    return this.ready && this.consumer?.ready === true;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  /** The Service informer's handler: forget stale writes, queue the key. */
  onServiceChange(svc: V1Service, verb: "add" | "update" | "delete"): void {
    const key = `${svc.metadata?.namespace ?? ""}/${svc.metadata?.name ?? ""}`;
    if (verb === "delete") this.written.delete(key);
    if (this.live) this.queue.enqueue(key);
  }

  /**
   * A Service's lb.programmed report (others are the L7 reporter's): what the fleet leaves
   * out of it. `source` is the reporting xds-gateway replica.
   */
  programmed(report: Programmed, source: string, seq: number): void {
    if (report.kind !== "service") return;
    const key = `${report.namespace}/${report.name}`;
    let reports = this.programmedReports.get(key);
    if (!reports) {
      reports = new Map();
      this.programmedReports.set(key, reports);
    }
    const reporter = `${report.fleet} ${source}`;
    const had = reports.get(reporter);
    if (had && had.seq >= seq) return;
    reports.set(reporter, { report, seq });
    if (this.live) this.queue.enqueue(key);
  }

  async start(): Promise<void> {
    const started = performance.now();
    this.services.start();
    await this.services.waitForSync();
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const all = await this.opts.allocations.replay();
        for (const h of all) this.remember(h.allocation, h.seq);
        break;
      } catch (err) {
        this.log.warn({ err: describeError(err) }, "replaying allocations failed, retrying");
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
      }
    }
    if (this.stopped) return;
    this.live = true;
    const keys = new Set(this.held.keys());
    for (const svc of this.services.list()) {
      if (inScope(svc, this.opts.scope) || hasOurMarks(svc)) keys.add(`${svc.metadata?.namespace ?? ""}/${svc.metadata?.name ?? ""}`);
    }
    const counts = { Written: 0, Unchanged: 0, Failed: 0 };
    const passes = [...keys].map((key) =>
      this.queue.add(key).then(
        (r) => void counts[r.outcome]++,
        () => void counts.Failed++,
      ),
    );
    this.log.info(
      { allocations: this.held.size, keys: keys.size, ms: Math.round(performance.now() - started) },
      "synced; reconciling every Service",
    );
    void Promise.all(passes).then(() =>
      this.log.info({ ...counts, ms: Math.round(performance.now() - started) }, "initial reconcile done"),
    );
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.opts.allocations.prepare();
        break;
      } catch (err) {
        this.log.warn({ err: describeError(err) }, "creating the allocation consumer failed, retrying");
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
      }
    }
    if (this.stopped) return;
    this.consumer = this.opts.allocations.consume((d) => this.onAllocation(d));
    this.ready = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ready = false;
    this.live = false;
    await this.consumer?.drain();
    await this.services.stop();
    await this.queue.stop();
    await this.events.idle();
  }

  private remember(allocation: Allocation, seq: number): void {
    const key = `${allocation.namespace}/${allocation.name}`;
    const h = this.held.get(key);
    // Redeliveries and the start-up replay may bring an older message after a newer one.
    if (!h || h.seq < seq) this.held.set(key, { allocation, seq });
  }

  /** A new allocation: remember it, reconcile its Service, and say whether it is done. */
  private async onAllocation({ allocation, seq, publishedAtMs }: AllocationDelivery): Promise<Disposition> {
    this.remember(allocation, seq);
    let result: PassResult;
    try {
      result = await this.queue.add(`${allocation.namespace}/${allocation.name}`, true);
    } catch {
      // Stopping: the next leader gets it again.
      return "retry";
    }
    this.metrics.allocationLagSeconds.observe(Math.max(0, this.now().getTime() - publishedAtMs) / 1000);
    return result.outcome === "Failed" && result.transient ? "backoff" : "done";
  }

  /** The newest copy of a Service this process knows: the informer's, or what a write returned. */
  private current(key: string, namespace: string, name: string): V1Service | undefined {
    const cached = this.services.get(name, namespace);
    const mine = this.written.get(key);
    if (!cached || !mine) {
      if (!cached) this.written.delete(key);
      return cached;
    }
    if (rvAtLeast(cached, mine)) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }

  private async reconcile(key: string, report: boolean): Promise<PassResult> {
    const [namespace = "", name = ""] = key.split("/");
    const held = this.held.get(key);
    let svc = this.current(key, namespace, name);
    let verdict: Verdict | undefined;
    let result: PassResult = { outcome: "Unchanged", transient: false };
    let error: string | undefined;
    const notices = this.noticesFor(key, held);
    for (let attempt = 0; svc && attempt < MAX_CONFLICT_RETRIES; attempt++) {
      verdict = decideStatus(svc, held?.allocation, this.opts.scope, notices);
      const plan = verdict.action === "write" ? planStatus(svc, verdict.status, this.now()) : undefined;
      if (!plan) break;
      const started = performance.now();
      try {
        const written = await this.writer.apply(namespace, name, plan);
        this.metrics.writeSeconds.observe((performance.now() - started) / 1000);
        this.written.set(key, written);
        result = { outcome: "Written", transient: false };
        const ev = verdict.status.event;
        // Off the pass: the status is what users wait for; the Event follows, in order per Service.
        if (ev && held && (plan.changes.condition || plan.changes.ingress)) {
          const seq = held.seq;
          void this.events.push(key, () => this.recordEvent(written, seq, ev));
        }
        break;
      } catch (err) {
        const code = apiStatusCode(err);
        this.metrics.apiErrors.inc({ class: apiErrorClass(err) });
        if (code === 404) {
          svc = undefined;
          break;
        }
        if (code === 409 || code === 422) {
          // A conflict, or the uid precondition failed (the name now belongs to a re-created
          // Service): decide again on a fresh copy.
          let fresh: V1Service | undefined;
          try {
            fresh = await this.writer.read(namespace, name);
          } catch (readErr) {
            if (apiStatusCode(readErr) !== 404) {
              result = { outcome: "Failed", transient: isTransientApiError(readErr) };
              error = apiErrorMessage(readErr);
              break;
            }
          }
          const sameObject = fresh?.metadata?.uid === svc.metadata?.uid;
          svc = fresh;
          if (code === 409 || !sameObject) continue;
        }
        result = { outcome: "Failed", transient: isTransientApiError(err) };
        error = apiErrorMessage(err);
        this.log.warn({ service: key, err: error }, "status write failed");
        break;
      }
    }
    if (!svc) {
      verdict = undefined;
      // Service and slots are gone: nothing will ever be written for this allocation again.
      if (held?.allocation.state === "Released") {
        this.held.delete(key);
        this.programmedReports.delete(key);
      }
    }
    const shown = verdict?.status.notices;
    if (svc && shown && result.outcome !== "Failed") this.recordNotices(key, svc, shown);
    this.metrics.passes.inc({ outcome: result.outcome });
    if (result.outcome === "Failed" && result.transient && !report) this.queue.retryLater(key);
    else this.queue.forget(key);
    if (report || result.outcome !== "Unchanged") await this.publishReport(namespace, name, result, verdict, held, error);
    return result;
  }

  /** What the fleet's reports on the held allocation say is not served; undefined: no report on it yet. */
  private noticesFor(key: string, held: Held | undefined): ServingNotices | undefined {
    const reports = this.programmedReports.get(key);
    if (!held || !reports) return undefined;
    const warnings = currentWarnings(reports.values(), held.allocation.resourceSequence);
    return warnings && decideNotices(warnings);
  }

  /** Events on refused Nodes and on the Service, each once (the recorder's names make retries find them). */
  private recordNotices(key: string, svc: V1Service, notices: ServingNotices): void {
    const uid = svc.metadata?.uid ?? "";
    const wanted: { id: string; reason: string; record: () => Promise<"recorded" | "exists" | "gone"> }[] = notices.nodeEvents.map(
      (n) => ({ id: `node|${n.node}|${n.note}`, reason: n.reason, record: () => this.recorder.recordOnNode(n.node, n) }),
    );
    const ev = notices.serviceEvent;
    if (ev) {
      wanted.push({
        id: `service|${uid}|${ev.reason}|${ev.note}`,
        reason: ev.reason,
        record: async () => {
          const name = l7EventName(svc.metadata?.name ?? "", uid, `${ev.reason}|${ev.note}`);
          return (await this.recorder.record(svc, name, { type: "Warning", reason: ev.reason, note: ev.note })) ? "recorded" : "exists";
        },
      });
    }
    for (const w of wanted) {
      if (this.noticed.has(w.id)) continue;
      this.rememberNotice(w.id);
      void this.events.push(key, async () => {
        try {
          this.metrics.events.inc({ reason: w.reason, result: await w.record() });
        } catch (err) {
          // A notification: the condition carries the same, and a later pass tries again.
          this.noticed.delete(w.id);
          this.metrics.events.inc({ reason: w.reason, result: "failed" });
          this.log.warn({ service: key, reason: w.reason, err: apiErrorMessage(err) }, "Event not recorded");
        }
      });
    }
  }

  private rememberNotice(id: string): void {
    if (this.noticed.size >= MAX_REMEMBERED_NOTICES) this.noticed.clear();
    this.noticed.add(id);
  }

  private async recordEvent(svc: V1Service, seq: number, ev: NonNullable<Verdict["status"]["event"]>): Promise<void> {
    try {
      const created = await this.recorder.record(svc, eventName(svc.metadata?.name ?? "", svc.metadata?.uid ?? "", seq, ev.reason), ev);
      this.metrics.events.inc({ reason: ev.reason, result: created ? "recorded" : "exists" });
    } catch (err) {
      // An Event is a notification; the condition already carries the same information.
      this.metrics.events.inc({ reason: ev.reason, result: "failed" });
      this.log.warn({ service: `${svc.metadata?.namespace}/${svc.metadata?.name}`, err: apiErrorMessage(err) }, "event not recorded");
    }
  }

  private async publishReport(
    namespace: string,
    name: string,
    result: PassResult,
    verdict: Verdict | undefined,
    held: Held | undefined,
    error: string | undefined,
  ): Promise<void> {
    const condition = verdict?.summary ?? { status: "Unknown" as const, reason: "NotFound", message: "the Service does not exist" };
    try {
      await this.reports.publish({
        namespace,
        name,
        outcome: result.outcome,
        ip: verdict?.ip ?? "",
        ports: verdict?.ports ?? [],
        condition,
        ...(error !== undefined ? { error } : {}),
        ...(held ? { resourceSequence: held.allocation.resourceSequence } : {}),
      });
    } catch (err) {
      this.log.warn({ service: `${namespace}/${name}`, err: describeError(err) }, "status report not published");
    }
  }
}

/** resourceVersions are etcd revisions in practice; anything unparsable favours the informer. */
function rvAtLeast(a: V1Service, b: V1Service): boolean {
  try {
    return BigInt(a.metadata?.resourceVersion ?? "0") >= BigInt(b.metadata?.resourceVersion ?? "0");
  } catch {
    return true;
  }
}
