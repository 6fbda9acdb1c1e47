import { describeDataErrors, validateData } from "@sharedlb/contracts";
import { type ClassScope, WorkQueue } from "@sharedlb/kube";
import { describeError, type Logger } from "@sharedlb/runtime";
import { decide, type DesiredResource, desiredEndpoints, desiredNode, desiredService, type PublishedEntry } from "../domain/desired.js";
import { parseRefKey, type ResourceRef, refKey } from "../domain/keys.js";
import type { WatcherMetrics } from "../metrics.js";
import type { ClusterObjects, PublishedState, ResourceSink } from "./ports.js";

export interface WatcherOptions {
  cluster: string;
  scope: ClassScope;
  concurrency: number;
  resyncIntervalMs: number;
  objects: ClusterObjects;
  published: PublishedState;
  sink: ResourceSink;
  metrics: WatcherMetrics;
  log: Logger;
}

/**
 * The leader's work: keeps `lb.resource.<cluster>.…` equal to the cluster. Every change
 * becomes a key on a work queue; a pass recomputes the key's normalized state from the
 * informer caches and publishes it only if it differs from what the stream holds. On
 * start and every resync interval the stream's last values are replayed, so objects that
 * vanished while no watcher ran get their tombstones, and anything lost is republished.
 */
export class Watcher {
  private readonly queue: WorkQueue<void>;
  private published = new Map<string, PublishedEntry>();
  /** Stands for an empty subject in event ids, naming the stream state last replayed. */
  private absentId = "absent";
  private live = false;
  private ready = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  private stopped = false;
  private readonly sources: ClusterObjects;
  private readonly sink: ResourceSink;
  private readonly metrics: WatcherMetrics;
  private readonly log: Logger;

  constructor(private readonly opts: WatcherOptions) {
    this.sources = opts.objects;
    this.sink = opts.sink;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.queue = new WorkQueue((key, fromResync) => this.reconcile(key, fromResync), { concurrency: opts.concurrency });
  }

  /** Ready to serve: caches synced and the first full reconcile queued. */
  get isReady(): boolean {
    return this.ready;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  /** Informer handlers land here: a key, nothing else. Ignored until the first sync. */
  onKey(key: string): void {
    if (this.live) this.queue.enqueue(key);
  }

  async start(): Promise<void> {
    const started = performance.now();
    this.sources.start();
    await this.sources.waitForSync();
    if (this.stopped) return;
    this.log.info({ ms: Math.round(performance.now() - started) }, "informers synced");
    await this.resync("start");
    this.ready = true;
    this.resyncTimer = setInterval(() => {
      this.resyncing ??= this.resync("periodic").finally(() => {
        this.resyncing = undefined;
      });
    }, this.opts.resyncIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ready = false;
    this.live = false;
    clearInterval(this.resyncTimer);
    await this.sources.stop();
    await this.queue.stop();
    await this.resyncing?.catch(() => undefined);
  }

  /**
   * Replays what the stream holds for this cluster and queues every key that is either
   * there or in the cluster. Until the replay works (NATS down) it retries; a key
   * reconciled meanwhile compares against an older entry, which at worst republishes an
   * event whose id the stream drops as a duplicate.
   */
  private async resync(why: "start" | "periodic"): Promise<void> {
    const started = performance.now();
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const replayed = await this.opts.published.replay();
        this.published = replayed.entries;
        this.absentId = `absent@${replayed.streamSeq}`;
        break;
      } catch (err) {
        this.log.warn({ err: describeError(err), why }, "replaying published state failed, retrying");
        if (why === "periodic") return;
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
      }
    }
    if (this.stopped) return;
    // From here on changes are queued; what changed before is in the caches, which every
    // pass queued below reads.
    this.live = true;
    const keys = new Set(this.published.keys());
    for (const svc of this.sources.listServices()) {
      const namespace = svc.metadata?.namespace ?? "";
      const name = svc.metadata?.name ?? "";
      keys.add(refKey({ kind: "service", namespace, name }));
      keys.add(refKey({ kind: "endpoints", namespace, name }));
    }
    for (const node of this.sources.listNodes()) keys.add(refKey({ kind: "node", namespace: "", name: node.metadata?.name ?? "" }));
    const passes = [...keys].map((k) => this.queue.add(k, true).catch(() => undefined));
    this.log.info({ why, keys: keys.size, published: this.published.size }, "resync queued");
    const done = Promise.all(passes).then(() => {
      this.metrics.resyncSeconds.observe((performance.now() - started) / 1000);
      this.log.info({ why, keys: keys.size, ms: Math.round(performance.now() - started) }, "resync done");
    });
    // At start, live changes must not wait for the whole backlog; periodic resyncs do not overlap.
    if (why === "periodic") await done;
  }

  private desired(ref: ResourceRef): DesiredResource | undefined {
    const { cluster, scope } = this.opts;
    switch (ref.kind) {
      case "service":
        return desiredService(cluster, this.sources.service(ref.namespace, ref.name), scope);
      case "node":
        return desiredNode(cluster, this.sources.node(ref.name));
      case "endpoints":
        return desiredEndpoints(
          cluster,
          this.sources.service(ref.namespace, ref.name),
          this.sources.slicesOf(ref.namespace, ref.name),
          scope,
        );
    }
  }

  private async reconcile(key: string, fromResync: boolean): Promise<void> {
    const ref = parseRefKey(key);
    const desired = this.desired(ref);
    const action = decide(desired, this.published.get(key), this.absentId);
    this.log.debug({ key, action: action.kind }, "reconciled");
    if (action.kind === "none") {
      this.queue.forget(key);
      return;
    }
    try {
      if (action.kind === "publish") {
        if (!validateData(action.desired.type, action.desired.data)) {
          // Nothing downstream could accept it; the next change of the object retries.
          this.metrics.invalid.inc({ kind: ref.kind });
          this.log.warn(
            { key, errors: describeDataErrors(action.desired.type, action.desired.data).slice(0, 3) },
            "object violates the contract, not published",
          );
          return;
        }
        const duplicate = await this.sink.publish(ref, action.desired, action.id);
        this.published.set(key, { uid: action.desired.uid, fingerprint: action.desired.fingerprint, id: action.id });
        this.metrics.published.inc({ kind: ref.kind, op: duplicate ? "duplicate" : "upsert" });
        if (fromResync && !duplicate) this.metrics.resyncActions.inc({ op: "upsert" });
      } else {
        const duplicate = await this.sink.tombstone(ref, action.uid, action.id);
        this.published.set(key, { uid: action.uid, fingerprint: null, id: action.id });
        this.metrics.published.inc({ kind: ref.kind, op: duplicate ? "duplicate" : "tombstone" });
        if (fromResync && !duplicate) this.metrics.resyncActions.inc({ op: "tombstone" });
        this.log.debug({ key }, "tombstone published");
      }
      this.queue.forget(key);
    } catch (err) {
      this.metrics.publishErrors.inc({ kind: ref.kind });
      this.log.warn({ key, err: describeError(err) }, "publish failed, will retry");
      this.queue.retryLater(key);
    }
  }
}
