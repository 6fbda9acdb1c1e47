import { encodeAny, encodeDeltaDiscoveryResponse, encodeDeltaResource, encodeDiscoveryResponse, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { readResponseHead } from "./response-head.js";

describe("readResponseHead", () => {
  it("reads a SotW response's head without its resources", () => {
    const bytes = encodeDiscoveryResponse({ versionInfo: "v1", typeUrl: LISTENER_TYPE, nonce: "n1" }, [
      encodeAny(LISTENER_TYPE, Buffer.from("x".repeat(300))),
      encodeAny(LISTENER_TYPE, Buffer.from("y")),
    ]);
    expect(readResponseHead(bytes, false)).toEqual({
      typeUrl: LISTENER_TYPE,
      version: "v1",
      nonce: "n1",
      resources: 2,
      names: [],
      versions: [],
      removed: [],
      bytes: bytes.length,
    });
  });

  it("reads a delta response's head, resource names and removals", () => {
    const bytes = encodeDeltaDiscoveryResponse(
      { systemVersionInfo: "s", typeUrl: LISTENER_TYPE, nonce: "n2", removedResources: ["gone"] },
      [encodeDeltaResource({ name: "l1", version: "a" }), encodeDeltaResource({ name: "l2", version: "b" })],
    );
    expect(readResponseHead(bytes, true)).toMatchObject({
      version: "s",
      nonce: "n2",
      resources: 2,
      names: ["l1", "l2"],
      versions: ["a", "b"],
      removed: ["gone"],
    });
  });
});
