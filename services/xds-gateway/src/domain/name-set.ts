import { namesKey } from "./names-fingerprint.js";

const EMPTY: ReadonlySet<string> = new Set();

/**
 * Shared, read-only sets of names, interned by content. Envoys of one fleet subscribe
 * to the same thousands of EDS names; sharing one Set among them instead of one per
 * stream saved ~0.3 MB per delta stream at 10,000 Services.
 */
export class NameSetRegistry {
  private readonly sets = new Map<string, { set: ReadonlySet<string>; refs: number }>();

  get size(): number {
    return this.sets.size;
  }

  /** Returns a shared set equal to `names` (which it may keep) and the key to release it by. */
  intern(names: Set<string>): { key: string | undefined; set: ReadonlySet<string> } {
    if (names.size === 0) return { key: undefined, set: EMPTY };
    const key = namesKey(false, names);
    const held = this.sets.get(key);
    if (held) {
      // The key is a fingerprint: share only what is really equal.
      if (held.set.size !== names.size || ![...names].every((n) => held.set.has(n))) return { key: undefined, set: names };
      held.refs++;
      return { key, set: held.set };
    }
    this.sets.set(key, { set: names, refs: 1 });
    return { key, set: names };
  }

  release(key: string | undefined): void {
    if (key === undefined) return;
    const held = this.sets.get(key);
    if (held && --held.refs <= 0) this.sets.delete(key);
  }
}

/**
 * One stream's subscribed names: a shared base (see NameSetRegistry) plus the stream's
 * own additions and removals. When those grow past a quarter of the base, the whole is
 * interned again, so streams that made the same changes end up sharing again.
 */
export class NameSet implements Iterable<string> {
  private baseKey: string | undefined;
  private base: ReadonlySet<string> = EMPTY;
  private readonly added = new Set<string>();
  private readonly removed = new Set<string>();

  constructor(private readonly registry: NameSetRegistry = new NameSetRegistry()) {}

  has(name: string): boolean {
    return this.added.has(name) || (this.base.has(name) && !this.removed.has(name));
  }

  add(name: string): void {
    if (this.base.has(name)) this.removed.delete(name);
    else this.added.add(name);
  }

  delete(name: string): void {
    if (this.base.has(name)) this.removed.add(name);
    else this.added.delete(name);
  }

  /** The interned set this one equals, when it has no changes of its own (shareable by identity). */
  shared(): ReadonlySet<string> | undefined {
    return this.added.size === 0 && this.removed.size === 0 && (this.baseKey !== undefined || this.base.size === 0) ? this.base : undefined;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const n of this.base) if (!this.removed.has(n)) yield n;
    yield* this.added;
  }

  /** Call after a batch of changes (one request): re-interns when the own part got big. */
  compact(): void {
    const own = this.added.size + this.removed.size;
    if (own < 64 || own < this.base.size / 4) return;
    const merged = new Set(this);
    this.registry.release(this.baseKey);
    const { key, set } = this.registry.intern(merged);
    this.baseKey = key;
    this.base = set;
    this.added.clear();
    this.removed.clear();
  }

  release(): void {
    this.registry.release(this.baseKey);
    this.baseKey = undefined;
    this.base = EMPTY;
    this.added.clear();
    this.removed.clear();
  }
}
