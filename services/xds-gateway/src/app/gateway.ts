import type { Allocation, L7Allocation, ResourceMessage } from "@sharedlb/contracts";
import { type FleetDefinition, type ProbeVerdicts, type SecretOpener, TenantView } from "@sharedlb/serving";
import { FleetRegistry } from "../domain/fleet-registry.js";
import type { FleetSnapshot } from "../domain/fleet-snapshot.js";
import type { ProgrammedObject } from "../domain/programmed-object.js";
import type { NameConflict } from "../domain/resource-store.js";
import { ResourceTranslator } from "../domain/resource-translator.js";
import type { ProgrammedSource } from "./programmed-reporter.js";
import { DEFAULT_REBUILD_WINDOW, RebuildScheduler, type RebuildTrigger, type RebuildWindow } from "./rebuild-scheduler.js";

export interface RebuildStats {
  /** What started it: going live after the replay, a burst's end or the max delay, or a direct call. */
  readonly trigger: "replay" | RebuildTrigger | "direct";
  /** From the first change it carries being applied to the rebuild starting (0 when not scheduled). */
  readonly waitedMs: number;
  readonly services: number;
  readonly l7Slots: number;
  readonly endpointsOnly: number;
  readonly changes: number;
  readonly ms: number;
}

export interface GatewayHooks {
  onWarning?(service: string, warnings: readonly string[]): void;
  /** Building a Service failed (a bug, not bad input: input is validated); it keeps what it had. */
  onBuildError?(service: string, err: unknown): void;
  onConflict?(conflict: NameConflict): void;
  onRebuild?(stats: RebuildStats): void;
}

/**
 * Messages in, fleets updated: applies messages to the translator's view as they come,
 * translates in batches (a burst of messages is one rebuild: see RebuildScheduler), and
 * not at all until the replay of both streams is done, so a replica never serves a
 * half-replayed state. The ADS server reads `fleets`.
 */
export class Gateway implements ProgrammedSource {
  readonly fleets: FleetRegistry;
  private readonly translator: ResourceTranslator;
  private changedObjects = new Set<string>();
  private live = false;
  private readonly scheduler: RebuildScheduler;

  constructor(
    fleets: readonly FleetDefinition[],
    private readonly hooks: GatewayHooks = {},
    /** The view to serve from; the main wiring passes one with the node address policy and reporting. */
    view: TenantView = new TenantView(),
    /** Opens TLS private keys (the sealing keyring); without one no HTTPS chain is served. */
    openSecret?: SecretOpener,
    window: RebuildWindow = DEFAULT_REBUILD_WINDOW,
  ) {
    this.fleets = new FleetRegistry(fleets);
    this.translator = new ResourceTranslator(view, openSecret);
    this.scheduler = new RebuildScheduler(window, (trigger, waitedMs) => this.build(trigger, waitedMs));
  }

  get view(): TenantView {
    return this.translator.view;
  }

  fleet(name: string): FleetSnapshot | undefined {
    return this.fleets.fleet(name);
  }

  get isLive(): boolean {
    return this.live;
  }

  get resourceCount(): number {
    return this.translator.resourceCount;
  }

  fleetSnapshots(): Iterable<FleetSnapshot> {
    return this.fleets.snapshots();
  }

  object(id: string): ProgrammedObject | undefined {
    return this.translator.object(id);
  }

  takeChangedObjects(): ReadonlySet<string> {
    const changed = this.changedObjects;
    this.changedObjects = new Set();
    return changed;
  }

  /** `sequence`: the message's stream sequence (route precedence ties). */
  applyResource(msg: ResourceMessage, sequence?: number): void {
    this.translator.applyResource(msg, sequence);
    this.schedule();
  }

  applyL7Allocation(allocation: L7Allocation): void {
    this.translator.applyL7Allocation(allocation);
    this.schedule();
  }

  applyAllocation(allocation: Allocation): void {
    this.translator.applyAllocation(allocation);
    this.schedule();
  }

  /** `stream` holds `pending` more messages for this replica (its last delivery's count): a burst is still arriving. */
  noteBacklog(stream: string, pending: number): void {
    if (this.live) this.scheduler.backlogged(stream, pending);
  }

  /** The node health signals the probes now judge failing. */
  applyProbeVerdicts(failing: ProbeVerdicts): void {
    this.translator.view.setProbeVerdicts(failing);
    this.schedule();
  }

  /** The replay is complete: build everything and start following changes. */
  goLive(): RebuildStats {
    this.live = true;
    return this.build("replay", 0);
  }

  /** Builds whatever changed since the last rebuild and hands it to the fleets. */
  rebuild(): RebuildStats {
    return this.build("direct", 0);
  }

  private build(trigger: RebuildStats["trigger"], waitedMs: number): RebuildStats {
    this.scheduler.cancel();
    const started = performance.now();
    const t = this.translator.translateChanges();
    for (const w of t.warnings) this.hooks.onWarning?.(w.service, w.warnings);
    for (const f of t.failures) this.hooks.onBuildError?.(f.service, f.error);
    for (const c of t.conflicts) this.hooks.onConflict?.(c);
    this.fleets.apply(t.changes, performance.now());
    for (const id of t.objects) this.changedObjects.add(id);
    const stats: RebuildStats = {
      trigger,
      waitedMs,
      services: t.services,
      l7Slots: t.l7Slots,
      endpointsOnly: t.endpointsOnly,
      changes: t.changes.length,
      ms: performance.now() - started,
    };
    this.hooks.onRebuild?.(stats);
    return stats;
  }

  private schedule(): void {
    if (this.live) this.scheduler.changed();
  }
}
