import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { makeEvent, STREAM_CHECK_CONSUMER, STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { connectNats, createRootLogger, ensureDurableConsumer, ensureStreams, type NatsHandle, publishEvent } from "@sharedlb/runtime";
import { serviceResource, startNats, startProcess, waitFor } from "@sharedlb/testing";
import { ALLOCATOR_MAIN, writePoolFile } from "../../../../services/allocator/src/test-support/allocator-process.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestIdentities, type TestIdentities } from "../../../../cli/src/test-support/nats-identities.js";
import { natsTlsDir } from "./nats-tls.js";
import { shippedNatsConfig } from "./shipped-nats.js";
import { condition, createLoadBalancer, createNamespace, startTenantEnv, type TenantEnv, WATCHER_MAIN, waitForService } from "../tenant/harness.js";

// Tenant A attacks tenant B with A's own credentials, against a nats-server configured as
// deploy/k8s/lb configures it (authorization rendered by `sharedlb tenant add`), while A's
// own watcher → allocator → status-reporter flow runs with exactly those credentials.

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.12"]
defaultPool: public
releaseDelaySeconds: 1
`;

const { resources: RES, allocations: ALLOC, events: EV } = STREAM_NAMES;
const dir = mkdtempSync(join(tmpdir(), "sharedlb-isolation-"));
let ids: TestIdentities;
let caFile: string;
let tlsDir: string;
let env: TenantEnv;
let attacker: NatsHandle;
const silent = createRootLogger("attacker", "silent");

const tenantArgs = (cluster: string) => [
  "--nats-nkey",
  ids.seedFile(cluster),
  "--nats-inbox-prefix",
  `_INBOX_${cluster}`,
  "--stream-mode",
  "verify",
  "--nats-ca",
  caFile,
];

beforeAll(async () => {
  ids = makeTestIdentities(dir, ["a", "b"]);
  const tls = natsTlsDir(join(dir, "tls"));
  caFile = tls.pki.caFile;
  tlsDir = tls.dir;
  env = await startTenantEnv({
    nats: { config: shippedNatsConfig(tls.dir), files: { "nats-auth.conf": ids.authorization() } },
    lbSecurity: {
      fixture: { nkeyFile: ids.seedFile("allocator"), caFile },
      allocatorArgs: ["--nats-nkey", ids.seedFile("allocator"), "--nats-ca", caFile],
    },
  });
  await env.startAllocator(POOLS);
  // Tenant b's state, for a to go after: a Service and its allocation.
  await env.fx.publishService(serviceResource("b", "bank", "vault"));
  await waitFor("b's allocation", async () => (await env.fx.allocations()).get("b/bank/vault"));
  // b's durable, as b's status-reporter makes it: a must be refused because of its permissions, not because it is absent.
  await ensureDurableConsumer(env.fx.jsm, ALLOC, "status-b", "lb.allocation.b.>", 30_000);
  // And the fleet's report on b's Gateway (LB_EVENTS), which a's status-reporter may not read.
  const report = { cluster: "b", namespace: "bank", name: "front", kind: "gateway" as const, allocationVersion: 1, fleet: "edge", acked: 1, nacked: 0 };
  await publishEvent(
    env.fx.js,
    subjects.programmed("b", "bank", "front", "gateway"),
    makeEvent({ type: "io.sharedlb.programmed.v1", source: "sharedlb/xds-gateway/test", subject: "b/bank/front", data: report }),
  );
  attacker = await connectNats(env.nats.url, "tenant-a-attacker", silent, { nkeyFile: ids.seedFile("a"), inboxPrefix: "_INBOX_a", caFile });
});

afterAll(async () => {
  await attacker?.nc.close();
  await env?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A refused operation: rejected (permission violation, or no reply on a denied API subject). */
async function refused(what: string, op: () => Promise<unknown>): Promise<void> {
  await expect(op(), what).rejects.toThrow();
}

describe("tenant a, with its own credentials, cannot touch tenant b", () => {
  it("cannot publish b's Services or statuses, nor forge allocations", async () => {
    const svc = serviceResource("b", "bank", "forged");
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/a", subject: "b/bank/forged", data: svc });
    await refused("publish lb.resource.b", () => publishEvent(attacker.js, subjects.service("b", "bank", "forged"), ev));
    await refused("publish lb.status.b", () => attacker.js.publish(subjects.status("b", "bank", "vault"), "{}"));
    await refused("publish lb.allocation.b", () => attacker.js.publish(subjects.allocation("b", "bank", "vault"), "{}"));
    await refused("publish lb.allocation.a", () => attacker.js.publish(subjects.allocation("a", "shop", "web"), "{}"));
    const stored = await env.fx.jsm.streams.getMessage(RES, { last_by_subj: subjects.service("b", "bank", "forged") }).catch(() => null);
    expect(stored).toBeNull();
  });

  it("cannot subscribe to b's allocations, everything, or other processes' replies", async () => {
    for (const subject of [subjects.allocation("b", "bank", "vault"), "lb.allocation.b.>", "lb.>", "_INBOX.>", "_INBOX_b.>", ">"]) {
      const sub = attacker.nc.subscribe(subject);
      // A deadline, not a delay: an allowed subscription never closes, and fails the expectation.
      const closed = await Promise.race([sub.closed, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
      expect(closed, subject).toBeInstanceOf(Error);
      expect(String(closed)).toMatch(/permission/i);
    }
  });

  it("cannot create any consumer that sees b's subjects, on either stream", async () => {
    const attempts: [string, string, string | undefined][] = [
      [ALLOC, "steal1", "lb.allocation.b.>"],
      [ALLOC, "steal2", "lb.allocation.>"],
      [ALLOC, "steal3", ">"],
      [ALLOC, "steal4", undefined],
      [RES, "steal5", "lb.resource.b.>"],
      [RES, "steal6", "lb.resource.*.service.>"],
      [RES, "steal7", undefined],
      [EV, "steal8", "lb.programmed.b.>"],
      [EV, "steal9", "lb.programmed.>"],
      [EV, "steal10", "lb.status.b.>"],
      [EV, "steal11", undefined],
    ];
    for (const [stream, name, filter] of attempts) {
      await refused(`consumer ${name} on ${stream} filter ${filter}`, () =>
        attacker.jsm.consumers.add(stream, {
          name,
          ack_policy: AckPolicy.None,
          deliver_policy: DeliverPolicy.All,
          ...(filter ? { filter_subject: filter } : {}),
        }),
      );
      await refused(`durable ${name} on ${stream}`, () =>
        attacker.jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ...(filter ? { filter_subject: filter } : {}) }),
      );
      await refused(`ordered consumer on ${stream} filter ${filter}`, async () => {
        const c = await attacker.js.consumers.get(stream, filter ? { filter_subjects: filter } : {});
        await c.next({ expires: 1000 });
      });
    }
    // The filter in the create subject must be the consumer's filter: a mismatch is refused by the server.
    await refused("create subject naming a's filter with b's filter in the body", () =>
      attacker.nc.request(
        `$JS.API.CONSUMER.CREATE.${ALLOC}.sneak.lb.allocation.a.>`,
        JSON.stringify({ stream_name: ALLOC, config: { name: "sneak", filter_subject: "lb.allocation.b.>", ack_policy: "none" } }),
      ).then((m) => {
        const reply = m.json<{ error?: unknown }>();
        if (reply.error) throw new Error(JSON.stringify(reply.error));
      }),
    );
    const names: string[] = [];
    for (const stream of [ALLOC, RES, EV]) for await (const n of env.fx.jsm.consumers.list(stream)) names.push(n.name);
    expect(names.filter((n) => n.startsWith("steal") || n === "sneak")).toEqual([]);
  });

  it("cannot read b's messages by direct get or message get", async () => {
    const bSubject = subjects.allocation("b", "bank", "vault");
    await refused("direct get of b's programmed report", () =>
      attacker.jsm.direct.getMessage(EV, { last_by_subj: subjects.programmed("b", "bank", "front", "gateway") }),
    );
    await refused("STREAM.MSG.GET on events", () => attacker.jsm.streams.getMessage(EV, { seq: 1 }));
    await refused("direct get by subject", () => attacker.jsm.direct.getMessage(ALLOC, { last_by_subj: bSubject }));
    await refused("direct get by sequence", () => attacker.jsm.direct.getMessage(ALLOC, { seq: 1 }));
    await refused("STREAM.MSG.GET", () => attacker.jsm.streams.getMessage(ALLOC, { last_by_subj: bSubject }));
    await refused("STREAM.MSG.GET on resources", () => attacker.jsm.streams.getMessage(RES, { seq: 1 }));
  });

  it("cannot list b's subject names: stream info (with subjects_filter \">\" or without), stream names and list are refused", async () => {
    for (const stream of Object.values(STREAM_NAMES)) {
      await refused(`STREAM.INFO ${stream} with subjects_filter >`, () => attacker.jsm.streams.info(stream, { subjects_filter: ">" }));
      await refused(`STREAM.INFO ${stream} with b's subjects`, () => attacker.jsm.streams.info(stream, { subjects_filter: "lb.*.b.>" }));
      await refused(`STREAM.INFO ${stream}`, () => attacker.jsm.streams.info(stream));
      // The raw request too: nothing the client library adds or leaves out makes it pass.
      await refused(`raw STREAM.INFO ${stream}`, () =>
        attacker.nc.request(`$JS.API.STREAM.INFO.${stream}`, JSON.stringify({ subjects_filter: ">" }), { timeout: 5_000 }),
      );
    }
    await refused("STREAM.NAMES", async () => {
      for await (const _ of attacker.jsm.streams.names()) void _;
    });
    await refused("STREAM.LIST", async () => {
      for await (const _ of attacker.jsm.streams.list()) void _;
    });
    await refused("STREAM.NAMES by subject", async () => {
      for await (const _ of attacker.jsm.streams.names("lb.resource.b.>")) void _;
    });
    // The consumer the stream check asks about must stay absent: made by a, its config would show to b.
    await refused("create the stream check's consumer", () =>
      attacker.jsm.consumers.add(RES, { name: STREAM_CHECK_CONSUMER, filter_subject: "lb.resource.a.>", ack_policy: AckPolicy.None }),
    );
  });

  it("cannot touch b's durable consumer or the allocator's", async () => {
    await refused("pull from b's durable", () =>
      attacker.nc.request(`$JS.API.CONSUMER.MSG.NEXT.${ALLOC}.status-b`, JSON.stringify({ batch: 1, no_wait: true })),
    );
    await refused("delete b's durable", () => attacker.jsm.consumers.delete(ALLOC, "status-b"));
    await refused("info on b's durable", () => attacker.jsm.consumers.info(ALLOC, "status-b"));
    await refused("repoint the allocator's durable", () =>
      attacker.jsm.consumers.add(RES, { durable_name: "allocator", name: "allocator", filter_subject: "lb.resource.a.>", ack_policy: AckPolicy.Explicit }),
    );
    await refused("delete the allocator's durable", () => attacker.jsm.consumers.delete(RES, "allocator"));
    // The allocator's second durable (Gateways and Ingresses of every tenant) is just as closed.
    await refused("pull from the allocator's L7 durable", () =>
      attacker.nc.request(`$JS.API.CONSUMER.MSG.NEXT.${RES}.allocator-l7`, JSON.stringify({ batch: 1, no_wait: true })),
    );
    await refused("delete the allocator's L7 durable", () => attacker.jsm.consumers.delete(RES, "allocator-l7"));
    await refused("info on the allocator's L7 durable", () => attacker.jsm.consumers.info(RES, "allocator-l7"));
    expect((await env.fx.jsm.consumers.info(ALLOC, "status-b")).num_ack_pending).toBe(0);
    expect((await env.fx.jsm.consumers.info(ALLOC, "status-b")).delivered.consumer_seq).toBe(0);
    const info = await env.fx.jsm.consumers.info(RES, "allocator");
    expect(info.config.filter_subject).toBe("lb.resource.*.service.>");
  });

  it("cannot create, purge, update or delete any stream", async () => {
    for (const stream of Object.values(STREAM_NAMES)) {
      await refused(`purge ${stream}`, () => attacker.jsm.streams.purge(stream));
      await refused(`purge ${stream} of b`, () => attacker.jsm.streams.purge(stream, { filter: "lb.allocation.b.>" }));
      await refused(`delete ${stream}`, () => attacker.jsm.streams.delete(stream));
      await refused(`update ${stream}`, () => attacker.jsm.streams.update(stream, { max_age: 1 }));
    }
    await refused("create a stream", () => attacker.jsm.streams.add({ name: "MINE", subjects: ["lb.resource.a.mine"] }));
    expect(await env.fx.allocations()).toHaveProperty("size");
    expect((await env.fx.allocations()).get("b/bank/vault")).toBeDefined();
  });
});

describe("tenant a's own flow, with the same credentials", () => {
  it("gets an address for its Service (watcher and status-reporter verify the streams, create none)", async () => {
    const watcher = await env.startWatcher({ cluster: "a", replica: "wa", extra: tenantArgs("a") });
    const reporter = await env.startReporter({ cluster: "a", replica: "ra", extra: tenantArgs("a") });
    await createNamespace(env.core, "shop");
    await createLoadBalancer(env.core, "shop", "web");
    const svc = await waitForService(env.core, "shop", "web", (s) => condition(s)?.status === "True", "Allocated condition");
    // Its L7 side follows a's own L7 allocations, resources and programmed reports with the same credentials.
    await reporter.waitForOutput(/L7 state replayed/, 30_000);
    expect(svc.status?.loadBalancer?.ingress?.[0]?.ip).toMatch(/^203\.0\.113\.1[0-2]$/);
    for (const p of [watcher, reporter]) {
      expect(p.output()).toMatch(/streams verified/);
      expect(p.output()).not.toMatch(/permission/i);
    }
  });
});

describe("verify-only streams without stream info", () => {
  it("a tenant process names the stream that is missing and exits", async () => {
    // A second server configured as shipped, whose LB side made every stream but LB_EVENTS.
    const bare = await startNats({ config: shippedNatsConfig(tlsDir), files: { "nats-auth.conf": ids.authorization() }, scheme: "tls" });
    try {
      const lb = await connectNats(bare.url, "lb", silent, { nkeyFile: ids.seedFile("allocator"), caFile });
      await ensureStreams(lb.jsm, { replicas: 1, storage: "file" }, silent);
      await lb.jsm.streams.delete(EV);
      await lb.nc.close();
      const p = startProcess(process.execPath, [
        WATCHER_MAIN,
        "--cluster",
        "a",
        "--kubeconfig",
        env.watcherKubeconfig,
        "--nats-url",
        bare.url,
        "--http-addr",
        "127.0.0.1:0",
        ...tenantArgs("a"),
      ]);
      expect(await p.exited).toBe(1);
      const said = p.output().split("\n").filter((l) => l.includes("missing"));
      expect(said.join("\n")).toMatch(/stream LB_EVENTS missing: the LB side/);
      expect(said.join("\n")).not.toMatch(/LB_RESOURCES|LB_ALLOCATIONS|LB_HISTORY/);
      expect(p.output()).not.toMatch(/permission/i);
    } finally {
      await bare.dispose();
    }
  });
});

describe("connections without valid credentials", () => {
  it("are refused, and the process exits with an error naming the server and the identity", async () => {
    const stranger = makeTestIdentities(mkdtempSync(join(dir, "stranger-")), []);
    const p = startProcess(process.execPath, [ALLOCATOR_MAIN, "--config", writePoolFile(POOLS), "--redis-url", env.redis.url, "--nats-url", env.nats.url, "--nats-ca", caFile, "--nats-nkey", stranger.seedFile("allocator")]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(new RegExp(`refused nkey ${stranger.seedFile("allocator")}.*[Aa]uthorization`));
  });

  it("are refused when anonymous, and nats.js's ignored URL credentials are honoured", async () => {
    await expect(connectNats(env.nats.url, "anonymous", silent, { caFile })).rejects.toThrow(/refused anonymous/);
    const url = env.nats.url.replace("nats://", "nats://nobody:wrong@");
    await expect(connectNats(url, "url-creds", silent, { caFile })).rejects.toThrow(/refused user nobody/);
  });
});
