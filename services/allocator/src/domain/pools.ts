import { type Static, Type } from "@sinclair/typebox";
import { isIP } from "node:net";
import type { IpFamily } from "@sharedlb/contracts";
import { AddressSyntaxError, expandAddresses, parsePortRange } from "./addresses.js";

/** The pool file (`sharedlb-allocator --config`), as DESIGN.md defines its minimum. */
export const PoolFileSchema = Type.Object(
  {
    pools: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description: "DNS label" }),
          addresses: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
          ports: Type.String({ default: "1-65535" }),
          clusters: Type.Array(Type.String({ minLength: 1 }), { default: ["*"], minItems: 1 }),
          namespaces: Type.Array(Type.String({ minLength: 1 }), { default: ["*"], minItems: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    defaultPool: Type.Optional(Type.String()),
    familyPools: Type.Optional(
      Type.Object(
        { IPv4: Type.Optional(Type.String()), IPv6: Type.Optional(Type.String()) },
        {
          additionalProperties: false,
          description: "the pool a dual-stack Service gets an address of this family from when sharedlb.io/pool names none of that family",
        },
      ),
    ),
    releaseDelaySeconds: Type.Number({ minimum: 0, maximum: 86_400, default: 30 }),
    purgeAfterSeconds: Type.Number({ minimum: 1, default: 3600, description: "age after which tombstones and Released allocations are purged from the streams" }),
    quotas: Type.Optional(
      Type.Object(
        {
          default: Type.Optional(Type.Object({ services: Type.Integer({ minimum: 0 }), ports: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
          clusters: Type.Optional(
            Type.Record(
              Type.String(),
              Type.Object({ services: Type.Integer({ minimum: 0 }), ports: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PoolFile = Static<typeof PoolFileSchema>;

export interface Pool {
  name: string;
  /** Sorted, canonical. */
  ips: readonly string[];
  ipSet: ReadonlySet<string>;
  /** The IP families its addresses belong to, IPv4 first. */
  families: readonly IpFamily[];
  ports: { lo: number; hi: number };
  clusters: readonly string[];
  namespaces: readonly string[];
}

export interface Quota {
  /** 0 = unlimited. */
  services: number;
  ports: number;
}

export interface AllocatorPolicy {
  pools: ReadonlyMap<string, Pool>;
  defaultPool: string;
  /** Per family, the pool a dual-stack Service falls back to (pool file `familyPools`). */
  familyPools: Readonly<Partial<Record<IpFamily, string>>>;
  releaseDelayMs: number;
  purgeAfterMs: number;
  quotaFor(cluster: string): Quota;
}

/** A pool file that parses but makes no sense; names the field. */
export class PoolConfigError extends Error {
  override readonly name = "PoolConfigError";
  readonly reason = "InvalidConfig";
}

/** Resolves a schema-valid pool file into a policy; every semantic error names its field. */
export function resolvePolicy(file: PoolFile): AllocatorPolicy {
  const pools = new Map<string, Pool>();
  const owner = new Map<string, string>();
  file.pools.forEach((p, i) => {
    if (pools.has(p.name)) throw new PoolConfigError(`field pools[${i}].name: pool "${p.name}" is defined twice`);
    let ips: string[];
    let ports: { lo: number; hi: number };
    try {
      ips = expandAddresses(p.addresses);
    } catch (err) {
      if (err instanceof AddressSyntaxError) throw new PoolConfigError(`field pools[${i}].addresses: ${err.message}`);
      throw err;
    }
    try {
      ports = parsePortRange(p.ports);
    } catch (err) {
      if (err instanceof AddressSyntaxError) throw new PoolConfigError(`field pools[${i}].ports: ${err.message}`);
      throw err;
    }
    for (const ip of ips) {
      const other = owner.get(ip);
      if (other) throw new PoolConfigError(`field pools[${i}].addresses: ${ip} is also in pool "${other}"`);
      owner.set(ip, p.name);
    }
    pools.set(p.name, {
      name: p.name,
      ips,
      ipSet: new Set(ips),
      families: familiesOf(ips),
      ports,
      clusters: p.clusters,
      namespaces: p.namespaces,
    });
  });
  const defaultPool = file.defaultPool ?? file.pools[0]?.name ?? "";
  if (!pools.has(defaultPool)) throw new PoolConfigError(`field defaultPool: no pool is named "${defaultPool}"`);
  const familyPools: Partial<Record<IpFamily, string>> = {};
  for (const family of ["IPv4", "IPv6"] as const) {
    const name = file.familyPools?.[family];
    if (name === undefined) continue;
    const pool = pools.get(name);
    if (!pool) throw new PoolConfigError(`field familyPools.${family}: no pool is named "${name}"`);
    if (pool.families.length !== 1 || pool.families[0] !== family) {
      throw new PoolConfigError(`field familyPools.${family}: pool "${name}" must have ${family} addresses only`);
    }
    familyPools[family] = name;
  }
  const unlimited: Quota = { services: 0, ports: 0 };
  return {
    pools,
    defaultPool,
    familyPools,
    releaseDelayMs: Math.round(file.releaseDelaySeconds * 1000),
    purgeAfterMs: Math.round(file.purgeAfterSeconds * 1000),
    quotaFor: (cluster) => file.quotas?.clusters?.[cluster] ?? file.quotas?.default ?? unlimited,
  };
}

/** Glob with `*` only: `*`, `prod-*`, `a`. */
export function matchesSelector(selectors: readonly string[], value: string): boolean {
  return selectors.some((s) => {
    if (s === "*") return true;
    if (!s.includes("*")) return s === value;
    const re = new RegExp(`^${s.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    return re.test(value);
  });
}

export const familyOfIp = (ip: string): IpFamily => (isIP(ip) === 6 ? "IPv6" : "IPv4");

function familiesOf(ips: readonly string[]): IpFamily[] {
  const present = new Set(ips.map(familyOfIp));
  return (["IPv4", "IPv6"] as const).filter((f) => present.has(f));
}

/** The pool holding an address, for the re-import of a dual-stack Service's second address. */
export function poolOfIp(policy: AllocatorPolicy, ip: string): Pool | undefined {
  for (const pool of policy.pools.values()) if (pool.ipSet.has(ip)) return pool;
  return undefined;
}
