import type { ClaimRequest } from "./request.js";

/**
 * The placement rule: where a claim lands, or why it cannot. `lua/apply.lua` carries the
 * same rule so a claim stays one atomic Redis round trip; `placement.int.test.ts` runs
 * random occupancies through both and requires identical outcomes. Change both together.
 */

export type Protocol = "TCP" | "UDP";

/** One port of a Service as it is held: service port → external port. */
export interface PortClaim {
  protocol: Protocol;
  port: number;
  externalPort: number;
}

/** Where the Service is now, if it is Allocated. */
export interface HeldAllocation {
  pool: string;
  ip: string;
  claims: readonly PortClaim[];
}

/** What the pool looks like to this claim. */
export interface Occupancy {
  /** `ip|PROTO|port` → owner, or `~owner` while quarantined after its owner let it go. */
  owners: ReadonlyMap<string, string>;
  /** Slots held per IP (quarantined ones included). */
  load: ReadonlyMap<string, number>;
  /** Allocated Services of the claiming tenant cluster per IP of the pool. */
  tenantServices: ReadonlyMap<string, number>;
  /** Allocated Services and ports of the claiming tenant cluster, over all pools. */
  quotaUsed: { services: number; ports: number };
}

export type WaitReason = "QuotaExceeded" | "PortUnavailable" | "PoolExhausted";

export type Placement =
  | { kind: "placed"; ip: string; claims: PortClaim[] }
  | { kind: "waiting"; reason: WaitReason; message: string };

export const slotName = (ip: string, protocol: string, port: number): string => `${ip}|${protocol}|${port}`;

interface Candidate {
  ip: string;
  index: number;
  current: boolean;
  tenant: boolean;
  load: number;
}

/**
 * Candidate IPs in the order they are tried: where the Service is now (stability), then
 * IPs the tenant already uses (packing), then the least loaded, then pool order.
 */
export function candidateOrder(req: ClaimRequest, held: HeldAllocation | undefined, occ: Occupancy): string[] {
  const current = held && held.pool === req.pool ? held.ip : "";
  const cands: Candidate[] = req.ips.map((ip, index) => {
    const mine = (occ.tenantServices.get(ip) ?? 0) - (ip === current ? 1 : 0);
    return { ip, index, current: ip === current, tenant: mine > 0, load: occ.load.get(ip) ?? 0 };
  });
  cands.sort((x, y) => {
    if (x.current !== y.current) return x.current ? -1 : 1;
    if (x.tenant !== y.tenant) return x.tenant ? -1 : 1;
    if (x.load !== y.load) return x.load - y.load;
    return x.index - y.index;
  });
  return cands.map((c) => c.ip);
}

function quotaProblem(req: ClaimRequest, cluster: string, held: HeldAllocation | undefined, occ: Occupancy): string | undefined {
  let services = occ.quotaUsed.services;
  let ports = occ.quotaUsed.ports;
  if (held) {
    services -= 1;
    ports -= held.claims.length;
  }
  if (req.quota.services > 0 && services + 1 > req.quota.services) {
    return `cluster ${cluster} already has ${services} of ${req.quota.services} allowed Services`;
  }
  if (req.quota.ports > 0 && ports + req.ports.length > req.quota.ports) {
    return `cluster ${cluster} would use ${ports + req.ports.length} of ${req.quota.ports} allowed ports`;
  }
  return undefined;
}

/** Decides where a claim lands. Pure: the same inputs give the same placement everywhere. */
export function place(req: ClaimRequest, owner: string, cluster: string, held: HeldAllocation | undefined, occ: Occupancy): Placement {
  const overQuota = quotaProblem(req, cluster, held, occ);
  if (overQuota) return { kind: "waiting", reason: "QuotaExceeded", message: overQuota };

  const order = candidateOrder(req, held, occ);
  const current = held && held.pool === req.pool ? held.ip : "";
  const existing = new Map<string, number>();
  if (current) for (const c of held?.claims ?? []) existing.set(`${c.protocol}/${c.port}`, c.externalPort);

  // A slot is usable when nobody holds it, or this Service holds it (also in quarantine).
  const usable = (slot: string): boolean => {
    const o = occ.owners.get(slot);
    return o === undefined || o === owner || o === `~${owner}`;
  };
  const acceptable = (want: number, remap: boolean, ext: number): boolean => ext >= req.range.lo && ext <= req.range.hi && (ext === want || remap);

  const attempt = (ip: string, allowRemap: boolean): PortClaim[] | undefined => {
    const taken = new Set<string>();
    const claims: PortClaim[] = [];
    for (const w of req.ports) {
      let ext: number | undefined;
      // Where this port is now comes first (stability), then the port it asks for.
      const now = ip === current ? existing.get(`${w.protocol}/${w.port}`) : undefined;
      for (const cand of now === undefined ? [w.want] : [now, w.want]) {
        if (ext === undefined && acceptable(w.want, w.remap, cand)) {
          const slot = slotName(ip, w.protocol, cand);
          if (!taken.has(slot) && usable(slot)) ext = cand;
        }
      }
      // Remapping takes the lowest port nobody holds at all (not even this Service).
      if (ext === undefined && allowRemap && w.remap) {
        for (let p = req.range.lo; p <= req.range.hi; p++) {
          const slot = slotName(ip, w.protocol, p);
          if (!occ.owners.has(slot) && !taken.has(slot)) {
            ext = p;
            break;
          }
        }
      }
      if (ext === undefined) return undefined;
      taken.add(slotName(ip, w.protocol, ext));
      claims.push({ protocol: w.protocol, port: w.port, externalPort: ext });
    }
    return claims;
  };

  for (const allowRemap of [false, true]) {
    for (const ip of order) {
      const claims = attempt(ip, allowRemap);
      if (claims) return { kind: "placed", ip, claims };
    }
  }

  // Why not: PoolExhausted when no candidate IP has room for this many ports at all,
  // PortUnavailable when some IP has room but not on the wanted ports.
  const need = new Map<string, number>();
  for (const w of req.ports) need.set(w.protocol, (need.get(w.protocol) ?? 0) + 1);
  const size = req.range.hi - req.range.lo + 1;
  const heldInRange = (ip: string, protocol: string): number => {
    let used = 0;
    for (const slot of occ.owners.keys()) {
      const [sip, sproto, sport] = slot.split("|");
      const port = Number(sport);
      if (sip === ip && sproto === protocol && port >= req.range.lo && port <= req.range.hi) used++;
    }
    return used;
  };
  const roomSomewhere = order.some((ip) => [...need].every(([protocol, n]) => size - heldInRange(ip, protocol) >= n));
  if (roomSomewhere) {
    const wanted = req.ports.map((w) => `${w.want}/${w.protocol}`).join(",");
    const where = req.pinned ? `on ${req.ips[0]}` : `on any IP of pool ${req.pool}`;
    return { kind: "waiting", reason: "PortUnavailable", message: `port ${wanted} is taken ${where}; allow remapping with sharedlb.io/port-policy: any` };
  }
  const where = req.pinned ? `IP ${req.ips[0]}` : `pool ${req.pool}`;
  return { kind: "waiting", reason: "PoolExhausted", message: `${where} has no room for ${req.ports.length} more port(s)` };
}
