import type { Cluster, Redis } from "ioredis";
import { luaScript } from "./lua-scripts.js";

/**
 * Key layout (docs/allocator.md, "Redis layout"). Each pool's slot table, and the records,
 * outbox and queues of the objects placed in it, live under that pool's hash tag, so one
 * claim's script touches one Redis Cluster shard and pools spread over the shards. What
 * spans pools (quota ledgers, homes, leases, ready, sends) is under the global tag.
 */
export const DEFAULT_PREFIX = "sharedlb:alloc:";

/** The home of records that belong to no pool (rejected, or a tombstone of an unknown object). */
export const NO_POOL = "";

export const poolPrefix = (prefix: string, pool: string): string => `${prefix}{p:${pool}}:`;
export const globalPrefix = (prefix: string): string => `${prefix}{g}:`;

/** ioredis's single-node client or its Cluster client: both route a command by its first key. */
export type RedisClient = Redis | Cluster;

type LedgerClient = Redis & {
  /** lua/ledger.lua: the op, then its fields in order (its header). */
  sharedlbLedger(prefix: string, op: string, ...fields: string[]): Promise<unknown>;
  sharedlbEvict(prefix: string, owner: string, seq: number, now: number, delayMs: number): Promise<string>;
};

export interface QuotaAsk {
  cluster: string;
  services: number;
  ports: number;
  limitServices: number;
  limitPorts: number;
  /** What a Service limit counts, in the refusal ("Services"). */
  what: string;
  /** Said after "allowed ports" in the refusal. */
  portNote: string;
}

/** What a script in a home returned: the record (as stored there, or the one it was fenced against) and whether that home now holds it. */
export interface HomeReply<R> {
  record: R | null;
  stored: boolean;
}

/** What ledger.lua's begin returns for one owner: [entry, raised, fresh, also, denied, ...homes]. */
interface Begun {
  /** The owner's ledger entry as begin left it ("" if none). */
  entry: string;
  raised: boolean;
  fresh: boolean;
  also: boolean;
  denied: string | undefined;
  /** The owner's homes before begin. */
  homes: string[];
}

function beginReply(reply: unknown): Begun {
  const r = reply as [string, number, number, number, string, ...string[]];
  return {
    entry: r[0],
    raised: r[1] === 1,
    fresh: r[2] === 1,
    also: r[3] === 1,
    denied: r[4] === "" ? undefined : r[4],
    homes: r.slice(5) as string[],
  };
}

interface Seqd {
  seq: number;
  version: number;
  cluster: string;
}

/**
 * The steps around one object's change that span hash tags, each idempotent and ordered so
 * that a crash or a redelivery between them converges (the event is acked after all):
 * note the home and reserve quota (global tag), apply in the home (pool tag), evict the
 * record from any other home (make before break), settle the quota ledger (global tag).
 */
export class Homes {
  private readonly r: LedgerClient;
  readonly global: string;
  /** ledger.lua begins due, sent together (begin()). */
  private begins: { args: string[]; waiting: { resolve: (b: Begun) => void; reject: (err: unknown) => void }[] } | undefined;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.r = redis as LedgerClient;
    this.global = globalPrefix(prefix);
    if (!("sharedlbLedger" in redis)) {
      redis.defineCommand("sharedlbLedger", { numberOfKeys: 1, lua: luaScript("ledger") });
      redis.defineCommand("sharedlbEvict", { numberOfKeys: 1, lua: luaScript("evict") });
    }
  }

  pool(pool: string): string {
    return poolPrefix(this.prefix, pool);
  }

  async homes(owner: string): Promise<string[]> {
    return this.r.smembers(`${this.global}homes:${owner}`);
  }

  /** The owner's records in each of its homes (normally one; two while a move is unfinished). */
  async records(owner: string, homes?: readonly string[]): Promise<{ home: string; raw: string }[]> {
    const list = homes ?? (await this.homes(owner));
    const raws = await Promise.all(list.map((h) => this.r.get(`${this.pool(h)}svc:${owner}`)));
    return list.flatMap((home, i) => (raws[i] ? [{ home, raw: raws[i] }] : []));
  }

  /** The newest of the owner's records (by sequence, then version). */
  newest<R extends Seqd>(found: { home: string; raw: string }[], decode: (raw: string) => R): { home: string; rec: R } | null {
    let best: { home: string; rec: R } | null = null;
    for (const f of found) {
      const rec = decode(f.raw);
      if (!best || rec.seq > best.rec.seq || (rec.seq === best.rec.seq && rec.version > best.rec.version)) best = { home: f.home, rec };
    }
    return best;
  }

  /** Forgets a home that no longer holds the record; noted again if a record came back meanwhile. */
  async dropHome(owner: string, home: string): Promise<void> {
    await this.r.srem(`${this.global}homes:${owner}`, home);
    if ((await this.r.exists(`${this.pool(home)}svc:${owner}`)) === 1) await this.r.sadd(`${this.global}homes:${owner}`, home);
  }

  async forgotten(owner: string, cluster: string, home: string): Promise<void> {
    await this.dropHome(owner, home);
    await this.r.sharedlbLedger(this.global, "forget", owner, cluster);
  }

  /**
   * One change of `owner`: in `target` (a claim's pool), or (null) wherever its record is.
   * `run` applies it in a home, given the record from another home when it moves there;
   * `cost` is what a record holds of its tenant's quota.
   */
  async change<R extends Seqd, T extends HomeReply<R> & { done: boolean }>(opts: {
    owner: string;
    cluster: string;
    target: string | null;
    quota: QuotaAsk | null;
    now: number;
    releaseDelayMs: number;
    decode: (raw: string) => R;
    cost: (rec: R) => { services: number; ports: number };
    run: (home: string, prev: string | undefined, denied: string | undefined) => Promise<T>;
    /** Other owners (a Service's second-family records): whether any has a home is told in `alsoNoted`. */
    also?: readonly string[];
    /**
     * A claim of an owner with no record anywhere reserves its quota at version 1, the version
     * its new record gets (ledger.lua's `first`), so a claim that commits just that needs no
     * settle. Only for records whose first committed version is 1 (Services').
     */
    first?: boolean;
  }): Promise<T & { home: string; alsoNoted: boolean }> {
    const { owner, cluster, target, quota } = opts;
    const also = opts.also ?? [];
    const begun = await this.begin([
      owner,
      target ?? NO_POOL,
      cluster,
      String(quota?.services ?? 0),
      String(quota?.ports ?? 0),
      String(quota?.limitServices ?? 0),
      String(quota?.limitPorts ?? 0),
      quota?.what ?? "",
      quota?.portNote ?? "",
      opts.first ? "1" : "",
      String(also.length),
      ...also,
    ]);
    // Not asked: unknown, so noted as far as the caller can tell.
    const alsoNoted = opts.also ? begun.also : true;
    const before = begun.homes;
    // Only a record in another home than the one applied in is moved from or evicted: with no
    // other home (the usual case), nothing needs reading here.
    const found = before.every((h) => h === (target ?? before[0])) ? [] : await this.records(owner, before);
    let home: string;
    let prev: string | undefined;
    if (target !== null) {
      home = target;
      const elsewhere = found.filter((f) => f.home !== target);
      if (elsewhere.length > 0 && !found.some((f) => f.home === target)) prev = this.newestRaw(elsewhere, opts.decode);
    } else {
      home = this.newest(found, opts.decode)?.home ?? before[0] ?? NO_POOL;
    }
    const res = await opts.run(home, prev, begun.denied);
    if (!res.done) {
      if (target !== null && !before.includes(target) && !res.stored) await this.dropHome(owner, target);
      return { ...res, home, alsoNoted };
    }
    let settled = res.record;
    let settledHome = home;
    if (res.stored && res.record) {
      let keep = { home, seq: res.record.seq };
      for (const f of found) {
        if (f.home === home) continue;
        const out = await this.r.sharedlbEvict(this.pool(f.home), owner, keep.seq, opts.now, opts.releaseDelayMs);
        if (out.startsWith("newer:")) {
          // Another replica applied a later event of this object in its old home meanwhile: that record wins.
          await this.r.sharedlbEvict(this.pool(keep.home), owner, Number(out.slice(6)), opts.now, opts.releaseDelayMs);
          await this.dropHome(owner, keep.home);
          keep = { home: f.home, seq: Number(out.slice(6)) };
          settled = this.newest(await this.records(owner, [f.home]), opts.decode)?.rec ?? null;
          settledHome = f.home;
        } else {
          await this.dropHome(owner, f.home);
        }
      }
    } else if (target !== null && !before.includes(target)) {
      await this.dropHome(owner, target);
    }
    const held = settled ? opts.cost(settled) : { services: 0, ports: 0 };
    const version = settled?.version ?? 0;
    // A settle that would write the entry begin found (and left) changes nothing: a newer
    // version's settle wins over it anyway, and whoever raised a reservation settles it. So an
    // event that changed nothing (a redelivery, a resync) costs no third call.
    const same = begun.entry === `${held.services}|${held.ports}|${version}` && settledHome === home;
    const noop = same && begun.raised === false && (!res.stored || before.includes(home));
    // A fresh reservation (no home, no entry: begin wrote it at version 1) that the record of
    // version 1 holds exactly, in the home begin noted: its settle would write what begin wrote.
    // Whatever happened to the entry since is another event's: a raise (settled by whoever
    // raised it, which a settle here would have lowered meanwhile) or a newer version's settle
    // (which would refuse this one). No version 0 record exists to settle after it.
    const freshDone = same && begun.fresh === true && version === 1 && res.stored;
    if (!noop && !freshDone) {
      await this.settle(owner, settledHome, cluster, held, version, res.stored);
    }
    return { ...res, home, alsoNoted };
  }

  /**
   * ledger.lua's begin of one owner (its fields in order). The begins asked for in the same
   * turn of the event loop go to Redis in one call, each as it would alone.
   */
  private begin(fields: string[]): Promise<Begun> {
    let batch = this.begins;
    if (!batch) {
      batch = { args: [], waiting: [] };
      this.begins = batch;
      process.nextTick(() => this.sendBegins());
    }
    batch.args.push(...fields);
    const { waiting } = batch;
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  private sendBegins(): void {
    const due = this.begins;
    this.begins = undefined;
    if (!due) return;
    this.r.sharedlbLedger(this.global, "begin", ...due.args).then(
      (reply) => {
        const results = reply as unknown[];
        due.waiting.forEach((w, i) => {
          const r = results[i];
          if (Array.isArray(r)) w.resolve(beginReply(r));
          else w.reject(new Error(`ledger.lua begin: ${String(r)}`));
        });
      },
      (err: unknown) => {
        for (const w of due.waiting) w.reject(err);
      },
    );
  }

  /** Settles the ledger from a record written without a claim (the re-import). */
  async settle(
    owner: string,
    home: string,
    cluster: string,
    held: { services: number; ports: number },
    version: number,
    stored = true,
  ): Promise<void> {
    await this.r.sharedlbLedger(
      this.global,
      "settle",
      owner,
      home,
      stored ? "1" : "",
      cluster,
      String(held.services),
      String(held.ports),
      String(version),
    );
  }

  /** Notes a home before a record is written there without a claim (the re-import). */
  async noteHome(owner: string, home: string): Promise<void> {
    await this.r.sadd(`${this.global}homes:${owner}`, home);
    await this.r.sadd(`${this.global}pools`, home);
  }

  private newestRaw<R extends Seqd>(found: { home: string; raw: string }[], decode: (raw: string) => R): string | undefined {
    const best = this.newest(found, decode);
    return best ? found.find((f) => f.home === best.home)?.raw : undefined;
  }
}
