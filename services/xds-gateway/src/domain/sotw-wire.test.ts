import { ENDPOINT_TYPE, envoy } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
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
  });
});
