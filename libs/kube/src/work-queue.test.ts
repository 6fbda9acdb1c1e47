import { describe, expect, it, vi } from "vitest";
import { WorkQueue, WorkQueueStopped } from "./work-queue.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("WorkQueue", () => {
  it("holds a waiting key once however often it is added", async () => {
    const seen: string[] = [];
    const gate = deferred();
    const q = new WorkQueue(
      async (key) => {
        await gate.promise;
        seen.push(key);
      },
      { concurrency: 1 },
    );
    const first = q.add("a");
    const rest = [q.add("b"), q.add("b"), q.add("b")];
    gate.resolve();
    await Promise.all([first, ...rest]);
    expect(seen).toEqual(["a", "b"]);
  });

  it("never runs one key twice at once, and runs it again when it was added meanwhile", async () => {
    let running = 0;
    let maxRunning = 0;
    let passes = 0;
    const gate = deferred();
    const q = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        passes++;
        if (passes === 1) await gate.promise;
        running--;
      },
      { concurrency: 4 },
    );
    const first = q.add("k");
    await vi.waitFor(() => expect(running).toBe(1));
    const second = q.add("k");
    gate.resolve();
    await Promise.all([first, second]);
    expect(passes).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it("runs different keys concurrently up to the bound", async () => {
    let running = 0;
    let maxRunning = 0;
    // The first passes hold until the bound is reached, so a fourth would be seen running.
    const full = deferred();
    const q = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        if (running === 3) full.resolve();
        await full.promise;
        running--;
      },
      { concurrency: 3 },
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => q.add(`k${i}`)));
    expect(maxRunning).toBe(3);
  });

  it("hands each caller the result of a pass that started after its add, and merges marks", async () => {
    const marks: boolean[] = [];
    const gate = deferred();
    const q = new WorkQueue(
      async (key, marked) => {
        if (key === "busy") await gate.promise;
        else marks.push(marked);
        return `${key}:${marks.length}`;
      },
      { concurrency: 1 },
    );
    const busy = q.add("busy");
    const both = Promise.all([q.add("x"), q.add("x", true)]);
    gate.resolve();
    await busy;
    const [a, b] = await both;
    expect(a).toBe("x:1");
    expect(b).toBe("x:1");
    expect(marks).toEqual([true]);
  });

  it("propagates a pass's error to its callers and keeps working", async () => {
    const q = new WorkQueue(
      async (key) => {
        if (key === "bad") throw new Error("boom");
        return key;
      },
      { concurrency: 2 },
    );
    await expect(q.add("bad")).rejects.toThrow("boom");
    await expect(q.add("good")).resolves.toBe("good");
  });

  it("retries later with backoff and stops cleanly", async () => {
    let passes = 0;
    const q = new WorkQueue(
      async (key) => {
        passes++;
        if (passes < 3) q.retryLater(key);
        else q.forget(key);
      },
      { concurrency: 1, retryBaseMs: 1, retryCapMs: 5 },
    );
    q.enqueue("r");
    await vi.waitFor(() => expect(passes).toBe(3), { timeout: 5000 });
    await q.stop();
    await expect(q.add("late")).rejects.toBeInstanceOf(WorkQueueStopped);
  });
});
