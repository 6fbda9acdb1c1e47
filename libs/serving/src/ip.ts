import { isIP } from "node:net";

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** An address range such as `10.0.0.0/8` or `fd00::/8`. */
export interface Cidr {
  /** As the operator wrote it, for messages. */
  readonly text: string;
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export class InvalidCidrError extends Error {
  override readonly name = "InvalidCidrError";
  readonly reason = "InvalidCidr";
}

/**
 * Parses a plain IPv4 or IPv6 address. Zoned IPv6 addresses (`fe80::1%eth0`) and anything
 * `net.isIP` rejects (leading zeros, octal forms) give undefined.
 */
export function parseIp(text: string): IpAddress | undefined {
  const family = isIP(text);
  if (family === 4) return { family, bytes: Uint8Array.from(text.split(".").map(Number)) };
  if (family !== 6 || text.includes("%")) return undefined;
  let head = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = "", right] = head.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const all = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (v4.length === 4) bytes.set(v4, 12);
  return { family, bytes };
}

/** Parses `address/prefix`; a bare address is a single-host range. Throws InvalidCidrError. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) throw new InvalidCidrError(`"${text}" is not an IP address or CIDR range`);
  const bits = address.bytes.length * 8;
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= bits)) throw new InvalidCidrError(`"${text}": the prefix length must be 0 to ${bits}`);
  return { text, family: address.family, bytes: address.bytes, prefix };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((cidr.bytes[whole] ?? 0) & mask) === ((ip.bytes[whole] ?? 0) & mask);
}

const IPV4_MAPPED = parseCidr("::ffff:0:0/96");
const NAT64_WELL_KNOWN = parseCidr("64:ff9b::/96");

/** The IPv4 address an IPv6 address stands for (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`). */
export function embeddedIpv4(ip: IpAddress): IpAddress | undefined {
  if (ip.family !== 6 || !(cidrContains(IPV4_MAPPED, ip) || cidrContains(NAT64_WELL_KNOWN, ip))) return undefined;
  return { family: 4, bytes: ip.bytes.slice(12) };
}
