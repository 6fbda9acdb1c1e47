import { ENDPOINT_TYPE, envoy } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { KnownNameLists } from "./known-name-lists.js";
import { namesKey } from "./names-fingerprint.js";
import { MalformedMessage, readDiscoveryRequest, type SotwWireRequest } from "./sotw-wire.js";

const encode = (r: envoy.service.discovery.v3.DiscoveryRequest.$Properties) =>
  envoy.service.discovery.v3.DiscoveryRequest.encode(r).finish();

function read(bytes: Uint8Array): SotwWireRequest {
  const r = readDiscoveryRequest(bytes);
  if (r instanceof MalformedMessage) throw new Error(r.problem);
  return r;
}

describe("readDiscoveryRequest", () => {
  it("reads every field protobufjs writes, and fingerprints names as decoded strings do", () => {
    const names = ["a/shop/web/tcp-443", "*", "ünï/cödé/🙂"];
    const r = read(
      encode({
        versionInfo: "v1",
        node: { id: "envoy-1", cluster: "edge" },
        resourceNames: names,
        typeUrl: ENDPOINT_TYPE,
        responseNonce: "n7",
        errorDetail: { code: 3, message: "rejected" },
      }),
    );
    expect(r).toMatchObject({
      versionInfo: "v1",
      typeUrl: ENDPOINT_TYPE,
      responseNonce: "n7",
      errorDetail: { code: 3, message: "rejected" },
    });
    expect(r.node?.id).toBe("envoy-1");
    expect(r.node?.cluster).toBe("edge");
    expect(r.resourceNames.fingerprint.hasStar).toBe(true);
    expect(r.resourceNames.fingerprint.key(false)).toBe(namesKey(false, names));
    expect(r.resourceNames.list()).toEqual(names);
  });

  it("digests the names' bytes: equal for a list repeated byte for byte, different in another order, none when other fields come between", () => {
    const names = Array.from({ length: 100 }, (_, i) => `t${i % 3}/ns/svc-${i}/https-443`);
    const ack = (versionInfo: string, responseNonce: string, list: string[]) =>
      read(encode({ versionInfo, resourceNames: list, typeUrl: ENDPOINT_TYPE, responseNonce })).resourceNames.wireDigest;
    const first = ack("v1", "n1", names);
    expect(first).toMatch(/^[A-Za-z0-9+/]{27}=$/);
    expect(ack("v2", "n2", names)).toBe(first);
    expect(ack("v1", "n1", [...names].reverse())).not.toBe(first);
    expect(ack("v1", "n1", names.slice(1))).not.toBe(first);
    // resource_names "a", type_url "t", resource_names "b": still read, fingerprinted alike, no digest.
    const interleaved = read(Uint8Array.from([0x1a, 0x01, 0x61, 0x22, 0x01, 0x74, 0x1a, 0x01, 0x62])).resourceNames;
    expect(interleaved.wireDigest).toBeUndefined();
    expect(interleaved.fingerprint.key(false)).toBe(namesKey(false, ["a", "b"]));
    expect(interleaved.list()).toEqual(["a", "b"]);
  });

  it("reads names of any length, and a tag in a longer varint form, the same as protobufjs", () => {
    const names = ["a", "b".repeat(127), "c".repeat(128), "d".repeat(20_000), ""];
    const r = read(encode({ resourceNames: names, typeUrl: ENDPOINT_TYPE }));
    expect(r.resourceNames.list()).toEqual(names);
    expect(r.resourceNames.fingerprint.key(false)).toBe(namesKey(false, names));
    // "a" with its tag as the two-byte varint 0x9a 0x00 (field 3, wire type 2), then "b".
    const longTag = read(Uint8Array.from([0x9a, 0x00, 0x01, 0x61, 0x1a, 0x01, 0x62])).resourceNames;
    expect(longTag.list()).toEqual(["a", "b"]);
    expect(longTag.wireDigest).toBe(read(Uint8Array.from([0x9a, 0x00, 0x01, 0x61, 0x1a, 0x01, 0x62])).resourceNames.wireDigest);
    expect(longTag.wireDigest).not.toBe(read(Uint8Array.from([0x1a, 0x01, 0x61, 0x1a, 0x01, 0x62])).resourceNames.wireDigest);
  });

  it("a known list is matched whole, without walking it, and read the same as when walked", () => {
    const names = Array.from({ length: 50 }, (_, i) => `t1/ns/svc-${i}/tcp-80`);
    const request = (list: string[], nonce = "n1") =>
      encode({ versionInfo: "v1", resourceNames: list, typeUrl: ENDPOINT_TYPE, responseNonce: nonce });
    const known = new KnownNameLists();
    const walked = read(request(names));
    const list = walked.resourceNames.wire;
    if (!list) throw new Error("no wire bytes");
    const remembered = Buffer.from(list);
    known.remember(remembered);
    const readKnown = (bytes: Uint8Array) => {
      const r = readDiscoveryRequest(bytes, known);
      if (r instanceof MalformedMessage) throw new Error(r.problem);
      return r;
    };
    const hit = readKnown(request(names, "n2"));
    expect(hit.resourceNames.wire, "the known list itself").toBe(remembered);
    expect(hit.responseNonce).toBe("n2");
    expect(hit.resourceNames.fingerprint.key(false)).toBe(walked.resourceNames.fingerprint.key(false));
    expect(hit.resourceNames.list()).toEqual(names);
    expect(hit.resourceNames.wireDigest).toBe(walked.resourceNames.wireDigest);
    // One name more, or one fewer: not the known list.
    for (const other of [[...names, "t1/ns/extra/tcp-80"], names.slice(0, -1)]) {
      const r = readKnown(request(other));
      expect(r.resourceNames.list()).toEqual(other);
      expect(r.resourceNames.wire?.equals(list)).toBe(false);
    }
    // The known list, another field, then more names: every name counts, and there is no wire form.
    const split = Buffer.concat([request(names), Buffer.from([0x1a, 0x01, 0x7a])]);
    const r = readKnown(split);
    expect(r.resourceNames.list()).toEqual([...names, "z"]);
    expect(r.resourceNames.wire).toBeUndefined();
    expect(r.resourceNames.fingerprint.key(false)).toBe(namesKey(false, [...names, "z"]));
  });

  it("names what is wrong with bytes that are not a DiscoveryRequest", () => {
    const problem = (bytes: number[]) => {
      const r = readDiscoveryRequest(Uint8Array.from(bytes));
      return r instanceof MalformedMessage ? r.problem : "accepted";
    };
    expect(problem([0x0a, 0x05, 0x61])).toMatch(/version_info claims 5 bytes/);
    expect(problem([0x18, 0x01])).toMatch(/resource_names \(field 3\) has wire type 0/);
    expect(problem([0x22, 0x02, 0xff, 0xfe])).toMatch(/type_url is not valid UTF-8/);
    expect(problem([0x12, 0x02, 0x0a, 0x09])).toMatch(/node does not decode/);
    expect(problem([0xff])).toMatch(/truncated field tag/);
    expect(problem([0x43])).toMatch(/field 8 has unsupported wire type 3/);
    expect(problem([0x1a, 0x01, 0x61, 0x1a, 0x03, 0x62])).toMatch(/resource_names claims 3 bytes at byte 5, but only 1 remain/);
    expect(problem([0x1a, 0x80])).toMatch(/truncated length of resource_names/);
  });
});
