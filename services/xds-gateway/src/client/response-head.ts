/**
 * The fields of a (Delta)DiscoveryResponse that say what it is, read without decoding
 * any resource: a load generator standing in for hundreds of Envoys cannot afford to
 * decode every multi-megabyte SotW response, and does not need to.
 */
export interface ResponseHead {
  readonly typeUrl: string;
  /** version_info (SotW) or system_version_info (delta). */
  readonly version: string;
  readonly nonce: string;
  readonly resources: number;
  /** Delta only: the name of each resource. */
  readonly names: readonly string[];
  /** Delta only: the version of each resource, as `names` (what a reconnecting client names as held). */
  readonly versions: readonly string[];
  /** Delta only: removed_resources. */
  readonly removed: readonly string[];
  readonly bytes: number;
}

const decoder = new TextDecoder();

class Scanner {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new RangeError("truncated varint");
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }

  bytes(): Uint8Array {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    return decoder.decode(this.bytes());
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) {
      const len = this.varint();
      this.pos += len;
    } else if (wireType === 5) this.pos += 4;
    else throw new RangeError(`unsupported wire type ${wireType}`);
  }
}

// Field numbers shared by DiscoveryResponse and DeltaDiscoveryResponse.
const VERSION = 1;
const RESOURCES = 2;
const TYPE_URL = 4;
const NONCE = 5;
const REMOVED = 6;
// envoy.service.discovery.v3.Resource.version and .name
const RESOURCE_VERSION = 1;
const RESOURCE_NAME = 3;

export function readResponseHead(buf: Uint8Array, delta: boolean): ResponseHead {
  const s = new Scanner(buf);
  let typeUrl = "";
  let version = "";
  let nonce = "";
  let resources = 0;
  const names: string[] = [];
  const versions: string[] = [];
  const removed: string[] = [];
  while (s.pos < s.end) {
    const tag = s.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) {
      s.skip(wire);
      continue;
    }
    if (field === VERSION) version = s.string();
    else if (field === TYPE_URL) typeUrl = s.string();
    else if (field === NONCE) nonce = s.string();
    else if (field === REMOVED && delta) removed.push(s.string());
    else if (field === RESOURCES) {
      resources++;
      const inner = s.bytes();
      if (delta) {
        const [name, v] = nameAndVersion(inner);
        names.push(name);
        versions.push(v);
      }
    } else s.skip(wire);
  }
  return { typeUrl, version, nonce, resources, names, versions, removed, bytes: buf.length };
}

function nameAndVersion(buf: Uint8Array): [string, string] {
  const s = new Scanner(buf);
  let name = "";
  let version = "";
  while (s.pos < s.end) {
    const tag = s.varint();
    const field = Math.floor(tag / 8);
    if ((tag & 7) === 2 && field === RESOURCE_NAME) name = s.string();
    else if ((tag & 7) === 2 && field === RESOURCE_VERSION) version = s.string();
    else s.skip(tag & 7);
  }
  return [name, version];
}
