import { isIP } from "node:net";

/** A pool address entry that cannot be understood; `entry` is quoted in the message. */
export class AddressSyntaxError extends Error {
  override readonly name = "AddressSyntaxError";
  readonly reason = "InvalidAddress";
}

/** The most addresses one pool may expand to; larger ranges are almost surely a typo. */
export const MAX_POOL_ADDRESSES = 65_536;

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function v6ToBigInt(ip: string): bigint {
  const [head = "", tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(Number.parseInt(g || "0", 16)), 0n);
}

function bigIntToV6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Canonical form (RFC 5952): compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** Canonical text of an IP, so "2001:db8::1" and "2001:DB8:0::1" are one slot. */
export function canonicalIp(ip: string): string {
  const v = isIP(ip);
  if (v === 4) return intToV4(v4ToInt(ip));
  if (v === 6) return bigIntToV6(v6ToBigInt(ip.toLowerCase()));
  throw new AddressSyntaxError(`"${ip}" is not an IP address`);
}

/**
 * Expands pool address entries (single IPs, `a-b` ranges, CIDRs; IPv4 and IPv6) into a
 * sorted, de-duplicated list. Network and broadcast addresses of IPv4 CIDRs shorter than
 * /31 are kept: shared IPs are announced individually, not as subnets.
 */
export function expandAddresses(entries: readonly string[]): string[] {
  const out = new Set<string>();
  const add = (ip: string) => {
    out.add(ip);
    if (out.size > MAX_POOL_ADDRESSES) {
      throw new AddressSyntaxError(`expands to more than ${MAX_POOL_ADDRESSES} addresses`);
    }
  };
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry.includes("/")) {
      const [base = "", bitsText = ""] = entry.split("/");
      const bits = Number(bitsText);
      const v = isIP(base);
      if (!v || !/^\d{1,3}$/.test(bitsText) || bits > (v === 4 ? 32 : 128)) {
        throw new AddressSyntaxError(`"${entry}" is not a CIDR`);
      }
      if (v === 4) {
        const size = 2 ** (32 - bits);
        if (size > MAX_POOL_ADDRESSES) throw new AddressSyntaxError(`"${entry}" has ${size} addresses, more than ${MAX_POOL_ADDRESSES}`);
        const start = Math.floor(v4ToInt(base) / size) * size;
        for (let i = 0; i < size; i++) add(intToV4(start + i));
      } else {
        const hostBits = 128 - bits;
        if (hostBits > 16) throw new AddressSyntaxError(`"${entry}" has more than ${MAX_POOL_ADDRESSES} addresses`);
        const size = 1n << BigInt(hostBits);
        const start = (v6ToBigInt(base.toLowerCase()) / size) * size;
        for (let i = 0n; i < size; i++) add(bigIntToV6(start + i));
      }
    } else if (entry.includes("-")) {
      const [a = "", b = ""] = entry.split("-").map((s) => s.trim());
      const va = isIP(a);
      if (!va || va !== isIP(b)) throw new AddressSyntaxError(`"${entry}" is not a range of two IPs of one family`);
      if (va === 4) {
        const lo = v4ToInt(a);
        const hi = v4ToInt(b);
        if (hi < lo) throw new AddressSyntaxError(`"${entry}": the range ends before it starts`);
        if (hi - lo + 1 > MAX_POOL_ADDRESSES) throw new AddressSyntaxError(`"${entry}" has more than ${MAX_POOL_ADDRESSES} addresses`);
        for (let i = lo; i <= hi; i++) add(intToV4(i));
      } else {
        const lo = v6ToBigInt(a.toLowerCase());
        const hi = v6ToBigInt(b.toLowerCase());
        if (hi < lo) throw new AddressSyntaxError(`"${entry}": the range ends before it starts`);
        if (hi - lo + 1n > BigInt(MAX_POOL_ADDRESSES)) throw new AddressSyntaxError(`"${entry}" has more than ${MAX_POOL_ADDRESSES} addresses`);
        for (let i = lo; i <= hi; i++) add(bigIntToV6(i));
      }
    } else {
      add(canonicalIp(entry));
    }
  }
  return [...out].sort(compareIps);
}

export function compareIps(a: string, b: string): number {
  const va = isIP(a);
  const vb = isIP(b);
  if (va !== vb) return va - vb;
  if (va === 4) return v4ToInt(a) - v4ToInt(b);
  const x = v6ToBigInt(a);
  const y = v6ToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `"1024-65535"` or `"443"` → inclusive bounds. */
export function parsePortRange(text: string): { lo: number; hi: number } {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m ? Number(m[2] ?? m[1]) : Number.NaN;
  if (!m || lo < 1 || hi > 65535 || hi < lo) {
    throw new AddressSyntaxError(`"${text}" is not a port range within 1-65535 (e.g. "1024-65535")`);
  }
  return { lo, hi };
}
