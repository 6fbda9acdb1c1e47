import { hash } from "node:crypto";

/** 128 bits of a resource's content hash as four unsigned 32-bit lanes. */
export type Lanes = readonly [number, number, number, number];

export interface ContentHash {
  /** The resource version sent to clients: the same bytes give the same version everywhere. */
  readonly version: string;
  readonly lanes: Lanes;
}

/**
 * Hashes a resource's encoded bytes. The bytes include the resource's name, so the hash
 * identifies (name, content), which is what the set hash below relies on.
 */
export function hashResource(bytes: Uint8Array): ContentHash {
  const digest = hash("sha256", bytes, "buffer");
  const lanes: Lanes = [digest.readUInt32BE(0), digest.readUInt32BE(4), digest.readUInt32BE(8), digest.readUInt32BE(12)];
  return { version: digest.toString("hex", 0, 16), lanes };
}

/**
 * An order-independent hash of a set of resources: lane-wise sums of their content
 * hashes, mod 2^32. It can be updated one resource at a time, so the version of a
 * 10,000-resource SotW response costs O(1) per change instead of rehashing the set, and
 * it does not depend on the order a replica learned the resources in.
 */
export class SetHash {
  private readonly lanes = new Uint32Array(4);
  private n = 0;

  get count(): number {
    return this.n;
  }

  add(l: Lanes): void {
    for (let i = 0; i < 4; i++) this.lanes[i] = ((this.lanes[i] ?? 0) + (l[i] ?? 0)) >>> 0;
    this.n++;
  }

  remove(l: Lanes): void {
    for (let i = 0; i < 4; i++) this.lanes[i] = ((this.lanes[i] ?? 0) - (l[i] ?? 0)) >>> 0;
    this.n--;
  }

  /** `<count in base 36>.<32 hex digits>`; never empty, so "" always means "nothing yet". */
  version(): string {
    let hex = "";
    for (const lane of this.lanes) hex += lane.toString(16).padStart(8, "0");
    return `${this.n.toString(36)}.${hex}`;
  }
}

/** The set hash of a list of entries computed from scratch (named subscriptions). */
export function setVersion(items: Iterable<{ readonly lanes: Lanes }>): string {
  const h = new SetHash();
  for (const item of items) h.add(item.lanes);
  return h.version();
}
