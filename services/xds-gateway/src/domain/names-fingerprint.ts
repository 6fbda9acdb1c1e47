/**
 * An order-insensitive fingerprint of a list of names: count plus lane-wise sums of two
 * independent 32-bit hashes of each name's UTF-8 bytes and a mix of both (96 bits).
 * An Envoy repeats its full EDS name list (thousands of names) on every ACK; this tells
 * "unchanged" without sorting or keeping that list per stream, and because it hashes
 * UTF-8 bytes it can be computed straight from a request's wire bytes (see
 * sotw-wire.ts) as well as from decoded strings, with the same result.
 */
export class NamesFingerprint {
  private n = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private star = false;

  /** Names counted ("*" excluded). */
  get count(): number {
    return this.n;
  }

  /** Whether "*" was among the names. */
  get hasStar(): boolean {
    return this.star;
  }

  addString(name: string): void {
    if (name === "*") {
      this.star = true;
      return;
    }
    let h1 = 0x811c9dc5;
    let h2 = 0x050c5d1f;
    const mix = (b: number) => {
      h1 = Math.imul(h1 ^ b, 0x01000193);
      h2 = Math.imul(h2 ^ b, 0x5bd1e995);
    };
    for (let i = 0; i < name.length; i++) {
      let c = name.charCodeAt(i);
      if (c < 0x80) {
        mix(c);
        continue;
      }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < name.length) {
        const lo = name.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        }
      }
      if (c < 0x800) {
        mix(0xc0 | (c >> 6));
      } else if (c < 0x10000) {
        mix(0xe0 | (c >> 12));
        mix(0x80 | ((c >> 6) & 0x3f));
      } else {
        mix(0xf0 | (c >> 18));
        mix(0x80 | ((c >> 12) & 0x3f));
        mix(0x80 | ((c >> 6) & 0x3f));
      }
      mix(0x80 | (c & 0x3f));
    }
    this.count1(h1, h2);
  }

  /** The same as addString of the UTF-8 string in `bytes[start, end)`. */
  addBytes(bytes: Uint8Array, start: number, end: number): void {
    if (end - start === 1 && bytes[start] === 0x2a) {
      this.star = true;
      return;
    }
    let h1 = 0x811c9dc5;
    let h2 = 0x050c5d1f;
    for (let i = start; i < end; i++) {
      const b = bytes[i] ?? 0;
      h1 = Math.imul(h1 ^ b, 0x01000193);
      h2 = Math.imul(h2 ^ b, 0x5bd1e995);
    }
    this.count1(h1, h2);
  }

  private count1(h1: number, h2: number): void {
    this.s1 = (this.s1 + h1) >>> 0;
    this.s2 = (this.s2 + h2) >>> 0;
    this.s3 = (this.s3 + ((h1 ^ ((h2 << 16) | (h2 >>> 16))) >>> 0)) >>> 0;
    this.n++;
  }

  /** The subscription key for these names, wildcard or not ("*" / "-" when there are none). */
  key(wildcard: boolean): string {
    if (this.n === 0) return wildcard ? "*" : "-";
    return `${wildcard ? "*+" : ""}${this.n}.${this.s1.toString(36)}.${this.s2.toString(36)}.${this.s3.toString(36)}`;
  }
}

/** The fingerprint key of decoded names (see NamesFingerprint). */
export function namesKey(wildcard: boolean, names: Iterable<string>): string {
  const f = new NamesFingerprint();
  for (const name of names) f.addString(name);
  return f.key(wildcard);
}
