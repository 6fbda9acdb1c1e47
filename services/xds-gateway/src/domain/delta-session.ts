import { CLUSTER_TYPE, ENDPOINT_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { DeltaResponse, type SharedFirstSync } from "./delta-response.js";
import { PUSH_ORDER } from "./order.js";
import type { ErrorDetail, HeldListener, RequestOutcome } from "./protocol.js";
import type { ResourceEntry } from "./resource-entry.js";
import type { StoreChange } from "./resource-store.js";
import { StreamSubscription, type Subscription, SubscriptionRegistry } from "./subscription.js";

export interface DeltaRequest {
  readonly typeUrl: ResourceTypeUrl;
  readonly subscribe: readonly string[];
  readonly unsubscribe: readonly string[];
  /** What the client already has, sent on the first request of a (re)connected stream. */
  readonly initialVersions: ReadonlyMap<string, string>;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | undefined;
}

/** The resources of one type, as the fleet serves them now. */
export interface TypeView {
  get(name: string): ResourceEntry | undefined;
  nextNonce(): string;
  wildcardEntries(): Iterable<ResourceEntry>;
  wildcardVersion(): string;
  firstSync(sub: Subscription, perResponse: number): SharedFirstSync;
}

interface PendingChange {
  /** What the client had when the first unsent change came in (undefined: nothing). */
  readonly before: ResourceEntry | undefined;
  /** Sent even if the client holds this version (a name it asked for again, a warming cluster). */
  readonly force: boolean;
}

/** One shared value for the common pending change, rather than an object per name per stream. */
const SEND_AGAIN: PendingChange = Object.freeze({ before: undefined, force: true });

/** A shared first sync under way: the index of the next of its responses to send. */
interface SyncInProgress {
  readonly sync: SharedFirstSync;
  next: number;
}

interface TypeState {
  readonly subscription: StreamSubscription;
  initial: ReadonlyMap<string, string> | undefined;
  /** "all": first request; "wildcard": "*" added later, named resources are already there. */
  fullSync: "all" | "wildcard" | undefined;
  sync: SyncInProgress | undefined;
  changes: Map<string, PendingChange>;
  /**
   * The fleet change that `changes` holds exactly, when it is all this stream has to send
   * (nothing else pending, nothing rejected, nothing forced): the response is then the
   * same for every such stream of the same subscription, and shared (changeResponses).
   */
  clean: readonly StoreChange[] | undefined;
  /**
   * `changes` is empty and what is pending is exactly `clean`, not copied into it: a
   * stream that is handed the shared response never needs the copy (500 map entries per
   * stream per node flap). Copied in (materialize) as soon as anything else touches it.
   */
  lazy: boolean;
  inflight: Map<string, DeltaResponse>;
  nacked: Map<string, string>;
}

/**
 * Responses to one fleet change, by subscription (null: nothing to send): after a node
 * flap every Envoy of a fleet gets the same 500 assignments, encoded once, not once per
 * stream. Kept as long as the change itself (every stream is handed the same list).
 */
const changeResponses = new WeakMap<readonly StoreChange[], Map<Subscription, DeltaResponse | null>>();

const REMOVED = "";
const MAX_INFLIGHT = 64;
const MAX_NACKED = 1024;

/**
 * Incremental (delta) ADS for one stream, without I/O.
 *
 * The session does not keep a per-resource copy of what the client has: after the first
 * sync the client holds what the fleet table held when it was last sent, so for every
 * change it is enough to remember the entry the change replaced. That keeps a stream's
 * memory proportional to its subscription, not to the resources it received (500
 * Envoys x 30,000 resources would otherwise be 15 million map entries).
 */
export class DeltaSession {
  private readonly types = new Map<ResourceTypeUrl, TypeState>();
  /** A request of this stream named what its client already holds (a reconnect). */
  private resumed = false;
  /**
   * Clusters sent on a resumed stream before its EDS request came (Envoy asks for
   * assignments once it has the clusters): their assignments go again when it does.
   */
  private readonly clustersBeforeEds = new Set<string>();

  /**
   * @param maxPerResponse Resources per response. A first sync of 30,000 resources is
   *   sent as many responses of this size rather than one 10 MB one, so the bytes buffered
   *   for hundreds of connecting Envoys stay bounded (see WriteBudget); what does not fit
   *   stays pending and goes next, still before any later type.
   */
  constructor(
    private readonly maxPerResponse = 1000,
    /** Returns an equal string to keep instead of `name` (a shared copy), or `name`. */
    private readonly intern: (typeUrl: ResourceTypeUrl, name: string) => string = (_t, name) => name,
    private readonly subscriptions: SubscriptionRegistry = new SubscriptionRegistry(),
    private readonly onHeld: HeldListener = () => {},
  ) {}

  onRequest(req: DeltaRequest): RequestOutcome {
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    let outcome: RequestOutcome;
    if (!st) {
      st = {
        subscription: new StreamSubscription(this.subscriptions, typeUrl),
        // The request's own map (built for it, used by nothing else): no second copy of
        // the ~10,000 versions a reconnecting Envoy names per type.
        initial: req.initialVersions.size > 0 ? req.initialVersions : undefined,
        fullSync: "all",
        sync: undefined,
        changes: new Map(),
        clean: undefined,
        lazy: false,
        inflight: new Map(),
        nacked: new Map(),
      };
      this.types.set(typeUrl, st);
      if (req.initialVersions.size > 0) this.resumed = true;
      if (typeUrl === ENDPOINT_TYPE) {
        if (!sharedSyncAhead(st)) for (const name of this.clustersBeforeEds) st.changes.set(name, SEND_AGAIN);
        this.clustersBeforeEds.clear();
      }
      outcome = { kind: "initial", typeUrl };
    } else if (req.responseNonce === "") {
      outcome = { kind: "update", typeUrl };
    } else {
      outcome = this.answer(st, typeUrl, req);
    }
    const update = st.subscription.update(req.subscribe, req.unsubscribe, (name) => this.intern(typeUrl, name));
    if (update.wildcardAdded) st.fullSync ??= "wildcard";
    if (update.subscribed.length > 0 || req.unsubscribe.length > 0 || outcome.kind === "nack") unshare(st);
    // A name subscribed later is sent even if the client had it once: it dropped it when
    // it unsubscribed.
    if (outcome.kind !== "initial") for (const name of update.subscribed) st.changes.set(name, SEND_AGAIN);
    for (const name of req.unsubscribe) st.changes.delete(name);
    return outcome;
  }

  private answer(st: TypeState, typeUrl: ResourceTypeUrl, req: DeltaRequest): RequestOutcome {
    const sent = st.inflight.get(req.responseNonce);
    if (!sent) return { kind: "stale", typeUrl };
    st.inflight.delete(req.responseNonce);
    if (!req.errorDetail) return { kind: "ack", typeUrl, version: sent.systemVersion, entries: sent.resources };
    const rejected = (name: string, version: string) => {
      st.nacked.delete(name);
      st.nacked.set(name, version);
    };
    for (const e of sent.resources) rejected(e.name, e.version);
    for (const name of sent.removed) rejected(name, REMOVED);
    while (st.nacked.size > MAX_NACKED) {
      const oldest = st.nacked.keys().next();
      if (oldest.done) break;
      st.nacked.delete(oldest.value);
    }
    return { kind: "nack", typeUrl, version: sent.systemVersion, error: req.errorDetail, entries: sent.resources };
  }

  /** Records fleet changes of a type; returns whether this stream may need a response. */
  markChanged(typeUrl: ResourceTypeUrl, changes: readonly StoreChange[]): boolean {
    const st = this.types.get(typeUrl);
    if (!st) return false;
    const idle = !pending(st) && st.initial === undefined;
    if (idle && st.nacked.size === 0) {
      st.clean = changes;
      st.lazy = true;
      return true;
    }
    unshare(st);
    for (const c of changes) {
      // Keep the earliest: that is what the client holds until this is sent.
      if (!st.changes.has(c.name)) st.changes.set(c.name, { before: c.before, force: false });
    }
    return true;
  }

  subscription(typeUrl: ResourceTypeUrl): StreamSubscription | undefined {
    return this.types.get(typeUrl)?.subscription;
  }

  hasWork(): boolean {
    for (const st of this.types.values()) if (pending(st)) return true;
    return false;
  }

  close(): void {
    for (const st of this.types.values()) st.subscription.release();
    this.types.clear();
  }

  /** The next response in make-before-break order, or undefined when the client is current. */
  next(view: (typeUrl: ResourceTypeUrl) => TypeView): DeltaResponse | undefined {
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl);
      if (!st || !pending(st)) continue;
      const table = view(typeUrl);
      const response = this.startSharedSync(st, table) ?? this.continueSync(st) ?? this.diff(st, typeUrl, table);
      if (!response) continue;
      st.inflight.set(response.nonce, response);
      if (st.inflight.size > MAX_INFLIGHT) {
        const oldest = st.inflight.keys().next();
        if (!oldest.done) st.inflight.delete(oldest.value);
      }
      if (typeUrl === CLUSTER_TYPE) this.refreshEndpoints(response.resources);
      return response;
    }
    return undefined;
  }

  /**
   * A first sync with nothing known of the client (no initial_resource_versions, nothing
   * rejected) is the same for every stream of the same subscription: it is shared (see
   * SharedFirstSync). Changes arriving meanwhile wait in `changes` with the entry they
   * replaced, which is what the client holds once the sync's responses are in.
   */
  private startSharedSync(st: TypeState, table: TypeView): DeltaResponse | undefined {
    if (!sharedSyncAhead(st)) return undefined;
    st.fullSync = undefined;
    // The sync covers everything in scope now, including what was marked before it.
    clearChanges(st);
    st.sync = { sync: table.firstSync(st.subscription.interned(), this.maxPerResponse), next: 0 };
    return this.continueSync(st);
  }

  private continueSync(st: TypeState): DeltaResponse | undefined {
    const progress = st.sync;
    if (!progress) return undefined;
    const response = progress.sync.responses[progress.next++];
    if (progress.next >= progress.sync.responses.length) st.sync = undefined;
    return response;
  }

  private diff(st: TypeState, typeUrl: ResourceTypeUrl, table: TypeView): DeltaResponse | undefined {
    const clean = st.fullSync === undefined ? st.clean : undefined;
    if (clean) {
      let bySub = changeResponses.get(clean);
      if (!bySub) {
        bySub = new Map();
        changeResponses.set(clean, bySub);
      }
      const sub = st.subscription.interned();
      const shared = bySub.get(sub);
      if (shared !== undefined) {
        clearChanges(st);
        return shared ?? undefined;
      }
      unshare(st);
      const own = this.ownDiff(st, typeUrl, table);
      // One that leaves the rest pending (over maxPerResponse) is this stream's alone.
      if (st.changes.size === 0) bySub.set(sub, own ?? null);
      return own;
    }
    unshare(st);
    return this.ownDiff(st, typeUrl, table);
  }

  private ownDiff(st: TypeState, typeUrl: ResourceTypeUrl, table: TypeView): DeltaResponse | undefined {
    const diff = st.fullSync !== undefined ? this.fullDiff(st, table, st.fullSync) : this.changeDiff(st, table);
    st.fullSync = undefined;
    st.initial = undefined;
    clearChanges(st);
    const { removed } = diff;
    let resources = diff.resources;
    if (resources.length > this.maxPerResponse) {
      // The rest is not with the client yet: it goes in the next responses, as is.
      for (const e of resources.slice(this.maxPerResponse)) st.changes.set(e.name, SEND_AGAIN);
      resources = resources.slice(0, this.maxPerResponse);
    }
    if (resources.length === 0 && removed.length === 0) return undefined;
    return new DeltaResponse(typeUrl, table.nextNonce(), table.wildcardVersion(), resources, removed);
  }

  /** Everything in scope that the client does not have (first request, or "*" added). */
  private fullDiff(st: TypeState, table: TypeView, scope: "all" | "wildcard"): { resources: ResourceEntry[]; removed: string[] } {
    const resources: ResourceEntry[] = [];
    const sub = st.subscription;
    // Only the wildcard and named resources together can bring a name twice (and "*"
    // added later skips the named ones, sent already): a reconnecting Envoy's 10,000 names
    // per type need no set otherwise.
    const seen = scope === "wildcard" || (sub.wildcard && !sub[Symbol.iterator]().next().done) ? new Set<string>() : undefined;
    if (scope === "wildcard") for (const name of sub) seen?.add(name);
    const forced = st.changes.size > 0;
    const rejected = st.nacked.size > 0;
    let held: ResourceEntry[] = [];
    const consider = (e: ResourceEntry) => {
      if (seen) {
        if (seen.has(e.name)) return;
        seen.add(e.name);
      }
      // Held by the client, unless marked to go again (its cluster was just sent).
      if (st.initial?.get(e.name) === e.version && !(forced && st.changes.get(e.name)?.force === true)) held.push(e);
      else if (!rejected || st.nacked.get(e.name) !== e.version) resources.push(e);
    };
    if (sub.wildcard) for (const e of table.wildcardEntries()) consider(e);
    if (held.length > 0) this.onHeld(held);
    if (scope === "wildcard") return { resources, removed: [] };
    held = [];
    for (const name of sub) {
      const e = table.get(name);
      if (e) consider(e);
    }
    if (held.length > 0) this.onHeld(held);
    // On reconnect the client names what it holds; whatever is out of scope or gone since goes.
    const removed: string[] = [];
    for (const name of st.initial?.keys() ?? []) {
      const e = table.get(name);
      if (!e || !sub.covers(name, e.wildcard)) removed.push(name);
    }
    return { resources, removed };
  }

  private changeDiff(st: TypeState, table: TypeView): { resources: ResourceEntry[]; removed: string[] } {
    const resources: ResourceEntry[] = [];
    const removed: string[] = [];
    const inScope = (e: ResourceEntry) => st.subscription.covers(e.name, e.wildcard);
    for (const [name, change] of st.changes) {
      const now = table.get(name);
      const had = change.before !== undefined && inScope(change.before);
      if (now && inScope(now)) {
        if (!change.force && had && change.before?.version === now.version) continue;
        if (st.nacked.get(name) === now.version) continue;
        resources.push(now);
      } else if (had && st.nacked.get(name) !== REMOVED) {
        removed.push(name);
      }
    }
    return { resources, removed };
  }

  /** Envoy keeps a changed cluster warming until its ClusterLoadAssignment is sent again. */
  private refreshEndpoints(clusters: readonly ResourceEntry[]): void {
    const eds = this.types.get(ENDPOINT_TYPE);
    // A shared first sync still ahead sends every assignment, after CDS has nothing left
    // to send. Marking them here would hold one entry per cluster per stream until then:
    // 5.4 million, 0.4 GB, with 500 Envoys connecting at once.
    if (!eds) {
      // Only a resumed stream can have an assignment it will name as held.
      if (this.resumed) for (const c of clusters) this.clustersBeforeEds.add(c.name);
      return;
    }
    if (sharedSyncAhead(eds)) return;
    unshare(eds);
    for (const c of clusters) {
      const pending = eds.changes.get(c.name);
      eds.changes.set(c.name, pending?.before === undefined ? SEND_AGAIN : { before: pending.before, force: true });
    }
  }

  /** Names of a type that wait for a response of this stream's own (tests: what a stream holds). */
  pendingNames(typeUrl: ResourceTypeUrl): number {
    return this.types.get(typeUrl)?.changes.size ?? 0;
  }
}

/**
 * The stream's first sync of this type is still to come, and will be the shared one (it
 * knows nothing of the client: no initial_resource_versions, nothing rejected).
 */
function sharedSyncAhead(st: TypeState): boolean {
  return st.fullSync === "all" && st.initial === undefined && st.nacked.size === 0;
}

function pending(st: TypeState): boolean {
  return st.fullSync !== undefined || st.sync !== undefined || st.changes.size > 0 || st.lazy;
}

/** The response is this stream's own from now on: `clean`'s changes go into `changes`. */
function unshare(st: TypeState): void {
  if (st.lazy && st.clean) {
    for (const c of st.clean) if (!st.changes.has(c.name)) st.changes.set(c.name, { before: c.before, force: false });
  }
  st.lazy = false;
  st.clean = undefined;
}

function clearChanges(st: TypeState): void {
  st.changes.clear();
  st.lazy = false;
  st.clean = undefined;
}
