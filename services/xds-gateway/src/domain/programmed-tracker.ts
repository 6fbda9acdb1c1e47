import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { sameObjectIds } from "./programmed-object.js";
import type { ResourceEntry } from "./resource-entry.js";
import type { StoreChange } from "./resource-store.js";

/** A client of the fleet, as the tracker sees it. */
export interface TrackedStream {
  /** The Envoy node id (named in a NACK's error detail). */
  readonly nodeId: string;
  /** Whether the stream subscribes to this resource (an Envoy's wildcard LDS never covers an API listener). */
  covers(entry: ResourceEntry): boolean;
  /**
   * The same (===) for two streams whose covers() agree on every resource of the type
   * (undefined: the stream does not ask for the type): a fleet's Envoys mostly share one
   * subscription per type, and counting asks covers() once per subscription, not per stream.
   */
  coverage(typeUrl: ResourceTypeUrl): object | undefined;
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
  /** The current version (a new one replaces it in place: the maps keyed by it stay as they are). */
  entry: ResourceEntry;
  /** Its column in every stream's answers; kept across versions of the same resource. */
  readonly index: number;
  /** Queued in `touched`: its objects' counts may have changed. */
  touched: boolean;
  /** No longer served (its index may belong to another resource now). */
  gone?: true;
}

interface StreamAnswers {
  /** Its index in every object's applied versions. */
  readonly slot: number;
  /** By resource index: PENDING (unanswered, or sent and unanswered), ACKED or REJECTED. */
  answers: Uint8Array;
  /** By resource index, Envoy's text for each REJECTED. */
  readonly rejections: Map<number, Rejection>;
}

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
  /**
   * By type, then name (the entry's own string, whose hash V8 keeps). A new version
   * overwrites its Tracked in place: deleting and re-adding 500 keys per node flap in
   * maps of 30,000 made V8 rehash them over and over (a sixth of a flap's rebuild).
   */
  private readonly resources = new Map<ResourceTypeUrl, Map<string, Tracked>>();
  private readonly freeIndexes: number[] = [];
  private nextIndex = 0;
  private readonly objects = new Map<string, Set<Tracked>>();
  /**
   * What the entries of a response resolve to, by the response's array: every stream of a
   * subscription is sent (and answers) the same array, so after a node flap 100 streams'
   * ACKs of 500 assignments look them up once, not 100 times.
   */
  private readonly resolved = new WeakMap<readonly ResourceEntry[], readonly (Tracked | undefined)[]>();
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
      const table = this.table(c.typeUrl);
      const old = table.get(c.name);
      if (c.after) {
        if (!old) {
          const t: Tracked = { entry: c.after, index: this.freeIndexes.pop() ?? this.nextIndex++, touched: false };
          table.set(c.name, t);
          this.link(t, c.after.objects);
          continue;
        }
        // Equal bytes under new attribution: the answers still stand.
        if (old.entry.version !== c.after.version) this.forget(old.index);
        const before = old.entry.objects;
        old.entry = c.after;
        const after = c.after.objects;
        for (const o of after) this.dirty.add(o);
        if (!sameObjectIds(before, after)) {
          // Only objects that gained or lost the resource start over (see link).
          const now = new Set(after);
          const was = new Set(before);
          const lost = before.filter((o) => !now.has(o));
          const gained = after.filter((o) => !was.has(o));
          this.unlink(old, lost);
          this.link(old, gained);
        }
      } else if (old) {
        table.delete(c.name);
        old.gone = true;
        this.unlink(old, old.entry.objects);
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
    const resolved = this.resolve(entries);
    for (let i = 0; i < entries.length; i++) {
      const t = this.currentAt(entries, resolved, i);
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
    const resolved = this.resolve(entries);
    for (let i = 0; i < entries.length; i++) {
      const t = this.currentAt(entries, resolved, i);
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
    const resolved = this.resolve(entries);
    for (let i = 0; i < entries.length; i++) {
      const t = this.currentAt(entries, resolved, i);
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
   * by this fleet. A stream that had applied this very version of the object counts as
   * applied while one of its resources is re-sent for another reason (another route of a
   * shared RouteConfiguration, a Service's endpoints) and not yet answered, or answered
   * with a rejection: Envoy keeps serving its last good configuration, which carries the
   * object as it is now, and the rejection (and Envoy's text, which may name another
   * tenant's routes) belongs to the object that changed. So a node flap or a route edit
   * moves the counts of the objects whose version changed, not of every object that shares
   * a resource with them.
   */
  counts(object: string, version: number): ProgrammedCounts | undefined {
    return this.counter()(object, version);
  }

  /**
   * `counts` for many objects in one go (a flush slice): objects built from the same
   * resources (the routes of one shared RouteConfiguration, 250 of them) share the
   * per-stream work, which is most of it. Valid only until the caller yields to the event
   * loop: answers and subscriptions change between turns.
   */
  counter(): ObjectCounter {
    const streams = [...this.streams.keys()];
    const answers = [...this.streams.values()];
    const bySet = new Map<string, SetStand>();
    const coverage = new Coverage(streams);
    return (object, version) => {
      const tracked = this.objects.get(object);
      if (!tracked || tracked.size === 0) {
        this.appliedVersions.delete(object);
        return undefined;
      }
      const members = [...tracked].sort((a, b) => a.index - b.index);
      let key = "";
      for (const t of members) key += `${t.index},`;
      let stand = bySet.get(key);
      if (!stand) {
        stand = standOf(members, streams, answers, coverage);
        bySet.set(key, stand);
      }
      let applied = this.appliedVersions.get(object);
      if (!applied) {
        applied = [];
        this.appliedVersions.set(object, applied);
      }
      let acked = 0;
      let nacked = 0;
      let pending = 0;
      let error: Rejection | undefined;
      for (let j = 0; j < answers.length; j++) {
        const flags = stand.flags[j] ?? 0;
        if ((flags & COVERED) === 0) continue;
        const slot = (answers[j] as StreamAnswers).slot;
        const hadApplied = applied[slot] === version;
        const rejected = hadApplied ? undefined : stand.rejections[j];
        if (rejected) {
          nacked++;
          if (!error || rejected.nodeId < error.nodeId) error = rejected;
        } else if ((flags & WAITING) !== 0 && !hadApplied) pending++;
        else {
          acked++;
          applied[slot] = version;
        }
      }
      return { acked, nacked, pending, error };
    };
  }

  private resolve(entries: readonly ResourceEntry[]): readonly (Tracked | undefined)[] {
    let r = this.resolved.get(entries);
    if (!r) {
      r = entries.map((e) => this.current(e));
      this.resolved.set(entries, r);
    }
    return r;
  }

  /** current(entries[i]), checking what `resolved` says first (it may have gone stale since). */
  private currentAt(entries: readonly ResourceEntry[], resolved: readonly (Tracked | undefined)[], i: number): Tracked | undefined {
    const e = entries[i] as ResourceEntry;
    const t = resolved[i];
    return t && !t.gone && (t.entry === e || t.entry.version === e.version) ? t : this.current(e);
  }

  private current(e: ResourceEntry): Tracked | undefined {
    const t = this.resources.get(e.typeUrl)?.get(e.name);
    // Or another object with the current bytes (built before a re-attribution): rare.
    return t && (t.entry === e || t.entry.version === e.version) ? t : undefined;
  }

  private table(typeUrl: ResourceTypeUrl): Map<string, Tracked> {
    let t = this.resources.get(typeUrl);
    if (!t) {
      t = new Map();
      this.resources.set(typeUrl, t);
    }
    return t;
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

  /**
   * An object that gains or loses a resource has not been applied as it is now by any
   * stream (what counts.hadApplied relies on): a resource re-sent in place keeps it.
   */
  private link(t: Tracked, objects: readonly string[]): void {
    for (const o of objects) {
      this.appliedVersions.delete(o);
      let set = this.objects.get(o);
      if (!set) {
        set = new Set();
        this.objects.set(o, set);
      }
      set.add(t);
      this.dirty.add(o);
    }
  }

  private unlink(t: Tracked, objects: readonly string[]): void {
    for (const o of objects) {
      this.appliedVersions.delete(o);
      const set = this.objects.get(o);
      this.dirty.add(o);
      if (!set) continue;
      set.delete(t);
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

/** Counts for an object at `version` (see ProgrammedTracker.counter). */
export type ObjectCounter = (object: string, version: number) => ProgrammedCounts | undefined;

const COVERED = 1;
const WAITING = 2;

/** How each stream stands with one set of resources: flags by stream, and its rejection (the lowest index's). */
interface SetStand {
  readonly flags: Uint8Array;
  readonly rejections: (Rejection | undefined)[];
}

function standOf(
  members: readonly Tracked[],
  streams: readonly TrackedStream[],
  answers: readonly StreamAnswers[],
  coverage: Coverage,
): SetStand {
  const flags = new Uint8Array(answers.length);
  const rejections: (Rejection | undefined)[] = [];
  for (const t of members) {
    const tokens = coverage.of(t.entry.typeUrl);
    let lastToken: object | undefined | null = null;
    let lastCovers = false;
    for (let j = 0; j < answers.length; j++) {
      const token = tokens[j];
      if (token !== lastToken) {
        lastToken = token;
        lastCovers = (streams[j] as TrackedStream).covers(t.entry);
      }
      if (!lastCovers) continue;
      const st = answers[j] as StreamAnswers;
      const a = answer(st, t.index);
      flags[j] = (flags[j] ?? 0) | COVERED | (a === PENDING ? WAITING : 0);
      if (a === REJECTED) rejections[j] ??= st.rejections.get(t.index);
    }
  }
  return { flags, rejections };
}

/** Every stream's coverage token per type, read once per counter. */
class Coverage {
  private readonly byType = new Map<ResourceTypeUrl, readonly (object | undefined)[]>();

  constructor(private readonly streams: readonly TrackedStream[]) {}

  of(typeUrl: ResourceTypeUrl): readonly (object | undefined)[] {
    let tokens = this.byType.get(typeUrl);
    if (!tokens) {
      tokens = this.streams.map((s) => s.coverage(typeUrl));
      this.byType.set(typeUrl, tokens);
    }
    return tokens;
  }
}
