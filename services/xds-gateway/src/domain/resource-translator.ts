import { type Allocation, type L7Allocation, objectKey, type ResourceMessage } from "@sharedlb/contracts";
import { ENDPOINT_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import {
  type BuiltResource,
  buildL7SlotResources,
  buildLoadAssignments,
  buildServiceResources,
  type L7ObjectRef,
  L7SlotCache,
  type SecretOpener,
  type ServicePlan,
  TenantView,
} from "@sharedlb/serving";
import { type ProgrammedObject, programmedObjectId } from "./programmed-object.js";
import { serviceWarnings } from "./programmed-warnings.js";
import { ResourceEntry } from "./resource-entry.js";
import { type NameConflict, ResourceStore, type StoreChange } from "./resource-store.js";
import { ServedObjects } from "./served-objects.js";

/** What one translation of the view's changes produced. */
export interface Translation {
  readonly changes: readonly StoreChange[];
  readonly conflicts: readonly NameConflict[];
  /** Services served only in part, and why. */
  readonly warnings: readonly { readonly service: string; readonly warnings: readonly string[] }[];
  /** Services whose resources could not be built (a bug: input is validated); they keep what they had. */
  readonly failures: readonly { readonly service: string; readonly error: unknown }[];
  /** Services rebuilt in full, and those whose endpoints alone were rebuilt; L7 slots rebuilt. */
  readonly services: number;
  readonly l7Slots: number;
  readonly endpointsOnly: number;
  /** Objects (programmedObjectId) served, gone, or at a new version since the last translation. */
  readonly objects: ReadonlySet<string>;
}

const ENDPOINTS_ONLY: ReadonlySet<ResourceTypeUrl> = new Set([ENDPOINT_TYPE]);

/**
 * The pure translation: the view of tenant state in, Envoy resources (encoded once and
 * versioned) out, as changes since the last translation. No I/O, no clock, no fleets:
 * who serves what is FleetRegistry's business.
 */
export class ResourceTranslator {
  private readonly store = new ResourceStore();
  /** Per Service key, the object its allocation names (version: the allocation's resourceSequence). */
  private readonly allocated = new Map<string, ProgrammedObject>();
  private readonly served = new ServedObjects();
  /** Per L7 slot: what its last rebuild made, so an edit re-plans and re-encodes only what it changed. */
  private readonly slots = new Map<string, SlotMemory>();

  constructor(
    readonly view: TenantView = new TenantView(),
    /** Opens TLS private keys for SDS; without one, HTTPS chains are left out. */
    private readonly openSecret: SecretOpener = () => undefined,
  ) {}

  /** An object whose resources are served, at the version they are built from. */
  object(id: string): ProgrammedObject | undefined {
    return this.served.get(id);
  }

  get resourceCount(): number {
    return this.store.size;
  }

  /** `sequence`: the message's LB_RESOURCES sequence (route precedence ties: oldest first). */
  applyResource(msg: ResourceMessage, sequence?: number): void {
    this.view.applyResource(msg, sequence);
  }

  applyL7Allocation(allocation: L7Allocation): void {
    this.view.applyL7Allocation(allocation);
  }

  applyAllocation(allocation: Allocation): void {
    this.view.applyAllocation(allocation);
    const key = objectKey(allocation.cluster, allocation.namespace, allocation.name);
    if (allocation.state === "Released") this.allocated.delete(key);
    else {
      const { cluster, namespace, name, resourceSequence } = allocation;
      this.allocated.set(key, { kind: "service", cluster, namespace, name, version: resourceSequence });
    }
  }

  /** A served Service's lb.programmed object, with what the tenant is told is not served. */
  private reported(key: string, plan: ServicePlan): ProgrammedObject | undefined {
    const object = this.allocated.get(key);
    if (!object) return undefined;
    const warnings = serviceWarnings({ ...this.view.held(key), plan, selection: this.view.nodeSelection(key) });
    return warnings.length > 0 ? { ...object, warnings, pool: plan.pool } : object;
  }

  /** Builds the resources of every Service the view changed since the last call. */
  translateChanges(): Translation {
    const dirty = this.view.takeDirty();
    const changes: StoreChange[] = [];
    const conflicts: NameConflict[] = [];
    const warnings: { service: string; warnings: readonly string[] }[] = [];
    const failures: { service: string; error: unknown }[] = [];
    const keep = (result: ReturnType<ResourceStore["replace"]>) => {
      for (const c of result.changes) changes.push(c);
      for (const c of result.conflicts) conflicts.push(c);
    };
    // One Service's failure must not stop the others (nor, from the event loop, the process).
    const guarded = (service: string, build: () => void) => {
      try {
        build();
      } catch (error) {
        failures.push({ service, error });
      }
    };
    for (const key of dirty.full) {
      guarded(key, () => {
        const plan = this.view.plan(key);
        if (plan && plan.warnings.length > 0) warnings.push({ service: key, warnings: plan.warnings });
        const object = plan ? this.reported(key, plan) : undefined;
        const attribution = object ? [programmedObjectId(object)] : [];
        const entries = plan ? buildServiceResources(plan).map((b) => ResourceEntry.fromBuilt(b, plan.pool, key, attribution)) : [];
        keep(this.store.replace(key, entries));
        this.served.set(key, object ? [object] : []);
      });
    }
    for (const key of dirty.endpoints) {
      guarded(key, () => {
        const plan = this.view.plan(key);
        // Not served: a full rebuild already removed everything of it.
        if (!plan) return;
        const object = this.reported(key, plan);
        const attribution = object ? [programmedObjectId(object)] : [];
        const entries = buildLoadAssignments(plan).map((b) => ResourceEntry.fromBuilt(b, plan.pool, key, attribution));
        keep(this.store.replace(key, entries, ENDPOINTS_ONLY));
        // Node changes alter which nodes are refused: the tenant hears of it.
        if (object) this.served.set(key, [object]);
      });
    }
    for (const key of dirty.l7Slots) {
      guarded(key, () => {
        const owner = l7Owner(key);
        const memory = this.slots.get(key) ?? new SlotMemory();
        // Dropped with the slot, and after a failed build (it is rebuilt from nothing next time).
        this.slots.delete(key);
        const plan = this.view.planL7Slot(key, memory.cache);
        if (!plan) {
          keep(this.store.replace(owner, []));
          this.served.set(owner, []);
          return;
        }
        const built = buildL7SlotResources(plan, this.openSecret, memory.cache);
        if (built.warnings.length > 0) warnings.push({ service: key, warnings: built.warnings });
        // A resource the cache handed back unchanged keeps its entry: no copy, no hash.
        const entries = built.resources.map((b) => {
          const entry =
            memory.entries.get(b) ??
            ResourceEntry.fromBuilt(
              b,
              plan.pool,
              owner,
              (b.objects ?? []).map((o) => memory.id(o)),
            );
          memory.entries.set(b, entry);
          return entry;
        });
        keep(this.store.replace(owner, entries));
        this.served.set(
          owner,
          plan.objects.map((o) => memory.programmed(o)),
          plan.objects.map((o) => memory.id(o)),
        );
        this.slots.set(key, memory);
      });
    }
    return {
      changes,
      conflicts,
      warnings,
      failures,
      l7Slots: dirty.l7Slots.size,
      services: dirty.full.size,
      endpointsOnly: dirty.endpoints.size,
      objects: this.served.takeChanged(),
    };
  }
}

/**
 * An L7 slot's caches. The slot cache hands back the same BuiltResource for what did not
 * change and the same L7ObjectRef for a route it did not re-plan, so their entries, ids
 * and lb.programmed objects are kept by those objects.
 */
class SlotMemory {
  readonly cache = new L7SlotCache();
  readonly entries = new WeakMap<BuiltResource, ResourceEntry>();
  private readonly objects = new WeakMap<L7ObjectRef, { id: string; programmed: ProgrammedObject }>();

  id(o: L7ObjectRef): string {
    return this.object(o).id;
  }

  programmed(o: L7ObjectRef): ProgrammedObject {
    return this.object(o).programmed;
  }

  private object(o: L7ObjectRef) {
    let held = this.objects.get(o);
    if (!held) {
      held = { id: programmedObjectId(o), programmed: programmedL7Object(o) };
      this.objects.set(o, held);
    }
    return held;
  }
}

/** The store owner of an L7 slot's resources (`<pool>/<ip>/<port>`), apart from Service keys. */
function l7Owner(slotKey: string): string {
  return `l7:${slotKey}`;
}

function programmedL7Object(o: L7ObjectRef): ProgrammedObject {
  return { kind: o.kind, cluster: o.cluster, namespace: o.namespace, name: o.name, version: o.generation };
}
