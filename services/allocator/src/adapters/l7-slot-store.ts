import { luaScript } from "./lua-scripts.js";
import { DEFAULT_PREFIX, Homes, type RedisClient } from "./table-keys.js";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type L7Record, L7RecordSchema } from "../domain/l7-record.js";
import type { L7Holder, L7Occupancy } from "../domain/l7-placement.js";
import { l7SlotName } from "../domain/l7-placement.js";
import type { L7ApplyArgs, L7ApplyResult, L7Snapshot, L7SlotTable } from "../app/l7-ports.js";
import { decodeJson, SlotTableCorrupt, SlotTableNotReady } from "./slot-store.js";

type ScriptClient = RedisClient & { sharedlbL7Apply(prefix: string, args: string): Promise<string> };

const ReplySchema = Type.Union([
  Type.Object({ outcome: Type.Literal("unready") }),
  Type.Object({ outcome: Type.Literal("moved") }),
  Type.Object({
    outcome: Type.Union([Type.Literal("applied"), Type.Literal("unchanged"), Type.Literal("stale"), Type.Literal("staleIncarnation")]),
    record: Type.Optional(L7RecordSchema),
    publish: Type.Boolean(),
    stored: Type.Boolean(),
  }),
]);
const reply = TypeCompiler.Compile(ReplySchema);
const l7Record = TypeCompiler.Compile(L7RecordSchema);

/** Gateways' and Ingresses' claims in the slot table (the same Redis keys and hash tags as Services'). */
export class L7SlotStore implements L7SlotTable {
  private readonly r: ScriptClient;
  private readonly homes: Homes;

  constructor(
    redis: RedisClient,
    readonly prefix = DEFAULT_PREFIX,
  ) {
    this.r = redis as ScriptClient;
    this.homes = new Homes(redis, prefix);
    if (!("sharedlbL7Apply" in redis)) redis.defineCommand("sharedlbL7Apply", { numberOfKeys: 1, lua: luaScript("l7-apply") });
  }

  private decodeRecord(owner: string) {
    return (raw: string) => decodeJson(`L7 record ${owner}`, raw, l7Record);
  }

  async apply(args: L7ApplyArgs): Promise<L7ApplyResult> {
    const claim = args.mode === "claim" && args.pool !== "";
    const costs = args.costServices > 0 || args.costPorts > 0;
    const res = await this.homes.change({
      owner: args.owner,
      cluster: args.cluster,
      target: claim ? args.pool : null,
      quota:
        claim && costs
          ? { cluster: args.cluster, services: args.costServices, ports: args.costPorts, limitServices: args.quotaServices, limitPorts: args.quotaPorts, what: "Services, Gateways and Ingresses", portNote: "" }
          : null,
      now: args.now,
      releaseDelayMs: args.releaseDelayMs,
      decode: this.decodeRecord(args.owner),
      cost: (rec) => ({ services: rec.costServices, ports: rec.costPorts }),
      run: async (home, prev, denied) => {
        // The ledger refused: the quota moved since the snapshot; plan again on a new one.
        if (denied) return { outcome: "moved" as const, record: null, publish: false, stored: false, done: false };
        const wire = { ...args, ...(prev ? { prev } : {}) };
        const res = decodeJson(`L7 apply reply for ${args.owner}`, await this.r.sharedlbL7Apply(this.homes.pool(home), JSON.stringify(wire)), reply);
        if (res.outcome === "unready") throw new SlotTableNotReady("the slot table is being re-imported");
        if (res.outcome === "moved") return { outcome: "moved" as const, record: null, publish: false, stored: false, done: false };
        return { outcome: res.outcome, record: res.record ?? null, publish: res.publish, stored: res.stored, done: true };
      },
    });
    return { outcome: res.outcome, record: res.record, publish: res.publish };
  }

  async record(owner: string): Promise<L7Record | null> {
    return this.homes.newest(await this.homes.records(owner), this.decodeRecord(owner))?.rec ?? null;
  }

  /**
   * One consistent view (MULTI/EXEC) of what a claim in `pool` on `ips` × `ports` depends
   * on: the pool's L7 claims and version, the TCP slots, loads, the tenant's quota use and
   * the object's own record.
   */
  async snapshot(owner: string, cluster: string, pool: string, ips: readonly string[], ports: readonly number[]): Promise<L7Snapshot> {
    const P = this.homes.pool(pool);
    const G = this.homes.global;
    const fields = ips.flatMap((ip) => ports.map((port) => `${ip}|TCP|${port}`));
    // The quota ledger is under the global tag: read beside the pool's transaction (the
    // ledger's reservation checks it again when the placement is committed).
    const quotaRead = Promise.all([this.r.hmget(`${G}quotat`, `${cluster}|s`, `${cluster}|p`), this.r.hget(`${G}quota:${cluster}`, owner)]);
    const tx = this.r.multi().hgetall(`${P}l7c:${pool}`).get(`${P}l7ver:${pool}`).hgetall(`${P}load:${pool}`).get(`${P}svc:${owner}`);
    if (fields.length > 0) tx.hmget(`${P}own:${pool}`, ...fields);
    const out = await tx.exec();
    if (!out) throw new SlotTableCorrupt("snapshot transaction aborted");
    for (const [err] of out) if (err) throw err;
    const [claimsRaw, verRaw, loadRaw, recRaw, ownRaw] = out.map(([, v]) => v) as [
      Record<string, string>,
      string | null,
      Record<string, string>,
      string | null,
      (string | null)[] | undefined,
    ];
    const [quotaRaw, entryRaw] = await quotaRead;
    // An object moving here from another pool: its record is still in that pool's tag.
    const record = recRaw ? this.decodeRecord(owner)(recRaw) : await this.record(owner);
    // What the ledger holds for this object stands in for what its record holds, so the
    // placement's quota check is the ledger's.
    const [entryS = "0", entryP = "0"] = (entryRaw ?? "").split("|");
    const held = record && record.state !== "Released" ? { services: record.costServices, ports: record.costPorts } : { services: 0, ports: 0 };
    const claims = new Map<string, L7Holder[]>();
    for (const [f, v] of Object.entries(claimsRaw)) {
      const [ip = "", port = "", holder = "", hostname = ""] = f.split("|");
      const slot = l7SlotName(ip, Number(port));
      const list = claims.get(slot) ?? [];
      list.push({ owner: holder, cluster: v.replace(/^~/, ""), hostname, quarantined: v.startsWith("~") });
      claims.set(slot, list);
    }
    const slots = new Map<string, "L4" | "http" | "tls">();
    fields.forEach((f, i) => {
      const v = ownRaw?.[i];
      if (v === null || v === undefined) return;
      const [ip = "", , port = ""] = f.split("|");
      slots.set(l7SlotName(ip, Number(port)), v === "@l7:http" ? "http" : v === "@l7:tls" ? "tls" : "L4");
    });
    const occupancy: L7Occupancy = {
      claims,
      slots,
      load: new Map(Object.entries(loadRaw).map(([ip, n]) => [ip, Number(n)])),
      quotaUsed: {
        services: Number(quotaRaw[0] ?? 0) - Number(entryS || 0) + held.services,
        ports: Number(quotaRaw[1] ?? 0) - Number(entryP || 0) + held.ports,
      },
    };
    return { version: Number(verRaw ?? 0), occupancy, record };
  }
}
