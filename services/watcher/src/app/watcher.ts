import { describeDataErrors, validateData } from "@sharedlb/contracts";
import { type ClassScope, WorkQueue } from "@sharedlb/kube";
import { describeError, type Logger } from "@sharedlb/runtime";
import { decide, type DesiredResource, desiredEndpoints, desiredNode, desiredService, type PublishedEntry } from "../domain/desired.js";
import { isL7Kind, parseRefKey, type ResourceRef, refKey } from "../domain/keys.js";
import type { WatcherMetrics } from "../metrics.js";
import { COMPANIONS_KEY, type L7Publisher } from "./l7.js";
import type { ClusterObjects, L7Objects, PublishedState, ResourceSink } from "./ports.js";

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
  /** Ingress and Gateway API publishing; absent: L4 only. */
  l7?: { publisher: L7Publisher; objects: L7Objects };
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
    if (!this.live) return;
    this.queue.enqueue(key);
    const l7 = this.opts.l7?.publisher;
    if (!l7) return;
    const ref = parseRefKey(key);
    if (ref.kind === "service") {
      // A backend (or its companion) changed: the routes naming it, and the companions.
      const touched = l7.keysForService(this.sources.service(ref.namespace, ref.name), ref.namespace, ref.name);
      for (const k of touched.keys) this.queue.enqueue(k);
      if (touched.companions) this.queue.enqueue(COMPANIONS_KEY);
    } else if (ref.kind === "ingress") {
      // An Ingress's TLS entries decide which Secrets are published.
      for (const k of this.l7Keys("secret")) this.queue.enqueue(k);
    }
  }

  /** Something every L7 object may depend on changed: all of them get a pass. */
  onL7Context(): void {
    if (!this.live || !this.opts.l7) return;
    for (const k of this.l7Keys()) this.queue.enqueue(k);
    this.queue.enqueue(COMPANIONS_KEY);
  }

  /** A TLS Secret changed: it, and the Gateways and Ingresses that may refer to it. */
  onSecret(namespace: string, name: string): void {
    if (!this.live || !this.opts.l7) return;
    this.queue.enqueue(refKey({ kind: "secret", namespace, name }));
    for (const k of this.opts.l7.publisher.certificateHolderKeys()) this.queue.enqueue(k);
  }

  /** L7 keys in the caches and in the stream (so vanished ones get tombstones). */
  private l7Keys(only?: "secret"): string[] {
    const l7 = this.opts.l7?.publisher;
    if (!l7) return [];
    const keys = new Set(only ? l7.secretKeys() : l7.allKeys());
    for (const k of this.published.keys()) {
      const kind = parseRefKey(k).kind;
      if (only ? kind === only : isL7Kind(kind)) keys.add(k);
    }
    return [...keys];
  }

  async start(): Promise<void> {
    const started = performance.now();
    this.sources.start();
    this.opts.l7?.objects.start();
    await Promise.all([this.sources.waitForSync(), this.opts.l7?.objects.waitForSync()]);
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
    await Promise.all([this.sources.stop(), this.opts.l7?.objects.stop()]);
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
    if (this.opts.l7) {
      for (const k of this.opts.l7.publisher.allKeys()) keys.add(k);
      keys.add(COMPANIONS_KEY);
    }
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
      default:
        return isL7Kind(ref.kind) ? this.opts.l7?.publisher.desired({ ...ref, kind: ref.kind }, this.published.get(refKey(ref))) : undefined;
    }
  }

  private async reconcileCompanions(): Promise<void> {
    const l7 = this.opts.l7?.publisher;
    if (!l7) return;
    try {
      const counts = await l7.reconcileCompanions();
      for (const op of ["created", "updated", "deleted"] as const) if (counts[op] > 0) this.metrics.companionWrites.inc({ op }, counts[op]);
      this.queue.forget(COMPANIONS_KEY);
    } catch (err) {
      this.metrics.companionWrites.inc({ op: "error" });
      this.log.warn({ err: describeError(err) }, "updating NodePort companions failed, will retry");
      this.queue.retryLater(COMPANIONS_KEY);
    }
  }

  private async reconcile(key: string, fromResync: boolean): Promise<void> {
    if (key === COMPANIONS_KEY) return this.reconcileCompanions();
    const ref = parseRefKey(key);
    let desired: DesiredResource | undefined;
    try {
      desired = this.desired(ref);
    } catch (err) {
      // A normalization bug must not stop the queue or touch other objects; the next change retries.
      this.metrics.invalid.inc({ kind: ref.kind });
      this.log.error({ key, err: describeError(err) }, "normalizing the object failed, not published");
      return;
    }
    // A route whose companion needs changed (new backend, route gone) calls for a companion pass.
    if (this.opts.l7?.publisher.takeCompanionsDirty()) this.queue.enqueue(COMPANIONS_KEY);
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
