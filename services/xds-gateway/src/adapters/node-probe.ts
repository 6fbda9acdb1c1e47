import { request } from "node:http";
import type { Logger } from "@sharedlb/runtime";
import type { FailedProbe, ProbeTarget } from "@sharedlb/serving";
import { NodeProbeVerdicts, type ProbeOutcome, type ProbeThresholds } from "../domain/node-probe-verdicts.js";
import type { GatewayMetrics } from "../metrics.js";

export interface NodeProberOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Probes in flight at once, over all tenants and nodes. */
  readonly concurrency: number;
  readonly thresholds: ProbeThresholds;
  /** What to probe now (the view's probeTargets): read at the start of every round. */
  readonly targets: () => readonly ProbeTarget[];
  /** Called with every failing signal whenever a verdict changes. */
  readonly onVerdicts: (failing: ReadonlyMap<string, FailedProbe>) => void;
  readonly metrics: Pick<GatewayMetrics, "nodeProbes" | "nodeProbeTargets" | "nodeProbeFailing" | "nodeProbeRoundSeconds">;
  readonly log: Logger;
}

const KINDS = ["kubeProxy", "healthCheckNodePort"] as const;
const METRIC_KIND: Record<ProbeTarget["kind"], string> = { kubeProxy: "kube_proxy", healthCheckNodePort: "health_check_node_port" };

/**
 * Probes the tenant nodes' kube-proxy health signals over HTTP, as a cloud load balancer
 * does, and hands the damped verdicts to the view: a node kube-proxy reports as going away
 * (KEP-3836: 503 while drained or deleted) or a Local Service's node without a local
 * endpoint is served UNHEALTHY to Envoys and proxyless gRPC clients alike, with no Node
 * change needed. Rounds never overlap: the next one starts an interval after the last ended,
 * so a slow round stretches the period instead of stacking probes.
 */
export class NodeProber {
  private readonly verdicts: NodeProbeVerdicts;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly options: NodeProberOptions) {
    this.verdicts = new NodeProbeVerdicts(options.thresholds);
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const c of this.inFlight) c.abort();
    await this.round;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.runRound().finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    const started = performance.now();
    const targets = this.options.targets();
    for (const kind of KINDS) {
      this.options.metrics.nodeProbeTargets.set({ kind: METRIC_KIND[kind] }, targets.filter((t) => t.kind === kind).length);
    }
    let changed = this.verdicts.retain(new Set(targets.map((t) => t.key)));
    let next = 0;
    const worker = async () => {
      while (!this.stopped && next < targets.length) {
        const target = targets[next++] as ProbeTarget;
        const outcome = await this.probe(target);
        if (this.stopped) return;
        if (this.verdicts.record(target, outcome)) {
          changed = true;
          this.options.log.info(
            { cluster: target.cluster, node: target.node, address: target.address, port: target.port, kind: target.kind },
            outcome.ok ? "node health signal passes again" : `node health signal fails: ${outcome.message}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, targets.length) }, worker));
    if (this.stopped) return;
    for (const kind of KINDS) this.options.metrics.nodeProbeFailing.set({ kind: METRIC_KIND[kind] }, this.verdicts.failingCount(kind));
    this.options.metrics.nodeProbeRoundSeconds.observe((performance.now() - started) / 1000);
    if (changed) this.options.onVerdicts(this.verdicts.failing());
  }

  /** One `GET /healthz`: 200 passes, anything else (status, refusal, timeout) fails. */
  private probe(target: ProbeTarget): Promise<ProbeOutcome> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const where = `${target.address.includes(":") ? `[${target.address}]` : target.address}:${target.port}/healthz`;
    const count = (outcome: string) => this.options.metrics.nodeProbes.inc({ kind: METRIC_KIND[target.kind], outcome });
    return new Promise<ProbeOutcome>((resolve) => {
      // The deadline covers connecting and the whole answer, not only socket idleness.
      const deadline = setTimeout(() => {
        count("timeout");
        resolve({ ok: false, message: `no answer from ${where} within ${this.options.timeoutMs} ms` });
        controller.abort();
      }, this.options.timeoutMs);
      const done = (outcome: ProbeOutcome, metric: string) => {
        clearTimeout(deadline);
        // Aborted: the deadline has answered already, or the prober is stopping.
        if (!controller.signal.aborted) count(metric);
        resolve(outcome);
      };
      const req = request(
        {
          host: target.address,
          port: target.port,
          path: "/healthz",
          method: "GET",
          agent: false,
          signal: controller.signal,
          headers: { "user-agent": "sharedlb-xds-gateway" },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on("end", () =>
            status === 200 ? done({ ok: true }, "healthy") : done({ ok: false, message: `HTTP ${status} from ${where}` }, "unhealthy"),
          );
          res.on("error", () => undefined);
        },
      );
      req.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, message: `${where}: ${err.code ?? err.message}` }, "error"));
      req.end();
    }).finally(() => this.inFlight.delete(controller));
  }
}
