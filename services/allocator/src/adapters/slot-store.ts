import { createHash, randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { luaScript } from "./lua-scripts.js";
import { DEFAULT_PREFIX, globalPrefix, Homes, NO_POOL, poolPrefix, type RedisClient } from "./table-keys.js";
import { familyOwner, isFamilyOwner } from "../domain/dual-stack.js";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { L7Import } from "../domain/l7-import.js";
import { parseClaims, rememberResource, type SlotRecord, SlotRecordSchema } from "../domain/slot-record.js";
import type {
  ApplyArgs,
  ApplyMode,
  ApplyResult,
  ImportedAllocation,
  SlotTable,
  SlotTableImport,
  SlotTableMaintenance,
} from "../app/ports.js";

export { DEFAULT_PREFIX } from "./table-keys.js";

/** Between a send note's owner and its nonce; no owner key contains it. */
const SEND_TOKEN_SEPARATOR = "|";
/**
 * Between the home of a note written in a pool's `sending` zset (by the apply) and the note,
 * in its token; neither pool names (DNS labels) nor owner keys contain it. A token without
 * it is a note in the global `sending` zset (beginSend's).
 */
const NOTE_HOME_SEPARATOR = ">";

/** Where a send note lives: the zset key, and its member there. */
function noteAt(prefix: string, token: string): { key: string; member: string; home: string | null } {
  const i = token.indexOf(NOTE_HOME_SEPARATOR);
  if (i < 0) return { key: `${globalPrefix(prefix)}sending`, member: token, home: null };
  const home = token.slice(0, i);
  return { key: `${poolPrefix(prefix, home)}sending`, member: token.slice(i + 1), home };
}

/**
 * A send note's nonce: unique per send, across replicas and restarts (a random id per
 * process, then a counter), without a random UUID per send.
 */
const NONCE_PREFIX = `${randomUUID()}-`;
let nonces = 0;
const nonce = (): string => `${NONCE_PREFIX}${(nonces++).toString(36)}`;

/** Script calls' arguments gathered in one turn of the event loop, and their callers. */
interface Batch<T> {
  args: string[];
  waiting: { resolve: (v: T) => void; reject: (err: unknown) => void }[];
}

/** At most this many changes per apply.lua call (a slow claim in a nearly full pool takes ms). */
const APPLY_BATCH = 32;

/** IPs per script call when a pool's index is written (a /16 takes 33 calls). */
const POOL_INDEX_CHUNK = 2000;

type ScriptClient = Redis & {
  /** lua-scripts.ts's applyScript: for each change, the number of its arguments, then those (apply-args.lua). */
  sharedlbApply(prefix: string, ...changes: string[]): Promise<unknown[]>;
  sharedlbExpire(prefix: string, now: number, limit: number, pool: string): Promise<number>;
  /** lua/published.lua: owner, version, allocSeq, note ('' for none), for each mark. */
  sharedlbPublished(prefix: string, ...marks: string[]): Promise<(number | string)[]>;
  sharedlbForget(prefix: string, owner: string, version: number): Promise<number>;
  sharedlbImport(prefix: string, args: string): Promise<string>;
  sharedlbPoolIndex(prefix: string, pool: string, first: number, ...ips: string[]): Promise<number>;
  sharedlbL7Expire(prefix: string, now: number, limit: number, pool: string): Promise<number>;
  sharedlbL7Import(prefix: string, args: string): Promise<string>;
};

/** The slot table is empty or half re-imported: nothing may be claimed yet. */
export class SlotTableNotReady extends Error {
  override readonly name = "SlotTableNotReady";
  readonly reason = "SlotTableNotReady";
}

/** Redis returned something the scripts never write: another writer, or a script bug. */
export class SlotTableCorrupt extends Error {
  override readonly name = "SlotTableCorrupt";
  readonly reason = "SlotTableCorrupt";
}

const ApplyReplySchema = Type.Union([
  Type.Object({ outcome: Type.Literal("unready") }),
  Type.Object({ outcome: Type.Literal("unindexed") }),
  Type.Object({
    outcome: Type.Union([Type.Literal("applied"), Type.Literal("unchanged"), Type.Literal("stale"), Type.Literal("staleIncarnation")]),
    record: Type.Optional(SlotRecordSchema),
    publish: Type.Boolean(),
    stored: Type.Boolean(),
    noted: Type.Optional(Type.Boolean()),
  }),
]);
const applyReply = TypeCompiler.Compile(ApplyReplySchema);
const slotRecord = TypeCompiler.Compile(SlotRecordSchema);

export function decodeJson<T>(
  what: string,
  raw: string,
  check: { Check(v: unknown): v is T; Errors(v: unknown): { First(): { path: string; message: string } | undefined } },
): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new SlotTableCorrupt(`${what} is not JSON`, { cause: err });
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new SlotTableCorrupt(`${what}: ${first ? `${first.path || "/"} ${first.message}` : "invalid"}`);
  }
  return value;
}

/**
 * The slot table in Redis. Every change of a pool goes through one atomic Lua script on that
 * pool's hash tag; what spans pools goes through table-keys.ts's ordered steps.
 */
export class SlotStore implements SlotTable, SlotTableMaintenance, SlotTableImport {
  private readonly r: ScriptClient;
  readonly homes: Homes;
  private readonly G: string;
  /** published.lua's marks due, by home, sent together (mark()). */
  private readonly marks = new Map<string, Batch<number>>();
  /** apply.lua's changes due, by home (applyBatched()). */
  private readonly applies = new Map<string, Batch<string>>();
  private appliesDue = false;
  /** Pools whose IP index this process wrote (or found written), with the IP list it was written from. */
  private readonly indexed = new Map<string, { ips: readonly string[]; done: Promise<void> }>();

  /** `pools`: the configured pools (each must be marked ready, so an empty shard is re-imported). */
  constructor(
    redis: RedisClient,
    readonly prefix = DEFAULT_PREFIX,
    private readonly configured: readonly string[] = [],
  ) {
    this.r = redis as ScriptClient;
    this.homes = new Homes(redis, prefix);
    this.G = this.homes.global;
    if (!("sharedlbApply" in redis)) {
      redis.defineCommand("sharedlbApply", { numberOfKeys: 1, lua: luaScript("apply") });
      redis.defineCommand("sharedlbExpire", { numberOfKeys: 1, lua: luaScript("expire") });
      redis.defineCommand("sharedlbPublished", { numberOfKeys: 1, lua: luaScript("published") });
      redis.defineCommand("sharedlbForget", { numberOfKeys: 1, lua: luaScript("forget") });
      redis.defineCommand("sharedlbImport", { numberOfKeys: 1, lua: luaScript("import") });
      redis.defineCommand("sharedlbPoolIndex", { numberOfKeys: 1, lua: luaScript("pool-index") });
      redis.defineCommand("sharedlbL7Expire", { numberOfKeys: 1, lua: luaScript("l7-expire") });
      redis.defineCommand("sharedlbL7Import", { numberOfKeys: 1, lua: luaScript("l7-import") });
    }
  }

  /** The key prefix (hash tag) of a pool's slot table and of the records placed in it. */
  poolPrefix(pool: string): string {
    return this.homes.pool(pool);
  }

  private decodeRecord(owner: string) {
    return (raw: string) => decodeJson(`slot record ${owner}`, raw, slotRecord);
  }

  async apply(args: ApplyArgs, change: ApplyMode): Promise<ApplyResult> {
    const request = change.mode === "claim" ? change.request : null;
    if (request && !request.pinned) await this.ensurePoolIndex(request.pool, request.ips);
    const res = await this.homes.change({
      owner: args.owner,
      cluster: args.cluster,
      target: request ? request.pool : null,
      quota: request
        ? {
            cluster: args.cluster,
            services: 1,
            ports: request.ports.length,
            limitServices: request.quota.services,
            limitPorts: request.quota.ports,
            what: "Services",
            portNote: "",
          }
        : null,
      now: args.now,
      releaseDelayMs: args.releaseDelayMs,
      decode: this.decodeRecord(args.owner),
      cost: (rec) => (rec.state === "Allocated" ? { services: 1, ports: parseClaims(rec.claims).length } : { services: 0, ports: 0 }),
      run: (home, prev, denied) => this.applyIn(home, args, change, prev, denied),
      // apply.lua commits a new record at version 1: a fresh claim's reservation is its settle.
      first: true,
      // A Service's second-family records (either family): none noted, none to read after.
      ...(isFamilyOwner(args.owner) ? {} : { also: [familyOwner(args.owner, "IPv4"), familyOwner(args.owner, "IPv6")] }),
    });
    return {
      outcome: res.outcome,
      record: res.record,
      publish: res.publish,
      home: res.home,
      ...(res.note ? { note: res.note } : {}),
      ...(isFamilyOwner(args.owner) ? {} : { secondFamily: res.alsoNoted }),
    };
  }

  private async applyIn(home: string, args: ApplyArgs, change: ApplyMode, prev: string | undefined, denied: string | undefined) {
    const member = args.noteSend ? `${args.owner}${SEND_TOKEN_SEPARATOR}${nonce()}` : undefined;
    const resource = change.mode === "release" ? undefined : JSON.stringify(change.resource);
    // What apply.lua reads, in apply-args.lua's order: plain strings, no JSON for Lua to
    // decode; the Service is kept as it is. The script reads the pool's IPs from its index:
    // only a pinned IP travels.
    const fields = [
      change.mode,
      args.retry ? "1" : "",
      args.owner,
      args.cluster,
      args.namespace,
      args.name,
      args.uid,
      String(args.seq),
      String(args.now),
      String(args.releaseDelayMs),
      resource ?? "",
      prev ?? "",
      denied ?? "",
      member ?? "",
    ];
    if (change.mode === "reject") fields.push(change.rejection.reason, change.rejection.message);
    if (change.mode === "claim") {
      const r = change.request;
      fields.push(
        r.pool,
        r.pinned ? "1" : "",
        r.pinned ? (r.ips[0] ?? "") : "",
        String(r.range.lo),
        String(r.range.hi),
        String(r.ports.length),
      );
      for (const w of r.ports) fields.push(w.protocol, String(w.port), String(w.want), w.remap ? "1" : "");
    }
    let res = decodeJson(`apply reply for ${args.owner}`, await this.applyBatched(home, fields), applyReply);
    if (res.outcome === "unindexed" && change.mode === "claim") {
      // Redis lost the index since this process wrote it (data loss, then re-import).
      this.indexed.delete(change.request.pool);
      await this.ensurePoolIndex(change.request.pool, change.request.ips);
      res = decodeJson(`apply reply for ${args.owner}`, await this.applyBatched(home, fields), applyReply);
    }
    if (res.outcome === "unready") throw new SlotTableNotReady("the slot table is being re-imported");
    if (res.outcome === "unindexed") throw new SlotTableNotReady("a pool's IP index is being rewritten");
    const note = res.noted && member ? `${home}${NOTE_HOME_SEPARATOR}${member}` : undefined;
    if (res.record && resource !== undefined && change.mode !== "release") rememberResource(res.record, change.resource, resource);
    return {
      outcome: res.outcome,
      record: res.record ?? null,
      publish: res.publish,
      stored: res.stored,
      done: true,
      ...(note ? { note } : {}),
    };
  }

  /**
   * apply.lua for one change in `home` (its arguments, apply-args.lua). The changes asked for
   * in the same turn of the event loop go to Redis in one call per home, at most APPLY_BATCH
   * each, every one as it would alone (lua-scripts.ts).
   */
  private applyBatched(home: string, fields: readonly string[]): Promise<string> {
    let batch = this.applies.get(home);
    if (!batch || batch.waiting.length >= APPLY_BATCH) {
      if (batch) this.sendApplies(home, batch);
      batch = { args: [], waiting: [] };
      this.applies.set(home, batch);
      if (!this.appliesDue) {
        this.appliesDue = true;
        process.nextTick(() => {
          this.appliesDue = false;
          const due = [...this.applies];
          this.applies.clear();
          for (const [h, b] of due) this.sendApplies(h, b);
        });
      }
    }
    batch.args.push(String(fields.length), ...fields);
    const { waiting } = batch;
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  private sendApplies(home: string, { args, waiting }: Batch<string>): void {
    this.r.sharedlbApply(this.poolPrefix(home), ...args).then(
      (replies) => {
        waiting.forEach((w, i) => {
          const r = replies[i];
          if (typeof r === "string" && !r.startsWith("ERR ")) w.resolve(r);
          else w.reject(new Error(`apply.lua: ${String(r)}`));
        });
      },
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  }

  /**
   * Makes sure lz:<pool> holds exactly `ips` in pool order, once per process and pool (and
   * again when Redis lost it). A pool whose addresses changed is rewritten in place.
   * Claims call it; main.ts calls it at start so the first claim does not wait for a /16.
   */
  ensurePoolIndex(pool: string, ips: readonly string[]): Promise<void> {
    const known = this.indexed.get(pool);
    if (known?.ips === ips) return known.done;
    const done = this.writePoolIndex(pool, ips).catch((err: unknown) => {
      this.indexed.delete(pool);
      throw err;
    });
    this.indexed.set(pool, { ips, done });
    return done;
  }

  private async writePoolIndex(pool: string, ips: readonly string[]): Promise<void> {
    const P = this.poolPrefix(pool);
    const digest = createHash("sha256").update(ips.join("\n")).digest("hex");
    const digestKey = `${P}lzd:${pool}`;
    if ((await this.r.get(digestKey)) === digest) return;
    await this.r.sadd(`${this.G}pools`, pool);
    for (let first = 0; first < ips.length; first += POOL_INDEX_CHUNK) {
      await this.r.sharedlbPoolIndex(P, pool, first, ...ips.slice(first, first + POOL_INDEX_CHUNK));
    }
    const lz = `${P}lz:${pool}`;
    if ((await this.r.zcard(lz)) > ips.length) {
      // Addresses left the pool: they must never be chosen again.
      const inPool = new Set(ips);
      for (let from = 0; ; from += POOL_INDEX_CHUNK) {
        const part = await this.r.zrange(lz, from, from + POOL_INDEX_CHUNK - 1);
        const gone = part.filter((ip) => !inPool.has(ip));
        if (gone.length > 0) {
          await this.r.zrem(lz, ...gone);
          from -= gone.length;
        }
        if (part.length < POOL_INDEX_CHUNK) break;
      }
    }
    await this.r.set(digestKey, digest);
  }

  async record(owner: string): Promise<SlotRecord | null> {
    return this.homes.newest(await this.homes.records(owner), this.decodeRecord(owner))?.rec ?? null;
  }

  /** Every home a record may live in: the pools ever used, the configured ones, and no pool. */
  private async allHomes(): Promise<string[]> {
    return [...new Set([NO_POOL, ...this.configured, ...(await this.r.smembers(`${this.G}pools`))])];
  }

  /** Frees quarantined slots (Services') and hostname claims (Gateways', Ingresses') whose delay has passed. */
  async expireQuarantine(now: number, limit = 1000): Promise<number> {
    let freed = 0;
    for (const pool of await this.allHomes()) {
      if (pool === NO_POOL) continue;
      const P = this.poolPrefix(pool);
      freed += (await this.r.sharedlbExpire(P, now, limit, pool)) + (await this.r.sharedlbL7Expire(P, now, limit, pool));
    }
    return freed;
  }

  /**
   * markPublished in one home only (where the apply left the record), ending `note` there in
   * the same call when it is that home's. Not marked when that home does not hold `version`.
   */
  async markPublishedIn(
    home: string,
    owner: string,
    version: number,
    allocSeq: number,
    note?: string,
  ): Promise<{ marked: boolean; ended: boolean }> {
    const at = note ? noteAt(this.prefix, note) : null;
    const n = await this.mark(home, owner, version, allocSeq, at && at.home === home ? at.member : "");
    return { marked: n >= 1, ended: n === 2 };
  }

  async markPublished(owner: string, version: number, allocSeq: number): Promise<boolean> {
    let marked = false;
    for (const home of await this.homes.homes(owner)) {
      if ((await this.mark(home, owner, version, allocSeq, "")) === 1) marked = true;
    }
    return marked;
  }

  /**
   * published.lua for one record in `home`. Marks asked for in the same turn of the event loop
   * (publishes acked together) go to Redis in one call per home, each as it would alone.
   */
  private mark(home: string, owner: string, version: number, allocSeq: number, note: string): Promise<number> {
    let batch = this.marks.get(home);
    if (!batch) {
      batch = { args: [], waiting: [] };
      this.marks.set(home, batch);
      if (this.marks.size === 1) process.nextTick(() => this.sendMarks());
    }
    batch.args.push(owner, String(version), String(allocSeq), note);
    const { waiting } = batch;
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  private sendMarks(): void {
    const due = [...this.marks];
    this.marks.clear();
    for (const [home, { args, waiting }] of due) {
      this.r.sharedlbPublished(this.poolPrefix(home), ...args).then(
        (results) => {
          waiting.forEach((w, i) => {
            const n = results[i];
            if (typeof n === "number") w.resolve(n);
            else w.reject(new SlotTableCorrupt(`published.lua: ${String(n)}`));
          });
        },
        (err: unknown) => {
          for (const w of waiting) w.reject(err);
        },
      );
    }
  }

  async forget(owner: string, version: number): Promise<boolean> {
    const homes = await this.homes.homes(owner);
    const found = await this.homes.records(owner, homes);
    const cluster = found[0] ? this.decodeRecord(owner)(found[0].raw).cluster : "";
    let forgot = true;
    // An owner with no home left still has a `released` entry somewhere: clear it in every pool.
    for (const home of homes.length > 0 ? homes : await this.allHomes()) {
      if ((await this.r.sharedlbForget(this.poolPrefix(home), owner, version)) === 1) {
        if (homes.length > 0) await this.homes.forgotten(owner, cluster, home);
      } else {
        forgot = false;
      }
    }
    return forgot;
  }

  /** Capacity epoch: moves whenever slots or quota become free (the sum of every pool's and the ledger's). */
  async epoch(): Promise<number> {
    const homes = await this.allHomes();
    const values = await Promise.all([this.r.get(`${this.G}epoch`), ...homes.map((h) => this.r.get(`${this.poolPrefix(h)}epoch`))]);
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }

  /** Members of `name` in every home, by score, at most `limit`. */
  private async acrossHomes(name: string, min: string, max: string, limit: number): Promise<string[]> {
    const homes = await this.allHomes();
    const parts = await Promise.all(
      homes.map((h) => this.r.zrangebyscore(`${this.poolPrefix(h)}${name}`, min, max, "WITHSCORES", "LIMIT", 0, limit)),
    );
    const all: { m: string; s: number }[] = [];
    for (const part of parts) for (let i = 0; i + 1 < part.length; i += 2) all.push({ m: part[i] ?? "", s: Number(part[i + 1]) });
    all.sort((x, y) => x.s - y.s);
    return [...new Set(all.map((x) => x.m))].slice(0, limit);
  }

  /** Pending Services, longest-waiting first. */
  waiting(limit: number): Promise<string[]> {
    return this.acrossHomes("waiting", "-inf", "+inf", limit);
  }

  /** Records whose current version was committed before `before` and never published. */
  unpublished(before: number, limit: number): Promise<string[]> {
    return this.acrossHomes("outbox", "-inf", String(before), limit);
  }

  /**
   * Notes a send of a Service's allocation about to go out; `endSend` drops the note once its
   * sender knows the current allocation is the stream's last value. A note left behind is a
   * sender that died (or failed) with a possibly older message landing after the current one.
   */
  async beginSend(owner: string, now: number): Promise<string> {
    const token = `${owner}${SEND_TOKEN_SEPARATOR}${nonce()}`;
    await this.r.zadd(`${this.G}sending`, now, token);
    return token;
  }

  /** Ends a note of beginSend's or of an apply's (ApplyResult.note). */
  async endSend(token: string): Promise<void> {
    const { key, member } = noteAt(this.prefix, token);
    await this.r.zrem(key, member);
  }

  /** Sends noted before `before` and never ended, with the owner each was for: beginSend's, and every home's (the applies'). */
  async abandonedSends(before: number, limit: number): Promise<{ token: string; owner: string }[]> {
    const homes = await this.allHomes();
    const parts = await Promise.all([
      this.r.zrangebyscore(`${this.G}sending`, "-inf", before, "LIMIT", 0, limit),
      ...homes.map((h) => this.r.zrangebyscore(`${this.poolPrefix(h)}sending`, "-inf", before, "LIMIT", 0, limit)),
    ]);
    const tokens = parts.flatMap((part, i) => (i === 0 ? part : part.map((m) => `${homes[i - 1] ?? NO_POOL}${NOTE_HOME_SEPARATOR}${m}`)));
    return tokens.slice(0, limit).map((token) => {
      const { member } = noteAt(this.prefix, token);
      return { token, owner: member.slice(0, member.lastIndexOf(SEND_TOKEN_SEPARATOR)) };
    });
  }

  releasedBefore(before: number, limit: number): Promise<string[]> {
    return this.acrossHomes("released", "-inf", String(before), limit);
  }

  /** slot (`ip|PROTO|port`) → owner, `~owner` while quarantined. */
  async owners(pool: string): Promise<Map<string, string>> {
    const h = await this.r.hgetall(`${this.poolPrefix(pool)}own:${pool}`);
    return new Map(Object.entries(h));
  }

  async pools(): Promise<string[]> {
    return (await this.r.smembers(`${this.G}pools`)).filter((p) => p !== NO_POOL);
  }

  /**
   * Whether the slot table is complete (fresh, or re-imported after Redis lost its data): the
   * global mark and every home's (a Redis Cluster shard may lose its pools alone).
   */
  async isReady(): Promise<boolean> {
    if ((await this.r.exists(`${this.G}ready`)) !== 1) return false;
    const homes = await this.allHomes();
    const marks = await Promise.all(homes.map((h) => this.r.exists(`${this.poolPrefix(h)}ready`)));
    return marks.every((m) => m === 1);
  }

  async markReady(): Promise<void> {
    const at = String(Date.now());
    for (const home of await this.allHomes()) await this.r.set(`${this.poolPrefix(home)}ready`, at);
    await this.r.set(`${this.G}ready`, at);
  }

  /** Returns the state the Service was imported in, or "exists". */
  async importAllocation(a: ImportedAllocation): Promise<string> {
    const decode = this.decodeRecord(a.owner);
    const held = (rec: SlotRecord) =>
      rec.state === "Allocated" ? { services: 1, ports: parseClaims(rec.claims).length } : { services: 0, ports: 0 };
    const existing = this.homes.newest(await this.homes.records(a.owner), decode);
    if (existing) {
      await this.homes.settle(a.owner, existing.home, existing.rec.cluster, held(existing.rec), existing.rec.version);
      return "exists";
    }
    const home = a.state === "Allocated" ? a.pool : NO_POOL;
    await this.homes.noteHome(a.owner, home);
    const state = await this.r.sharedlbImport(
      this.poolPrefix(home),
      JSON.stringify({ ...a, resource: a.resource ? JSON.stringify(a.resource) : "" }),
    );
    const rec = await this.record(a.owner);
    if (rec) await this.homes.settle(a.owner, home, rec.cluster, held(rec), rec.version);
    return state;
  }

  async importL7(x: L7Import, now: number): Promise<string> {
    const owner = x.record.owner;
    const existing = (await this.homes.records(owner))[0];
    const cost = (raw: string) => {
      const r = JSON.parse(raw) as { costServices?: number; costPorts?: number; version?: number; cluster?: string };
      return { held: { services: r.costServices ?? 0, ports: r.costPorts ?? 0 }, version: r.version ?? 0, cluster: r.cluster ?? "" };
    };
    if (existing) {
      const c = cost(existing.raw);
      await this.homes.settle(owner, existing.home, c.cluster, c.held, c.version);
      return "exists";
    }
    const home = x.record.pool || NO_POOL;
    await this.homes.noteHome(owner, home);
    const state = await this.r.sharedlbL7Import(this.poolPrefix(home), JSON.stringify({ ...x, now }));
    const raw = await this.r.get(`${this.poolPrefix(home)}svc:${owner}`);
    if (raw) {
      const c = cost(raw);
      await this.homes.settle(owner, home, c.cluster, c.held, c.version);
    }
    return state;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    const key = `${this.G}lease:${name}`;
    if ((await this.r.get(key)) === holder) await this.r.del(key);
  }

  /** A lease so one replica at a time runs the periodic janitor. */
  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const key = `${this.G}lease:${name}`;
    const got = await this.r.set(key, holder, "PX", ttlMs, "NX");
    if (got === "OK") return true;
    if ((await this.r.get(key)) === holder) {
      await this.r.pexpire(key, ttlMs);
      return true;
    }
    return false;
  }
}
