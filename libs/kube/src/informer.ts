import { type KubeConfig, type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import { backoffMs, describeError, type Logger } from "@sharedlb/runtime";

export type InformerVerb = "add" | "update" | "delete";

export interface SupervisedInformerOptions<T extends KubernetesObject> {
  /** Bounded name for logs and metrics, e.g. "services". */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/services`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Field selector of the watch (e.g. `type=kubernetes.io/tls`); `list` must apply the same one. */
  fieldSelector?: string;
  /**
   * Called for every change. Keep it trivial (push a key onto a queue): it runs inside
   * client-node's watch callback, where a throw would become an unhandled rejection.
   */
  onChange: (obj: T, verb: InformerVerb) => void;
  log: Logger;
  /** Called with the error each time the informer stops and is scheduled to restart. */
  onRestart?: (err: unknown) => void;
  /** Backoff between restarts: base and cap in ms. */
  restartBaseMs?: number;
  restartCapMs?: number;
}

/**
 * A client-node informer that keeps running. client-node stops an informer on any error
 * other than 410/timeout (network drop, 403, 5xx) and never restarts it; here every stop
 * schedules a restart with backoff, until `stop()`, which itself makes the informer emit
 * an error that must not trigger a restart. A restart resumes from the last
 * resourceVersion; client-node relists by itself when that is too old (410).
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly opts: SupervisedInformerOptions<T>) {
    this.informer = new ListWatch(opts.path, new Watch(opts.kubeConfig), opts.list, false, undefined, opts.fieldSelector);
    for (const verb of ["add", "update", "delete"] as const) {
      this.informer.on(verb, (obj: T) => {
        try {
          opts.onChange(obj, verb);
        } catch (err) {
          opts.log.error({ informer: opts.name, err: describeError(err) }, "informer handler failed");
        }
      });
    }
    this.informer.on("error", (err?: unknown) => this.onError(err));
  }

  /** True once the first list has completed: the cache is a full picture. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  start(): void {
    this.stopping = false;
    void this.startOnce();
  }

  /** Resolves after the first complete list (however many restarts that takes). */
  waitForSync(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.informer.stop();
  }

  private async startOnce(): Promise<void> {
    try {
      await this.informer.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    // start() also returns after a failed list (reported through "error"); only a
    // resourceVersion proves the list went through.
    if (this.stopping || this.restartTimer || this.informer.latestResourceVersion() === "") return;
    this.attempt = 0;
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private onError(err: unknown): void {
    if (this.stopping || this.restartTimer) return;
    const ms = backoffMs(this.attempt++, this.opts.restartBaseMs ?? 500, this.opts.restartCapMs ?? 30_000);
    this.opts.log.warn({ informer: this.opts.name, err: describeError(err), restartInMs: ms }, "informer stopped, restarting");
    this.opts.onRestart?.(err);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) void this.startOnce();
    }, ms);
  }
}
