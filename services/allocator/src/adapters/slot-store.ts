import { createHash, randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { luaScript } from "./lua-scripts.js";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { L7Import } from "../domain/l7-import.js";
import { type SlotRecord, SlotRecordSchema } from "../domain/slot-record.js";
import type { ApplyArgs, ApplyMode, ApplyResult, ImportedAllocation, SlotTable, SlotTableImport, SlotTableMaintenance } from "../app/ports.js";

/**
 * All allocator state lives under one hash tag, so every script touches a single Redis
 * Cluster shard and stays atomic there.
 */
export const DEFAULT_PREFIX = "sharedlb:{alloc}:";

/** Between a send note's owner and its nonce; no owner key contains it. */
const SEND_TOKEN_SEPARATOR = "|";

/** IPs per script call when a pool's index is written (a /16 takes 33 calls). */
const POOL_INDEX_CHUNK = 2000;

type ScriptClient = Redis & {
  sharedlbApply(prefix: string, args: string): Promise<string>;
  sharedlbExpire(prefix: string, now: number, limit: number): Promise<number>;
  sharedlbPublished(prefix: string, owner: string, version: number, allocSeq: number): Promise<number>;
  sharedlbForget(prefix: string, owner: string, version: number): Promise<number>;
  sharedlbImport(prefix: string, args: string): Promise<string>;
  sharedlbPoolIndex(prefix: string, pool: string, first: number, ...ips: string[]): Promise<number>;
  sharedlbL7Expire(prefix: string, now: number, limit: number): Promise<number>;
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
  }),
]);
const applyReply = TypeCompiler.Compile(ApplyReplySchema);
const slotRecord = TypeCompiler.Compile(SlotRecordSchema);

export function decodeJson<T>(what: string, raw: string, check: { Check(v: unknown): v is T; Errors(v: unknown): { First(): { path: string; message: string } | undefined } }): T {
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

/** The slot table in Redis. Every change goes through one atomic Lua script. */
export class SlotStore implements SlotTable, SlotTableMaintenance, SlotTableImport {
  private readonly r: ScriptClient;
  /** Pools whose IP index this process wrote (or found written), with the IP list it was written from. */
  private readonly indexed = new Map<string, { ips: readonly string[]; done: Promise<void> }>();

  constructor(
    redis: Redis,
    readonly prefix = DEFAULT_PREFIX,
  ) {
    this.r = redis as ScriptClient;
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

  async apply(args: ApplyArgs, change: ApplyMode): Promise<ApplyResult> {
    let wire: object;
    if (change.mode === "claim") {
      const { request } = change;
      if (!request.pinned) await this.ensurePoolIndex(request.pool, request.ips);
      // The script reads the pool's IPs from its index; only a pinned IP travels.
      wire = { ...args, ...change, request: { ...request, ips: request.pinned ? request.ips : [] }, resource: JSON.stringify(change.resource) };
    } else {
      wire = change.mode === "release" ? { ...args, mode: "release" } : { ...args, ...change, resource: JSON.stringify(change.resource) };
    }
    let res = decodeJson(`apply reply for ${args.owner}`, await this.r.sharedlbApply(this.prefix, JSON.stringify(wire)), applyReply);
    if (res.outcome === "unindexed" && change.mode === "claim") {
      // Redis lost the index since this process wrote it (data loss, then re-import).
      this.indexed.delete(change.request.pool);
      await this.ensurePoolIndex(change.request.pool, change.request.ips);
      res = decodeJson(`apply reply for ${args.owner}`, await this.r.sharedlbApply(this.prefix, JSON.stringify(wire)), applyReply);
    }
    if (res.outcome === "unready") throw new SlotTableNotReady("the slot table is being re-imported");
    if (res.outcome === "unindexed") throw new SlotTableNotReady("a pool's IP index is being rewritten");
    return { outcome: res.outcome, record: res.record ?? null, publish: res.publish };
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
    const digest = createHash("sha256").update(ips.join("\n")).digest("hex");
    const digestKey = `${this.prefix}lzd:${pool}`;
    if ((await this.r.get(digestKey)) === digest) return;
    for (let first = 0; first < ips.length; first += POOL_INDEX_CHUNK) {
      await this.r.sharedlbPoolIndex(this.prefix, pool, first, ...ips.slice(first, first + POOL_INDEX_CHUNK));
    }
    const lz = `${this.prefix}lz:${pool}`;
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
    const raw = await this.r.get(`${this.prefix}svc:${owner}`);
    return raw ? decodeJson(`slot record ${owner}`, raw, slotRecord) : null;
  }

  /** Frees quarantined slots (Services') and hostname claims (Gateways', Ingresses') whose delay has passed. */
  async expireQuarantine(now: number, limit = 1000): Promise<number> {
    return (await this.r.sharedlbExpire(this.prefix, now, limit)) + (await this.r.sharedlbL7Expire(this.prefix, now, limit));
  }

  async markPublished(owner: string, version: number, allocSeq: number): Promise<boolean> {
    return (await this.r.sharedlbPublished(this.prefix, owner, version, allocSeq)) === 1;
  }

  async forget(owner: string, version: number): Promise<boolean> {
    return (await this.r.sharedlbForget(this.prefix, owner, version)) === 1;
  }

  /** Capacity epoch: moves whenever slots or quota become free. */
  async epoch(): Promise<number> {
    return Number((await this.r.get(`${this.prefix}epoch`)) ?? 0);
  }

  /** Pending Services, longest-waiting first. */
  waiting(limit: number): Promise<string[]> {
    return this.r.zrange(`${this.prefix}waiting`, 0, limit - 1);
  }

  /** Records whose current version was committed before `before` and never published. */
  unpublished(before: number, limit: number): Promise<string[]> {
    return this.r.zrangebyscore(`${this.prefix}outbox`, "-inf", before, "LIMIT", 0, limit);
  }

  /**
   * Notes a send of a Service's allocation about to go out; `endSend` drops the note once its
   * sender knows the current allocation is the stream's last value. A note left behind is a
   * sender that died (or failed) with a possibly older message landing after the current one.
   */
  async beginSend(owner: string, now: number): Promise<string> {
    const token = `${owner}${SEND_TOKEN_SEPARATOR}${randomUUID()}`;
    await this.r.zadd(`${this.prefix}sending`, now, token);
    return token;
  }

  async endSend(token: string): Promise<void> {
    await this.r.zrem(`${this.prefix}sending`, token);
  }

  /** Sends noted before `before` and never ended, with the Service each was for. */
  async abandonedSends(before: number, limit: number): Promise<{ token: string; owner: string }[]> {
    const tokens = await this.r.zrangebyscore(`${this.prefix}sending`, "-inf", before, "LIMIT", 0, limit);
    return tokens.map((token) => ({ token, owner: token.slice(0, token.lastIndexOf(SEND_TOKEN_SEPARATOR)) }));
  }

  releasedBefore(before: number, limit: number): Promise<string[]> {
    return this.r.zrangebyscore(`${this.prefix}released`, "-inf", before, "LIMIT", 0, limit);
  }

  /** slot (`ip|PROTO|port`) → owner, `~owner` while quarantined. */
  async owners(pool: string): Promise<Map<string, string>> {
    const h = await this.r.hgetall(`${this.prefix}own:${pool}`);
    return new Map(Object.entries(h));
  }

  async pools(): Promise<string[]> {
    return this.r.smembers(`${this.prefix}pools`);
  }

  /** Whether the slot table is complete (fresh, or re-imported after Redis lost its data). */
  async isReady(): Promise<boolean> {
    return (await this.r.exists(`${this.prefix}ready`)) === 1;
  }

  async markReady(): Promise<void> {
    await this.r.set(`${this.prefix}ready`, String(Date.now()));
  }

  /** Returns the state the Service was imported in, or "exists". */
  importAllocation(a: ImportedAllocation): Promise<string> {
    return this.r.sharedlbImport(this.prefix, JSON.stringify({ ...a, resource: a.resource ? JSON.stringify(a.resource) : "" }));
  }

  importL7(x: L7Import, now: number): Promise<string> {
    return this.r.sharedlbL7Import(this.prefix, JSON.stringify({ ...x, now }));
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    const key = `${this.prefix}lease:${name}`;
    if ((await this.r.get(key)) === holder) await this.r.del(key);
  }

  /** A lease so one replica at a time runs the periodic janitor. */
  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const key = `${this.prefix}lease:${name}`;
    const got = await this.r.set(key, holder, "PX", ttlMs, "NX");
    if (got === "OK") return true;
    if ((await this.r.get(key)) === holder) {
      await this.r.pexpire(key, ttlMs);
      return true;
    }
    return false;
  }
}
