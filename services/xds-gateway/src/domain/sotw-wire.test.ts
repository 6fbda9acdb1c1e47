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
