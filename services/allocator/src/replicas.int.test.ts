import { expect, it } from "vitest";
import { type Allocation, objectKey, type ServiceResource, STREAM_NAMES } from "@sharedlb/contracts";
import { type ManagedProcess, rng, serviceResource, waitFor } from "@sharedlb/testing";
import { SlotStore } from "./adapters/slot-store.js";
import { CONSUMER_NAME } from "./adapters/resource-consumer.js";
import { startAllocator } from "./test-support/allocator-process.js";
import { useReplicasEnv } from "./test-support/allocator-env.js";
import { shuffle } from "./test-support/shuffle.js";
import { outboxSize, poolKey, sendingSize } from "./test-support/table-keys.js";

// Three allocator processes, 2,000 Services from 20 clusters, every event published twice
// and in shuffled order, deletes and re-creates, one replica killed with SIGKILL mid-run.

const IPS = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5", "203.0.113.6"];
const POOLS = `
pools:
  - name: public
    addresses: ["${IPS[0]}-${IPS[IPS.length - 1]}"]
    ports: "1-20000"
defaultPool: public
releaseDelaySeconds: 1
`;

const env = useReplicasEnv(POOLS, ["r1", "r2", "r3"]);

type Ev = { kind: "svc"; svc: ServiceResource } | { kind: "del"; cluster: string; namespace: string; name: string; uid: string };
const keyOf = (e: Ev) => (e.kind === "svc" ? objectKey(e.svc.cluster, e.svc.namespace, e.svc.name) : objectKey(e.cluster, e.namespace, e.name));

async function publishAll(events: Ev[], last: Map<string, Ev>): Promise<void> {
  // Many in flight, like a busy fleet of watchers; the stream order is the publish-ack order.
  const inflight = new Set<Promise<void>>();
  for (const e of events) {
    const p = (e.kind === "svc" ? env.fx.publishService(e.svc) : env.fx.publishTombstone(e.cluster, e.namespace, e.name, e.uid)).then(() => undefined);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  // The truth is the stream's last value per subject: read it back rather than guess the order.
  for (const e of events) last.set(keyOf(e), e);
}

async function quiescent(): Promise<void> {
  await waitFor("allocators to drain the stream", async () => {
    const c = await env.fx.jsm.consumers.info(STREAM_NAMES.resources, CONSUMER_NAME);
    const outbox = await outboxSize(env.client);
    // A killed replica's unfinished sends are finished by the janitor (an older message may have landed last).
    const sending = await sendingSize(env.client);
    return c.num_pending === 0 && c.num_ack_pending === 0 && outbox === 0 && sending === 0;
  }, 120_000, 100);
}

it("never gives a slot two owners, loses nothing and moves nothing, across replicas, duplicates, reordering and a SIGKILL", async () => {
  const rand = rng(20261122);
  const clusters = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const portChoices = [53, 80, 443, 8080, 8443, 5353, 9000, 9001, 9002, 9003];
  const services: ServiceResource[] = [];
  for (let i = 0; i < 2000; i++) {
    const cluster = clusters[i % clusters.length] as string;
    const n = 1 + Math.floor(rand() * 3);
    const ports: ServiceResource["ports"] = [];
    const used = new Set<string>();
    while (ports.length < n) {
      const port = portChoices[Math.floor(rand() * portChoices.length)] as number;
      const protocol = rand() < 0.3 ? "UDP" : "TCP";
      if (used.has(`${protocol}/${port}`)) continue;
      used.add(`${protocol}/${port}`);
      ports.push({ name: `p${ports.length}`, protocol, port, nodePort: 30000 + ports.length });
    }
    // Same number on TCP and UDP in one Service, now and then.
    if (rand() < 0.1 && !used.has("UDP/53") && !used.has("TCP/53")) {
      ports.push({ name: "dns-t", protocol: "TCP", port: 53, nodePort: 30053 }, { name: "dns-u", protocol: "UDP", port: 53, nodePort: 30054 });
    }
    const annotations: Record<string, string> = rand() < 0.6 ? { "sharedlb.io/port-policy": "any" } : {};
    services.push(serviceResource(cluster, `ns${i % 7}`, `svc-${i}`, { uid: `uid-${i}`, ports, annotations }));
  }

  // Phase 1: everything created, each event twice, shuffled.
  const last = new Map<string, Ev>();
  const phase1: Ev[] = shuffle(services.flatMap((svc) => [{ kind: "svc", svc } as Ev, { kind: "svc", svc } as Ev]), rand);
  await publishAll(phase1, last);
  await quiescent();
  const before = await env.fx.allocations();
  expect(before.size).toBe(2000);

  // Phase 2: deletes, re-creates with new uids, and duplicates of unchanged Services, with
  // one replica killed mid-flight and a replacement started.
  const phase2: Ev[] = [];
  const touched = new Set<string>();
  for (const svc of services) {
    const key = objectKey(svc.cluster, svc.namespace, svc.name);
    const r = rand();
    if (r < 0.15) {
      phase2.push({ kind: "del", cluster: svc.cluster, namespace: svc.namespace, name: svc.name, uid: svc.uid });
      touched.add(key);
    } else if (r < 0.25) {
      phase2.push({ kind: "del", cluster: svc.cluster, namespace: svc.namespace, name: svc.name, uid: svc.uid });
      phase2.push({ kind: "svc", svc: { ...svc, uid: `${svc.uid}-again` } });
      touched.add(key);
    } else if (r < 0.5) {
      phase2.push({ kind: "svc", svc }, { kind: "svc", svc });
    }
  }
  const ordered = phase2; // per-Service order kept (delete before re-create) but interleaved with others below
  // Shuffle the positions, then give each Service's positions to its events in their own
  // order. (A sort whose comparator answers 0 across Services does not keep that order.)
  const slots = shuffle([...ordered.keys()], rand);
  const byKey = new Map<string, Ev[]>();
  for (const e of ordered) byKey.set(keyOf(e), [...(byKey.get(keyOf(e)) ?? []), e]);
  const interleaved = slots.map((i) => (byKey.get(keyOf(ordered[i] as Ev)) as Ev[]).shift() as Ev);
  const half = Math.floor(interleaved.length / 2);
  await publishAll(interleaved.slice(0, half), last);
  const victim = env.replicas.splice(1, 1)[0] as ManagedProcess;
  await victim.kill();
  await publishAll(interleaved.slice(half), last);
  env.replicas.push(await startAllocator({ config: env.config, natsUrl: env.nats.url, redisUrl: env.redis.url, replica: "r2-restarted" }));
  await quiescent();

  // Let quarantine pass and the janitor retry waiting Services.
  const store = new SlotStore(env.client);
  await waitFor("quarantine to empty", async () => (await env.client.zcard(poolKey("public", "q:public"))) === 0, 30_000, 100);
  await quiescent();

  // Waiting Services are retried once capacity frees: wait (with a deadline) until none
  // that would fit is left waiting, then check everything against that state.
  const fitsSomewhere = (e: Ev | undefined, taken: Set<string>) =>
    e?.kind === "svc" && !e.svc.annotations["sharedlb.io/port-policy"] && IPS.some((ip) => e.svc.ports.every((p) => !taken.has(`${ip}|${p.protocol}|${p.port}`)));
  // The janitor may still be claiming for a waiting Service between a read of the published
  // allocations and a read of Redis: take the two together, and wait (with a deadline) for a
  // state where they agree. A slot Redis keeps without a published owner never converges.
  const publishedSlots = (allocations: Map<string, Allocation>) => {
    const taken = new Set<string>();
    for (const a of allocations.values()) if (a.state === "Allocated") for (const p of a.ports) taken.add(`${a.ip}|${p.protocol}|${p.externalPort}`);
    return taken;
  };
  const { after, owners } = await waitFor("published allocations and Redis to agree, with no waiting Service that would fit", async () => {
    const now = await env.fx.allocations();
    const taken = publishedSlots(now);
    const stuck = [...now].filter(([key, a]) => a.state === "Pending" && fitsSomewhere(last.get(key), taken));
    if (stuck.length > 0) return undefined;
    const held = await store.owners("public");
    const again = publishedSlots(await env.fx.allocations());
    const same = (x: ReadonlySet<string>, y: Iterable<string>) => [...y].length === x.size && [...y].every((slot) => x.has(slot));
    return same(taken, again) && same(taken, held.keys()) ? { after: now, owners: held } : undefined;
  }, 60_000, 250);

  // 1. No slot has two owners in the replayed allocations, and Redis agrees exactly.
  const slotOwner = new Map<string, string>();
  for (const [key, a] of after) {
    if (a.state !== "Allocated") continue;
    for (const p of a.ports) {
      const slot = `${a.ip}|${p.protocol}|${p.externalPort}`;
      expect(slotOwner.get(slot), `slot ${slot} owned by ${slotOwner.get(slot)} and ${key}`).toBeUndefined();
      slotOwner.set(slot, key);
      expect(owners.get(slot), `Redis owner of ${slot}`).toBe(key);
    }
  }
  const orphans = [...owners].filter(([slot]) => !slotOwner.has(slot));
  expect(orphans, "slots Redis holds that no published allocation names").toEqual([]);

  // 2. Every live Service is Allocated with all its ports on one IP, or waits with a reason.
  const waitingFor = new Map<string, Allocation>();
  for (const [key, e] of last) {
    const a = after.get(key);
    expect(a, key).toBeDefined();
    if (!a) continue;
    if (e.kind === "del") {
      // 3. Deleted Services are Released and hold nothing.
      expect(a.state, key).toBe("Released");
      continue;
    }
    expect(a.uid, key).toBe(e.svc.uid);
    if (a.state === "Allocated") {
      expect(IPS).toContain(a.ip);
      expect(a.ports.map((p) => `${p.protocol}/${p.port}`).sort()).toEqual(e.svc.ports.map((p) => `${p.protocol}/${p.port}`).sort());
      if (!e.svc.annotations["sharedlb.io/port-policy"]) for (const p of a.ports) expect(p.externalPort).toBe(p.port);
    } else {
      expect(a.state, key).toBe("Pending");
      expect(["PortUnavailable", "PoolExhausted"]).toContain(a.reason);
      waitingFor.set(key, a);
    }
  }

  // 4. A waiting Service really does not fit: on every IP one of its wanted ports is taken.
  for (const [key] of waitingFor) {
    const e = last.get(key);
    if (e?.kind !== "svc" || e.svc.annotations["sharedlb.io/port-policy"]) continue;
    for (const ip of IPS) {
      const blocked = e.svc.ports.some((p) => slotOwner.has(`${ip}|${p.protocol}|${p.port}`));
      expect(blocked, `${key} would fit on ${ip}`).toBe(true);
    }
  }

  // 5. No live allocation moved: Services not touched in phase 2 keep IP and ports.
  let unchanged = 0;
  for (const [key, a] of before) {
    if (touched.has(key) || a.state !== "Allocated") continue;
    const now = after.get(key);
    expect({ ip: now?.ip, ports: now?.ports }, key).toEqual({ ip: a.ip, ports: a.ports });
    unchanged++;
  }
  expect(unchanged, "enough untouched allocations to check stability").toBeGreaterThan(500);
  expect(waitingFor.size).toBeGreaterThan(0);
}, 600_000);
