import { type ProgrammedObject, programmedObjectId, sameObjectIds } from "./programmed-object.js";
import { sameWarnings } from "./programmed-warnings.js";

/**
 * The tenant objects whose resources are built, and by which owner (a Service, an L7
 * slot: a Gateway with listeners on :80 and :443 is on two slots), at the version they
 * were built from. Objects that appear, go, change version or change warnings are
 * remembered until taken, so lb.programmed reports a new version (or what is newly not
 * served) even when its resources came out the same.
 */
export class ServedObjects {
  private readonly byId = new Map<string, { object: ProgrammedObject; owners: Set<string> }>();
  private readonly byOwner = new Map<string, readonly string[]>();
  private changed = new Set<string>();

  get(id: string): ProgrammedObject | undefined {
    return this.byId.get(id)?.object;
  }

  /** Makes `objects` the ones `owner` serves; `ids`: their programmedObjectIds, when known. */
  set(owner: string, objects: readonly ProgrammedObject[], ids: readonly string[] = objects.map(programmedObjectId)): void {
    const before = this.byOwner.get(owner) ?? [];
    // The same objects as before (every endpoints-only rebuild): none left this owner.
    const same = sameObjectIds(before, ids);
    if (!same) this.dropOthers(owner, before, ids);
    objects.forEach((object, i) => {
      const id = ids[i] ?? programmedObjectId(object);
      const held = this.byId.get(id);
      if (!held) {
        this.byId.set(id, { object, owners: new Set([owner]) });
        this.changed.add(id);
        return;
      }
      held.owners.add(owner);
      if (held.object.version !== object.version || !sameWarnings(held.object.warnings, object.warnings)) {
        held.object = object;
        this.changed.add(id);
      }
    });
    if (same) return;
    if (ids.length > 0) this.byOwner.set(owner, ids);
    else this.byOwner.delete(owner);
  }

  /** `owner` no longer serves those of `before` that are not in `ids`. */
  private dropOthers(owner: string, before: readonly string[], ids: readonly string[]): void {
    // A Set, not ids.includes: an L7 slot serves thousands of objects (5,000 routes: 25 M
    // string compares per rebuild, 200 ms).
    const kept = new Set(ids);
    for (const id of before) {
      if (kept.has(id)) continue;
      const held = this.byId.get(id);
      held?.owners.delete(owner);
      if (held?.owners.size === 0) {
        this.byId.delete(id);
        this.changed.add(id);
      }
    }
  }

  /** Objects served, gone or at a new version since the last call. */
  takeChanged(): Set<string> {
    const c = this.changed;
    this.changed = new Set();
    return c;
  }
}
