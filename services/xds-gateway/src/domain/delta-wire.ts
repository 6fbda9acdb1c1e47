import { type DeltaDiscoveryRequest, envoy } from "@sharedlb/envoy-api";
import { MalformedMessage } from "./sotw-wire.js";

/**
 * A DeltaDiscoveryRequest whose initial_resource_versions were read straight into
 * `initialVersions` (its own `initialResourceVersions` stays empty).
 */
export type DeltaWireRequest = DeltaDiscoveryRequest & { readonly initialVersions: ReadonlyMap<string, string> };

// envoy.service.discovery.v3.DeltaDiscoveryRequest.initial_resource_versions, and the key
// and value of its map entries.
const INITIAL_RESOURCE_VERSIONS = 5;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

// The field names of a DeltaDiscoveryRequest, for saying which one is broken.
const FIELDS: Readonly<Record<number, string>> = {
  1: "node",
  2: "type_url",
  3: "resource_names_subscribe",
  4: "resource_names_unsubscribe",
  5: "initial_resource_versions",
  6: "response_nonce",
  7: "error_detail",
  8: "resource_locators_subscribe",
  9: "resource_locators_unsubscribe",
};

const strict = new TextDecoder("utf-8", { fatal: true });

class WireError extends Error {}

/**
 * Walks the fields of a message, or of a map entry inside one, up to `end`: the one place
 * this reader counts varints, lengths and skips, for both levels.
 */
class FieldReader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
    /** Inside a field of the message (a map entry): its end is that field's, not the message's. */
    private readonly nested = false,
  ) {}

  varint(what: string): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.pos < this.end ? this.bytes[this.pos++] : undefined;
      if (b === undefined) throw new WireError(`truncated ${what} at byte ${this.pos}`);
      if (shift > 49) throw new WireError(`${what} is not a valid varint at byte ${this.pos - 1}`);
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  }

  /** A length-delimited field's length, which must fit before `end`. */
  length(name: string): number {
    const len = this.varint(`length of ${name}`);
    if (this.pos + len > this.end)
      throw new WireError(
        this.nested
          ? `${name} claims ${len} bytes at byte ${this.pos}, past its end`
          : `${name} claims ${len} bytes at byte ${this.pos}, but only ${this.end - this.pos} remain`,
      );
    return len;
  }

  skip(wire: number, name: string): void {
    if (wire === 0) this.varint(name);
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      // Not `pos += length()`: that reads pos before length() moves it past the varint.
      const len = this.length(name);
      this.pos += len;
    } else if (wire === 5) this.pos += 4;
    else throw new WireError(`${name} has unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new WireError(`${name} is truncated`);
  }
}

/**
 * Reads a DeltaDiscoveryRequest. A reconnecting Envoy names every resource it holds in
 * initial_resource_versions, ~10,000 per type: protobufjs would build an object of them
 * (its slowest case) that the session then turns into a Map. Those entries are read here
 * into the Map directly; the rest of the message (without them) is decoded as before.
 * Never throws: bytes that are not a DeltaDiscoveryRequest give a MalformedMessage
 * naming the problem.
 */
export function readDeltaDiscoveryRequest(bytes: Uint8Array): DeltaWireRequest | MalformedMessage {
  try {
    const versions = new Map<string, string>();
    // The message's other fields, as ranges to keep (only when versions were found).
    const rest: Uint8Array[] = [];
    let restFrom = 0;
    const r = new FieldReader(bytes, 0, bytes.length);
    while (r.pos < r.end) {
      const at = r.pos;
      const tag = r.varint("field tag");
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === INITIAL_RESOURCE_VERSIONS && wire === 2) {
        const len = r.length("initial_resource_versions entry");
        const [name, version] = entry(bytes, r.pos, r.pos + len);
        versions.set(name, version);
        if (at > restFrom) rest.push(bytes.subarray(restFrom, at));
        r.pos += len;
        restFrom = r.pos;
        continue;
      }
      r.skip(wire, FIELDS[field] ?? `field ${field}`);
    }
    if (restFrom < bytes.length) rest.push(bytes.subarray(restFrom));
    const others = versions.size === 0 ? bytes : Buffer.concat(rest);
    return Object.assign(envoy.service.discovery.v3.DeltaDiscoveryRequest.decode(others), { initialVersions: versions });
  } catch (err) {
    return new MalformedMessage(err instanceof Error ? err.message : String(err));
  }
}

/** One map entry's key and value ("" when absent, as protobuf has it; other fields skipped). */
function entry(bytes: Uint8Array, from: number, end: number): [string, string] {
  let key = "";
  let value = "";
  const r = new FieldReader(bytes, from, end, true);
  while (r.pos < r.end) {
    const tag = r.varint("initial_resource_versions entry field tag");
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2 || (field !== ENTRY_KEY && field !== ENTRY_VALUE)) {
      r.skip(wire, `initial_resource_versions entry field ${field}`);
      continue;
    }
    const len = r.length("initial_resource_versions entry");
    let text: string;
    try {
      text = strict.decode(bytes.subarray(r.pos, r.pos + len));
    } catch {
      throw new WireError(`initial_resource_versions entry at byte ${r.pos} is not valid UTF-8`);
    }
    if (field === ENTRY_KEY) key = text;
    else value = text;
    r.pos += len;
  }
  return [key, value];
}
