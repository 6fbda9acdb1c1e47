import { CLUSTER_TYPE, encodeAny, encodeMessage, envoy } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { anyValue, encodeAsAny } from "./encode.js";

describe("encodeAsAny", () => {
  it("gives the bytes of wrapping a separately encoded message", () => {
    const cluster = { name: "a/b/c/tcp-80", connectTimeout: { seconds: 5 } };
    const Cluster = envoy.config.cluster.v3.Cluster;
    const oneStep = encodeAsAny(CLUSTER_TYPE, Cluster, cluster);
    expect(Buffer.from(oneStep).equals(Buffer.from(encodeAny(CLUSTER_TYPE, encodeMessage(Cluster, cluster))))).toBe(true);
    expect(Cluster.decode(anyValue(oneStep)).name).toBe("a/b/c/tcp-80");
  });
});
