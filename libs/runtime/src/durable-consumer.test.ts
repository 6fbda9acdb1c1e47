import { describe, expect, it } from "vitest";
import { dueForProgress } from "./durable-consumer.js";

describe("dueForProgress", () => {
  it("gives a progress ack to messages held at least half a tick since they came in hand or had one", () => {
    const inHand = new Map([
      ["fresh", 900],
      ["half", 500],
      ["old", 0],
    ]);
    expect(dueForProgress(inHand, 1000, 1000)).toEqual(["half", "old"]);
    expect(dueForProgress(inHand, 1000, 4000)).toEqual([]);
    expect(dueForProgress(new Map(), 1000, 1000)).toEqual([]);
  });
});
