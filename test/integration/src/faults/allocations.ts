import type { Allocation } from "@sharedlb/contracts";

/**
 * What a fault test checks in LB_ALLOCATIONS after the fault: nothing lost (every live
 * Service allocated, every deleted one released), nothing moved (same IP and ports as
 * before the fault), nothing doubled (no IP:port held by two Services).
 */

/** The Services a test has published, as `namespace/name` within one cluster. */
export interface Fleet {
  cluster: string;
  live: readonly string[];
  deleted: readonly string[];
}

const key = (cluster: string, nsName: string) => `${cluster}/${nsName}`;

/** The allocations when every live Service is Allocated and every deleted one Released, else undefined. */
export function settled(allocations: Map<string, Allocation>, fleet: Fleet): Map<string, Allocation> | undefined {
  const live = fleet.live.every((s) => allocations.get(key(fleet.cluster, s))?.state === "Allocated");
  const gone = fleet.deleted.every((s) => allocations.get(key(fleet.cluster, s))?.state === "Released");
  return live && gone ? allocations : undefined;
}

/** Live Services that were Allocated in `before` and hold another IP or other ports in `after`. */
export function movedSince(before: Map<string, Allocation>, after: Map<string, Allocation>, fleet: Fleet): string[] {
  const placed = (a: Allocation | undefined) =>
    a?.state === "Allocated"
      ? JSON.stringify({ ip: a.ip, ports: a.ports.map((p) => `${p.protocol}/${p.externalPort}`).sort() })
      : undefined;
  const moved: string[] = [];
  for (const s of fleet.live) {
    const was = placed(before.get(key(fleet.cluster, s)));
    const now = placed(after.get(key(fleet.cluster, s)));
    if (was !== undefined && was !== now) moved.push(`${s}: ${was} -> ${now}`);
  }
  return moved;
}

/** Every IP:protocol/port held by more than one Allocated Service, with its holders. */
export function doubledSlots(allocations: Map<string, Allocation>): string[] {
  const holders = new Map<string, string[]>();
  for (const [owner, a] of allocations) {
    if (a.state !== "Allocated") continue;
    for (const p of a.ports) {
      const slot = `${a.ip}:${p.protocol}/${p.externalPort}`;
      holders.set(slot, [...(holders.get(slot) ?? []), owner]);
    }
  }
  return [...holders].filter(([, o]) => o.length > 1).map(([slot, o]) => `${slot} held by ${o.join(", ")}`);
}
