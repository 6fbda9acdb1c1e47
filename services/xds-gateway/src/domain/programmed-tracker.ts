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

/** How the fleet's streams stand with one object's current resources. */
export interface ProgrammedCounts {
  readonly acked: number;
  readonly nacked: number;
  readonly pending: number;
  /** The rejection of the lowest node id, so every run reports the same one. */
  readonly error: Rejection | undefined;
}

/** A resource's answer from one stream; a stream's answers are one byte per resource. */
const PENDING = 0;
const ACKED = 1;
const REJECTED = 2;

interface Tracked {
  readonly entry: ResourceEntry;
  /** Its column in every stream's answers; kept across versions of the same resource. */
  readonly index: number;
  /** Queued in `touched`: its objects' counts may have changed. */
  touched: boolean;
}

interface StreamAnswers {
  /** Its index in every object's applied versions. */
  readonly slot: number;
  /** By resource index: PENDING (unanswered, or sent and unanswered), ACKED or REJECTED. */
  answers: Uint8Array;
  /** By resource index, Envoy's text for each REJECTED. */
  readonly rejections: Map<number, Rejection>;
}

const keyOf = (typeUrl: string, name: string) => `${typeUrl}|${name}`;

/**
 * What each stream of one fleet has done with the current version of each resource:
 * ACKed, NACKed (with Envoy's text), or not yet, and from that, per object (the tenant
 * objects a resource is built from, `ResourceEntry.objects`), how many streams have
 * applied all of its resources. Pure: the ADS streams report sends and answers, the
 * fleet reports changes, and the publisher asks for the objects whose counts may have
 * changed. A new version of a resource starts with no answers.
 *
 * Cost: a first sync of a hundred Envoys to ten thousand Services reports millions of
 * (stream, resource) answers, so each is an identity lookup of the entry (the same
 * object every stream is sent) and a byte in the stream's own array, and it marks the
 * resource rather than its objects. A send changes nothing the counts can see (sent and
 * unanswered are both pending) unless it re-sends a rejected version, so streams that
 * have no rejection skip it.
 *
 * Memory: one byte per (stream, resource), one number per (object, stream) counted as
 * applied.
 */
export class ProgrammedTracker {
  private readonly resources = new Map<string, Tracked>();
  /** The current entries, by identity (what streams send and answer). */
  private readonly byEntry = new Map<ResourceEntry, Tracked>();
  private readonly freeIndexes: number[] = [];
  private nextIndex = 0;
  private readonly objects = new Map<string, Set<string>>();
  private readonly streams = new Map<TrackedStream, StreamAnswers>();
  private readonly freeSlots: number[] = [];
  /** Per object, by stream slot, the version that stream last applied in full. */
  private readonly appliedVersions = new Map<string, (number | undefined)[]>();
  private dirty = new Set<string>();
  private touched: Tracked[] = [];
  /** Every object may have changed (a stream closed). */
  private everything = false;

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
        this.byEntry.delete(old.entry);
      }
      if (c.after) {
        let index: number;
        if (old) {
          index = old.index;
          // Equal bytes under new attribution: the answers still stand.
          if (old.entry.version !== c.after.version) this.forget(index);
        } else index = this.freeIndexes.pop() ?? this.nextIndex++;
        const t: Tracked = { entry: c.after, index, touched: false };
        this.resources.set(key, t);
        this.byEntry.set(c.after, t);
        this.link(c.after, key);
      } else if (old) {
        this.forget(old.index);
        this.freeIndexes.push(old.index);
      }
    }
  }

  connected(stream: TrackedStream): void {
    if (this.streams.has(stream)) return;
    const slot = this.freeSlots.pop() ?? this.streams.size;
    this.streams.set(stream, { slot, answers: new Uint8Array(Math.max(64, this.nextIndex)), rejections: new Map() });
  }

  closed(stream: TrackedStream): void {
    const st = this.streams.get(stream);
    if (!st) return;
    this.streams.delete(stream);
    this.freeSlots.push(st.slot);
    for (const applied of this.appliedVersions.values()) applied[st.slot] = undefined;
    // Objects it covered, answered or not, change (it no longer counts even as pending).
    this.everything = true;
  }

  /** A response carrying `entries` was written to `stream`. */
  sent(stream: TrackedStream, entries: readonly ResourceEntry[]): void {
    const st = this.streams.get(stream);
    if (!st || st.rejections.size === 0) return;
    for (const e of entries) {
      const t = this.current(e);
      // A rejected version sent again is pending again; a complete set carries what the
      // stream already applied, and that stays applied.
      if (!t || answer(st, t.index) !== REJECTED) continue;
      st.answers[t.index] = PENDING;
      st.rejections.delete(t.index);
      this.touch(t);
    }
  }

  /** The stream applied `entries`: ACKed them, or already held them on a reconnect. */
  acked(stream: TrackedStream, entries: readonly ResourceEntry[]): void {
    const st = this.streams.get(stream);
    if (!st) return;
    for (const e of entries) {
      const t = this.current(e);
      if (!t) continue;
      const a = answer(st, t.index);
      if (a === ACKED) continue;
      if (a === REJECTED) st.rejections.delete(t.index);
      setAnswer(st, t.index, ACKED);
      this.touch(t);
    }
  }

  /** The stream rejected a response carrying `entries`; those it had applied before stay applied. */
  nacked(stream: TrackedStream, entries: readonly ResourceEntry[], rejection: Rejection): void {
    const st = this.streams.get(stream);
    if (!st) return;
    for (const e of entries) {
      const t = this.current(e);
      if (!t || answer(st, t.index) === ACKED) continue;
      setAnswer(st, t.index, REJECTED);
      st.rejections.set(t.index, rejection);
      this.touch(t);
    }
  }

  /** Objects whose counts may have changed since the last call. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    if (this.everything) for (const o of this.objects.keys()) d.add(o);
    for (const t of this.touched) {
      t.touched = false;
      if (!this.everything) for (const o of t.entry.objects) d.add(o);
    }
    this.dirty = new Set();
    this.touched = [];
    this.everything = false;
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
      applied = [];
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
    for (const [stream, st] of this.streams) {
      let covered = false;
      let waiting = false;
      let rejected: Rejection | undefined;
      for (const t of tracked) {
        if (!stream.covers(t.entry)) continue;
        covered = true;
        const a = answer(st, t.index);
        if (a === ACKED) continue;
        if (a === PENDING) waiting = true;
        else rejected ??= st.rejections.get(t.index);
      }
      if (!covered) continue;
      if (rejected && applied[st.slot] === version) rejected = undefined;
      if (rejected) {
        nacked++;
        if (!error || rejected.nodeId < error.nodeId) error = rejected;
      } else if (waiting) pending++;
      else {
        acked++;
        applied[st.slot] = version;
      }
    }
    return { acked, nacked, pending, error };
  }

  private current(e: ResourceEntry): Tracked | undefined {
    const t = this.byEntry.get(e);
    if (t) return t;
    // Another object with the current bytes (built before a re-attribution): rare.
    const byKey = this.resources.get(keyOf(e.typeUrl, e.name));
    return byKey && byKey.entry.version === e.version ? byKey : undefined;
  }

  /** A resource index starts over: no stream has answered its new version. */
  private forget(index: number): void {
    for (const st of this.streams.values()) {
      if (index < st.answers.length) st.answers[index] = PENDING;
      st.rejections.delete(index);
    }
  }

  private touch(t: Tracked): void {
    if (t.touched) return;
    t.touched = true;
    this.touched.push(t);
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

function answer(st: StreamAnswers, index: number): number {
  // Past the array's end (a resource newer than the stream's last write) reads undefined.
  return st.answers[index] ?? PENDING;
}

function setAnswer(st: StreamAnswers, index: number, value: number): void {
  if (index >= st.answers.length) {
    const grown = new Uint8Array(Math.max(index + 1, st.answers.length * 2));
    grown.set(st.answers);
    st.answers = grown;
  }
  st.answers[index] = value;
}
