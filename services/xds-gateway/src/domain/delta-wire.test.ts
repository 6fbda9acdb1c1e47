import { CLUSTER_TYPE, envoy } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { readDeltaDiscoveryRequest } from "./delta-wire.js";
import { MalformedMessage } from "./sotw-wire.js";

const Request = envoy.service.discovery.v3.DeltaDiscoveryRequest;
const encode = (req: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties) => Buffer.from(Request.encode(req).finish());

describe("readDeltaDiscoveryRequest", () => {
  it("reads initial_resource_versions into a Map and every other field as protobufjs does", () => {
    const versions = { "a/ns/svc/tcp-80": "v1", "b/ns/ünï/tcp-443": "v2", "": "empty-name" };
    const bytes = encode({
      node: { id: "envoy-1", cluster: "edge" },
      typeUrl: CLUSTER_TYPE,
      resourceNamesSubscribe: ["x", "y"],
      resourceNamesUnsubscribe: ["z"],
      initialResourceVersions: versions,
      responseNonce: "n1",
      errorDetail: { code: 3, message: "bad" },
    });
    const read = readDeltaDiscoveryRequest(bytes);
    if (read instanceof MalformedMessage) throw new Error(read.problem);
    expect(Object.fromEntries(read.initialVersions)).toEqual(versions);
    const decoded = Request.decode(bytes);
    expect(read.node?.id).toBe("envoy-1");
    expect([
      read.typeUrl,
      read.resourceNamesSubscribe,
      read.resourceNamesUnsubscribe,
      read.responseNonce,
      read.errorDetail?.message,
    ]).toEqual([
      decoded.typeUrl,
      decoded.resourceNamesSubscribe,
      decoded.resourceNamesUnsubscribe,
      decoded.responseNonce,
      decoded.errorDetail?.message,
    ]);
  });

  it("a request naming no versions is read as it is, with an empty Map", () => {
    const read = readDeltaDiscoveryRequest(encode({ typeUrl: CLUSTER_TYPE, responseNonce: "n2" }));
    if (read instanceof MalformedMessage) throw new Error(read.problem);
    expect(read.initialVersions.size).toBe(0);
    expect([read.typeUrl, read.responseNonce]).toEqual([CLUSTER_TYPE, "n2"]);
  });

  it("skips fields of an entry it does not know, as protobuf does", () => {
    // initial_resource_versions { key "k" value "v" 3: 7 }
    const entry = Buffer.from([0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, 0x18, 0x07]);
    const read = readDeltaDiscoveryRequest(Buffer.concat([Buffer.from([0x2a, entry.length]), entry]));
    if (read instanceof MalformedMessage) throw new Error(read.problem);
    expect([...read.initialVersions]).toEqual([["k", "v"]]);
  });

  it("names what is wrong with bytes that are not a request, and never throws", () => {
    const problem = (bytes: Buffer) => {
      const read = readDeltaDiscoveryRequest(bytes);
      return read instanceof MalformedMessage ? read.problem : "read";
    };
    // An entry that claims more bytes than the message has.
    expect(problem(Buffer.from([0x2a, 0x09, 0x0a, 0x01, 0x6b]))).toMatch(/initial_resource_versions entry claims 9 bytes/);
    // A key that is not UTF-8.
    expect(problem(Buffer.from([0x2a, 0x03, 0x0a, 0x01, 0xff]))).toMatch(/not valid UTF-8/);
    // A key whose length runs past the entry.
    expect(problem(Buffer.from([0x2a, 0x02, 0x0a, 0x05]))).toMatch(/past its end/);
    // Another field cut short, beside a good entry.
    expect(problem(Buffer.from([0x2a, 0x03, 0x0a, 0x01, 0x6b, 0x12, 0x05, 0x61]))).toMatch(/type_url claims 5 bytes at byte 7, but only 1 remain/);
    // What protobufjs itself rejects in the other fields still comes back as a problem.
    expect(problem(Buffer.from([0x2a, 0x03, 0x0a, 0x01, 0x6b, 0x0f]))).not.toBe("read");
  });
});
