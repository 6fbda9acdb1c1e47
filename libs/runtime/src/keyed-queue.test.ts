import { expect, it } from "vitest";
import { KeyedQueue } from "./keyed-queue.js";

it("runs one key's tasks in order and different keys concurrently, within the bound", async () => {
  const q = new KeyedQueue(4, () => undefined);
  const log: string[] = [];
  let running = 0;
  let peak = 0;
  const gates = new Map<string, () => void>();
  const task = (key: string, i: number) => async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => gates.set(`${key}${i}`, resolve));
    log.push(`${key}${i}`);
    running--;
  };
  for (let i = 0; i < 3; i++) await q.push("a", task("a", i));
  await q.push("b", task("b", 0));
  // b0 can finish while a is still on its first task: keys do not block each other.
  await Promise.resolve();
  gates.get("b0")?.();
  await new Promise((r) => setImmediate(r));
  expect(log).toEqual(["b0"]);
  for (let i = 0; i < 3; i++) {
    gates.get(`a${i}`)?.();
    await new Promise((r) => setImmediate(r));
  }
  await q.idle();
  expect(log).toEqual(["b0", "a0", "a1", "a2"]);
  expect(peak).toBeLessThanOrEqual(4);
});

it("reports a task that fails, and keeps going", async () => {
  const errors: [string, unknown][] = [];
  const q = new KeyedQueue(2, (key, err) => errors.push([key, err]));
  const done: number[] = [];
  await q.push("k", async () => {
    throw new Error("boom");
  });
  await q.push("k", async () => {
    done.push(1);
  });
  await q.idle();
  expect(done).toEqual([1]);
  expect(errors).toEqual([["k", new Error("boom")]]);
});
