import type { Logger } from "./logging.js";

type Hook = { name: string; run: () => Promise<void> | void };

/**
 * Ordered shutdown: first everything is marked not ready, then inputs are drained
 * (consumers, streams), then clients are closed. Hooks of a stage run in reverse order of
 * registration, like nested resources.
 */
export class Lifecycle {
  private readonly stages: Record<"notReady" | "drain" | "close", Hook[]> = { notReady: [], drain: [], close: [] };
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly deadlineMs = 15_000,
  ) {}

  onNotReady(name: string, run: Hook["run"]): void {
    this.stages.notReady.push({ name, run });
  }
  onDrain(name: string, run: Hook["run"]): void {
    this.stages.drain.push({ name, run });
  }
  onClose(name: string, run: Hook["run"]): void {
    this.stages.close.push({ name, run });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** SIGTERM and SIGINT stop the process gracefully; a second signal exits at once. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.stopping) {
        this.log.warn({ signal }, "second signal, exiting now");
        process.exit(1);
      }
      this.log.info({ signal }, "shutting down");
      void this.stop().then(() => process.exit(0));
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  stop(): Promise<void> {
    this.stopping ??= this.runStages();
    return this.stopping;
  }

  private async runStages(): Promise<void> {
    const timer = setTimeout(() => {
      this.log.error({ deadlineMs: this.deadlineMs }, "shutdown deadline passed, exiting");
      process.exit(1);
    }, this.deadlineMs);
    timer.unref();
    for (const stage of ["notReady", "drain", "close"] as const) {
      for (const hook of [...this.stages[stage]].reverse()) {
        try {
          await hook.run();
        } catch (err) {
          this.log.warn({ hook: hook.name, err }, "shutdown hook failed");
        }
      }
    }
    clearTimeout(timer);
    this.log.info("stopped");
  }
}
