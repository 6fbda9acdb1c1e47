import type { Redis } from "ioredis";
import { luaScript } from "./lua-scripts.js";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type L7Record, L7RecordSchema } from "../domain/l7-record.js";
import type { L7Holder, L7Occupancy } from "../domain/l7-placement.js";
import { l7SlotName } from "../domain/l7-placement.js";
import type { L7ApplyArgs, L7ApplyResult, L7Snapshot, L7SlotTable } from "../app/l7-ports.js";
import { DEFAULT_PREFIX, decodeJson, SlotTableCorrupt, SlotTableNotReady } from "./slot-store.js";

type ScriptClient = Redis & { sharedlbL7Apply(prefix: string, args: string): Promise<string> };

const ReplySchema = Type.Union([
  Type.Object({ outcome: Type.Literal("unready") }),
  Type.Object({ outcome: Type.Literal("moved") }),
  Type.Object({
    outcome: Type.Union([Type.Literal("applied"), Type.Literal("unchanged"), Type.Literal("stale"), Type.Literal("staleIncarnation")]),
    record: Type.Optional(L7RecordSchema),
    publish: Type.Boolean(),
  }),
]);
const reply = TypeCompiler.Compile(ReplySchema);
const l7Record = TypeCompiler.Compile(L7RecordSchema);

/** Gateways' and Ingresses' claims in the slot table (the same Redis keys and hash tag as Services'). */
export class L7SlotStore implements L7SlotTable {
  private readonly r: ScriptClient;

  constructor(
    redis: Redis,
    readonly prefix = DEFAULT_PREFIX,
  ) {
    this.r = redis as ScriptClient;
    if (!("sharedlbL7Apply" in redis)) redis.defineCommand("sharedlbL7Apply", { numberOfKeys: 1, lua: luaScript("l7-apply") });
  }

  async apply(args: L7ApplyArgs): Promise<L7ApplyResult> {
    const res = decodeJson(`L7 apply reply for ${args.owner}`, await this.r.sharedlbL7Apply(this.prefix, JSON.stringify(args)), reply);
    if (res.outcome === "unready") throw new SlotTableNotReady("the slot table is being re-imported");
    if (res.outcome === "moved") return { outcome: "moved", record: null, publish: false };
    return { outcome: res.outcome, record: "record" in res ? (res.record ?? null) : null, publish: "publish" in res && res.publish };
  }

  async record(owner: string): Promise<L7Record | null> {
    const raw = await this.r.get(`${this.prefix}svc:${owner}`);
    return raw ? decodeJson(`L7 record ${owner}`, raw, l7Record) : null;
  }

  /**
   * One consistent view (MULTI/EXEC) of what a claim in `pool` on `ips` × `ports` depends
   * on: the pool's L7 claims and version, the TCP slots, loads, the tenant's quota use and
   * the object's own record.
   */
  async snapshot(owner: string, cluster: string, pool: string, ips: readonly string[], ports: readonly number[]): Promise<L7Snapshot> {
    const P = this.prefix;
    const fields = ips.flatMap((ip) => ports.map((port) => `${ip}|TCP|${port}`));
    const tx = this.r.multi().hgetall(`${P}l7c:${pool}`).get(`${P}l7ver:${pool}`).hgetall(`${P}load:${pool}`).hmget(`${P}quota`, `${cluster}|s`, `${cluster}|p`).get(`${P}svc:${owner}`);
    if (fields.length > 0) tx.hmget(`${P}own:${pool}`, ...fields);
    const out = await tx.exec();
    if (!out) throw new SlotTableCorrupt("snapshot transaction aborted");
    for (const [err] of out) if (err) throw err;
    const [claimsRaw, verRaw, loadRaw, quotaRaw, recRaw, ownRaw] = out.map(([, v]) => v) as [
      Record<string, string>,
      string | null,
      Record<string, string>,
      (string | null)[],
      string | null,
      (string | null)[] | undefined,
    ];
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
      quotaUsed: { services: Number(quotaRaw[0] ?? 0), ports: Number(quotaRaw[1] ?? 0) },
    };
    const record = recRaw ? decodeJson(`L7 record ${owner}`, recRaw, l7Record) : null;
    return { version: Number(verRaw ?? 0), occupancy, record };
  }
}
