import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { backoffMs, describeError, type Logger } from "@sharedlb/runtime";
import { apiStatusCode } from "./api-errors.js";

export interface ApiResourceDiscoveryOptions {
  kubeConfig: KubeConfig;
  /** e.g. `gateway.networking.k8s.io` */
  group: string;
  /** e.g. `v1` */
  version: string;
  /** Resource plurals wanted, e.g. `["gateways", "httproutes"]`. */
  resources: readonly string[];
  /** Called once per wanted resource, when the apiserver first serves it. */
  onServed: (resource: string) => void;
  log: Logger;
  /** Backoff between polls: base and cap in ms. */
  baseMs?: number;
  capMs?: number;
}

/**
 * Polls API discovery until every wanted resource of an optional API group (one that
 * CRDs add, which a cluster may not have yet) is served, with backoff. Says once that
 * resources are absent (not at every poll), and for each one when it appears.
 */
export class ApiResourceDiscovery {
  private readonly api: CustomObjectsApi;
  private readonly served = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private attempt = 0;
  private reportedAbsent = false;
  /** True once discovery has answered at least once (whether or not the group exists). */
  answered = false;
  private answerWaiters: (() => void)[] = [];

  constructor(private readonly opts: ApiResourceDiscoveryOptions) {
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** The wanted resources served so far. */
  get servedResources(): ReadonlySet<string> {
    return this.served;
  }

  /** Resolves after the first answer; `onServed` has been called by then for every resource served at that time. */
  firstAnswer(): Promise<void> {
    if (this.answered) return Promise.resolve();
    return new Promise((resolve) => this.answerWaiters.push(resolve));
  }

  start(): void {
    this.stopped = false;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async poll(): Promise<void> {
    const { group, version, log } = this.opts;
    const gv = `${group}/${version}`;
    let present: Set<string> | undefined;
    try {
      const list = await this.api.getAPIResources({ group, version });
      present = new Set(list.resources.map((r) => r.name));
    } catch (err) {
      const code = apiStatusCode(err);
      if (code === 404) present = new Set();
      else if (code !== undefined && code >= 400 && code < 500 && code !== 429) {
        // Refused for good (RBAC on discovery, a broken aggregated API): treated as absent,
        // so the rest of the process is not held up; polling goes on.
        log.warn({ api: gv, err: describeError(err) }, "API discovery refused; treating the API as absent");
        present = new Set();
      } else log.warn({ api: gv, err: describeError(err) }, "API discovery failed, retrying");
    }
    if (this.stopped) return;
    if (present) {
      for (const r of this.opts.resources) {
        if (!this.served.has(r) && present.has(r)) {
          this.served.add(r);
          this.attempt = 0;
          log.info({ api: gv, resource: r }, "API resource served, watching it");
          this.opts.onServed(r);
        }
      }
      if (!this.answered) {
        this.answered = true;
        for (const w of this.answerWaiters.splice(0)) w();
      }
      const missing = this.opts.resources.filter((r) => !this.served.has(r));
      if (missing.length === 0) return;
      if (!this.reportedAbsent) {
        this.reportedAbsent = true;
        log.info({ api: gv, missing }, "API resources not served by this cluster (CRDs not installed); checking again with backoff");
      }
    }
    this.timer = setTimeout(() => void this.poll(), backoffMs(this.attempt++, this.opts.baseMs ?? 1000, this.opts.capMs ?? 60_000));
  }
}
