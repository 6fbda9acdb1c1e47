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
    let pos = 0;
    const varint = (what: string): number => {
      let value = 0;
      for (let shift = 0; ; shift += 7) {
        const b = bytes[pos++];
        if (b === undefined) throw new WireError(`truncated ${what} at byte ${pos - 1}`);
        if (shift > 49) throw new WireError(`${what} is not a valid varint at byte ${pos - 1}`);
        value += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return value;
      }
    };
    while (pos < bytes.length) {
      const at = pos;
      const tag = varint("field tag");
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === INITIAL_RESOURCE_VERSIONS && wire === 2) {
        const len = varint("initial_resource_versions entry length");
        const end = pos + len;
        if (end > bytes.length)
          throw new WireError(`initial_resource_versions entry claims ${len} bytes at byte ${pos}, but only ${bytes.length - pos} remain`);
        const [name, version] = entry(bytes, pos, end);
        versions.set(name, version);
        if (at > restFrom) rest.push(bytes.subarray(restFrom, at));
        restFrom = end;
        pos = end;
        continue;
      }
      const name = FIELDS[field] ?? `field ${field}`;
      if (wire === 0) varint(name);
      else if (wire === 1) pos += 8;
      else if (wire === 2) {
        const len = varint(`length of ${name}`);
        if (pos + len > bytes.length)
          throw new WireError(`${name} claims ${len} bytes at byte ${pos}, but only ${bytes.length - pos} remain`);
        pos += len;
      } else if (wire === 5) pos += 4;
      else throw new WireError(`${name} has unsupported wire type ${wire}`);
      if (pos > bytes.length) throw new WireError(`${name} is truncated`);
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
  let pos = from;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined || pos > end) throw new WireError(`truncated initial_resource_versions entry at byte ${pos - 1}`);
      if (shift > 49) throw new WireError(`initial_resource_versions entry has an invalid varint at byte ${pos - 1}`);
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  while (pos < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (pos + len > end) throw new WireError(`initial_resource_versions entry claims ${len} bytes at byte ${pos}, past its end`);
      if (field === ENTRY_KEY || field === ENTRY_VALUE) {
        let text: string;
        try {
          text = strict.decode(bytes.subarray(pos, pos + len));
        } catch {
          throw new WireError(`initial_resource_versions entry at byte ${pos} is not valid UTF-8`);
        }
        if (field === ENTRY_KEY) key = text;
        else value = text;
      }
      pos += len;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new WireError(`initial_resource_versions entry field ${field} has unsupported wire type ${wire}`);
    if (pos > end) throw new WireError(`initial_resource_versions entry field ${field} is truncated`);
  }
  return [key, value];
}
