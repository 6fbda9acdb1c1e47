import { createHash } from "node:crypto";
import { decodeEvent } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import { deadLetterEvent } from "./dead-letters.js";

const MAX = 8 * 1024 * 1024;
const SUBJECT = "lb.resource.a.service.shop.web";

function decoded(bytes: Uint8Array) {
  const ev = decodeEvent(bytes);
  if (ev.type !== "io.sharedlb.deadletter.v1") throw new Error(`unexpected ${ev.type}`);
  return ev.data;
}

describe("a dead letter", () => {
  it("carries a small payload whole, as UTF-8 or base64, and validates against the contract", () => {
    const text = deadLetterEvent("allocator", "r1", { subject: SUBJECT, data: new TextEncoder().encode("{bad"), seq: 7 }, "MalformedJson", "no", MAX);
    expect(decoded(text.bytes)).toMatchObject({ payload: "{bad", payloadEncoding: "utf8", streamSequence: 7, reason: "MalformedJson" });
    expect(text.event.id).toBe(`deadletter:allocator:${SUBJECT}:7`);
    const binary = deadLetterEvent("allocator", "r1", { subject: SUBJECT, data: new Uint8Array([0xff, 0xfe]) }, "MalformedJson", "no", MAX);
    expect(decoded(binary.bytes)).toMatchObject({ payload: "//4=", payloadEncoding: "base64" });
    expect(decoded(binary.bytes).payloadTruncated).toBeUndefined();
  });

  it.each([
    ["1.4 MB of control bytes (JSON escapes each to six)", new Uint8Array(1_400_000).fill(0x01)],
    ["6.5 MB that is not UTF-8 (base64 grows it by a third)", new Uint8Array(6_500_000).fill(0xc3)],
  ])("always fits max_payload: %s is summarised by size and sha256", (_what, data) => {
    const { bytes } = deadLetterEvent("allocator", "r1", { subject: SUBJECT, data, seq: 9 }, "MalformedJson", "payload is not UTF-8 JSON", MAX);
    expect(bytes.length).toBeLessThan(MAX - 4096);
    const dl = decoded(bytes);
    expect(dl).toMatchObject({
      payloadTruncated: true,
      payloadBytes: data.length,
      payloadSha256: createHash("sha256").update(data).digest("hex"),
      payloadEncoding: "base64",
      streamSequence: 9,
    });
    expect(Buffer.from(dl.payload, "base64")).toEqual(Buffer.from(data.subarray(0, 16 * 1024)));
  });
});
