import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { createRootLogger } from "@sharedlb/runtime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SupervisedInformer } from "./informer.js";

// A fake API server is enough here: what is under test is how the informer reacts to a
// failing list and a watch that breaks, not Kubernetes itself (the integration tests run
// the real thing).

type Obj = KubernetesObject & { metadata: { name: string; resourceVersion: string } };

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

async function fakeApi(onWatch: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<KubeConfig> {
  let watches = 0;
  server = createServer((req, res) => {
    if ((req.url ?? "").includes("watch=true")) onWatch(req, res, ++watches);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  return kc;
}

const obj = (name: string, rv: string): Obj => ({ apiVersion: "v1", kind: "Thing", metadata: { name, resourceVersion: rv } });
const event = (type: string, o: Obj) => `${JSON.stringify({ type, object: o })}\n`;

describe("SupervisedInformer", () => {
  it("restarts after a failed list and a broken watch, resumes from the last version, and survives a throwing handler", async () => {
    const watchVersions: string[] = [];
    const kc = await fakeApi((req, res, n) => {
      watchVersions.push(new URL(req.url ?? "", "http://x").searchParams.get("resourceVersion") ?? "");
      res.writeHead(200, { "content-type": "application/json" });
      if (n === 1) {
        res.write(event("ADDED", obj("b", "6")));
        // The connection breaks mid-watch.
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        res.write(event("ADDED", obj("c", "7")));
      }
    });
    let lists = 0;
    const seen: string[] = [];
    const restarts: unknown[] = [];
    const informer = new SupervisedInformer<Obj>({
      name: "things",
      kubeConfig: kc,
      path: "/api/v1/things",
      list: async (): Promise<KubernetesListObject<Obj>> => {
        lists++;
        if (lists === 1) throw Object.assign(new Error("Internal Server Error"), { statusCode: 500 });
        return { metadata: { resourceVersion: "5" }, items: [obj("a", "5")] };
      },
      onChange: (o, verb) => {
        seen.push(`${verb}:${o.metadata?.name}`);
        if (o.metadata?.name === "b") throw new Error("handler bug");
      },
      log: createRootLogger("test", "silent"),
      onRestart: (err) => restarts.push(err),
      restartBaseMs: 10,
      restartCapMs: 50,
    });
    informer.start();
    await informer.waitForSync();
    await vi.waitFor(() => expect(seen).toContain("add:c"), { timeout: 5000 });
    expect(seen).toEqual(["add:a", "add:b", "add:c"]);
    expect(lists).toBe(2);
    expect(restarts.length).toBeGreaterThanOrEqual(2);
    // The restarted watch resumes where the broken one stopped: no relist, nothing missed.
    expect(watchVersions).toEqual(["5", "6"]);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["a", "b", "c"]);

    const before = restarts.length;
    await informer.stop();
    await new Promise((r) => setTimeout(r, 100));
    // stop() makes client-node report an error; it must not schedule a restart.
    expect(restarts.length).toBe(before);
  });
});
