import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { ResourceEntry } from "./resource-entry.js";
import type { StoreChange } from "./resource-store.js";

/** A client of the fleet, as the tracker sees it. */
export interface TrackedStream {
  /** The Envoy node id (named in a NACK's error detail). */
  readonly nodeId: string;
  /** Whether the stream subscribes to this resource (an Envoy's wildcard LDS never covers an API listener). */
  covers(entry: ResourceEntry): boolean;
}

/** Envoy's rejection of a response carrying the resource. */
export interface Rejection {
  readonly typeUrl: ResourceTypeUrl;
  readonly nodeId: string;
  readonly message: string;
}

type Answer = "sent" | "acked" | Rejection;

/** How the fleet's streams stand with one object's current resources. */
export interface ProgrammedCounts {
  readonly acked: number;
  readonly nacked: number;
  readonly pending: number;
  /** The rejection of the lowest node id, so every run reports the same one. */
  readonly error: Rejection | undefined;
}

interface Tracked {
  readonly entry: ResourceEntry;
  readonly answers: Map<TrackedStream, Answer>;
}

const keyOf = (typeUrl: string, name: string) => `${typeUrl}|${name}`;

/**
 * What each stream of one fleet has done with the current version of each resource:
 * sent, ACKed, or NACKed (with Envoy's text), and from that, per object (the tenant
 * objects a resource is built from, `ResourceEntry.objects`), how many streams have
 * applied all of its resources. Pure: the ADS streams report sends and answers, the
 * fleet reports changes, and the publisher asks for the objects whose counts may have
 * changed. A new version of a resource starts with no answers.
 *
 * Memory: one map entry per (stream, resource) it was sent.
 */
export class ProgrammedTracker {
  private readonly resources = new Map<string, Tracked>();
  private readonly objects = new Map<string, Set<string>>();
  private readonly streams = new Set<TrackedStream>();
  /** Per object, the version each stream last applied in full. */
  private readonly appliedVersions = new Map<string, Map<TrackedStream, number>>();
  private dirty = new Set<string>();

  get streamCount(): number {
    return this.streams.size;
  }

  /** The fleet's resources changed. */
  applyChanges(changes: readonly StoreChange[]): void {
    for (const c of changes) {
      const key = keyOf(c.typeUrl, c.name);
      const old = this.resources.get(key);
      if (old) {
        this.unlink(old.entry, key);
        this.resources.delete(key);
      }
      if (c.after) {
        // Equal bytes under new attribution: the answers still stand.
        const answers = old && old.entry.version === c.after.version ? old.answers : new Map<TrackedStream, Answer>();
        this.resources.set(key, { entry: c.after, answers });
        this.link(c.after, key);
      }
    }
  }

  connected(stream: TrackedStream): void {
    this.streams.add(stream);
  }

  closed(stream: TrackedStream): void {
    if (!this.streams.delete(stream)) return;
    for (const applied of this.appliedVersions.values()) applied.delete(stream);
    for (const t of this.resources.values()) {
      // Objects it covered without answers change too (it no longer counts as pending).
      if (t.answers.delete(stream) || stream.covers(t.entry)) this.touch(t.entry);
    }
  }

  /** A response carrying `entries` was written to `stream`. */
  sent(stream: TrackedStream, entries: readonly ResourceEntry[]): void {
    for (const e of entries) {
      const t = this.current(e);
      if (!t) continue;
      const had = t.answers.get(stream);
      // A complete set carries what the stream already applied: that stays applied.
      if (had === "acked" || had === "sent") continue;
      t.answers.set(stream, "sent");
      this.touch(e);
    }
  }

  /** The stream applied `entries`: ACKed them, or already held them on a reconnect. */
  acked(stream: TrackedStream, entries: readonly ResourceEntry[]): void {
    for (const e of entries) {
      const t = this.current(e);
      if (!t || t.answers.get(stream) === "acked") continue;
      t.answers.set(stream, "acked");
      this.touch(e);
    }
  }

  /** The stream rejected a response carrying `entries`; those it had applied before stay applied. */
  nacked(stream: TrackedStream, entries: readonly ResourceEntry[], rejection: Rejection): void {
    for (const e of entries) {
      const t = this.current(e);
      if (!t || t.answers.get(stream) === "acked") continue;
      t.answers.set(stream, rejection);
      this.touch(e);
    }
  }

  /** Objects whose counts may have changed since the last call. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  /**
   * Counts for an object at `version`, or undefined when none of its resources is served
   * by this fleet. A stream that rejected a resource the object shares with others (one
   * RouteConfiguration per shared slot) after it had applied this very version of the
   * object counts as applied: Envoy keeps serving its last good configuration, which
   * carries the object as it is now, and the rejection (and Envoy's text, which may name
   * another tenant's routes) belongs to the object that changed.
   */
  counts(object: string, version: number): ProgrammedCounts | undefined {
    const keys = this.objects.get(object);
    if (!keys || keys.size === 0) {
      this.appliedVersions.delete(object);
      return undefined;
    }
    let applied = this.appliedVersions.get(object);
    if (!applied) {
      applied = new Map();
      this.appliedVersions.set(object, applied);
    }
    const tracked: Tracked[] = [];
    for (const k of keys) {
      const t = this.resources.get(k);
      if (t) tracked.push(t);
    }
    let acked = 0;
    let nacked = 0;
    let pending = 0;
    let error: Rejection | undefined;
    for (const stream of this.streams) {
      let covered = false;
      let waiting = false;
      let rejected: Rejection | undefined;
      for (const t of tracked) {
        if (!stream.covers(t.entry)) continue;
        covered = true;
        const a = t.answers.get(stream);
        if (a === "acked") continue;
        if (a === undefined || a === "sent") waiting = true;
        else rejected ??= a;
      }
      if (!covered) continue;
      if (rejected && applied.get(stream) === version) rejected = undefined;
      if (rejected) {
        nacked++;
        if (!error || rejected.nodeId < error.nodeId) error = rejected;
      } else if (waiting) pending++;
      else {
        acked++;
        applied.set(stream, version);
      }
    }
    return { acked, nacked, pending, error };
  }

  private current(e: ResourceEntry): Tracked | undefined {
    const t = this.resources.get(keyOf(e.typeUrl, e.name));
    return t && t.entry.version === e.version ? t : undefined;
  }

  private touch(e: ResourceEntry): void {
    for (const o of e.objects) this.dirty.add(o);
  }

  private link(e: ResourceEntry, key: string): void {
    for (const o of e.objects) {
      let set = this.objects.get(o);
      if (!set) {
        set = new Set();
        this.objects.set(o, set);
      }
      set.add(key);
      this.dirty.add(o);
    }
  }

  private unlink(e: ResourceEntry, key: string): void {
    for (const o of e.objects) {
      const set = this.objects.get(o);
      this.dirty.add(o);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.objects.delete(o);
    }
  }
}
