import {
  type ManagedProcess,
  type NatsFixture,
  natsFixture,
  type RedisOptions,
  serviceResource,
  startNats,
  startRedis,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@sharedlb/testing";
import { expect } from "vitest";
import { startAllocator, writePoolFile } from "../../../../services/allocator/src/test-support/allocator-process.js";
import { doubledSlots, type Fleet, movedSince, settled } from "./allocations.js";

// The allocator fault tests' common world: a private nats-server and redis-server, two
// allocators, and one tenant cluster's Services churned while a fault happens.

const IPS = 10;
const POOLS = `
pools:
  - name: public
    addresses: ["198.51.100.1-198.51.100.${IPS}"]
    ports: "1-20000"
defaultPool: public
releaseDelaySeconds: 1
`;

export interface ChurnWorld {
  readonly nats: TestNats;
  readonly redis: TestRedis;
  readonly fx: NatsFixture;
  readonly allocators: readonly ManagedProcess[];
  stop(): Promise<void>;
}

export async function startChurnWorld(redisOptions: RedisOptions = {}): Promise<ChurnWorld> {
  const [nats, redis] = await Promise.all([startNats(), startRedis(redisOptions)]);
  const fx = await natsFixture(nats.url);
  const config = writePoolFile(POOLS);
  const allocators: ManagedProcess[] = [];
  for (const replica of ["a1", "a2"]) allocators.push(await startAllocator({ config, natsUrl: nats.url, redisUrl: redis.url, replica }));
  return {
    nats,
    redis,
    fx,
    allocators,
    async stop() {
      await Promise.all(allocators.map((a) => a.stop()));
      await fx.close();
      await Promise.all([nats.dispose(), redis.dispose()]);
    },
  };
}

/** How the churn publishes: directly, or (across a NATS outage) retried with one event id. */
export type Publish = (send: (id: string | undefined) => Promise<number>) => Promise<void>;
const direct: Publish = async (send) => {
  await send(undefined);
};

/** The Services of one cluster that are live or deleted, as the churn made them. */
export class ChurnLedger {
  private readonly live = new Set<number>();
  private readonly deleted = new Set<number>();

  constructor(
    private readonly world: ChurnWorld,
    readonly cluster: string,
    private readonly publish: Publish = direct,
  ) {}

  // Forty distinct ports over ten IPs: most ports are wanted by several Services, so a slot
  // held twice would show.
  private svc(i: number) {
    return serviceResource(this.cluster, "ns", `svc-${i}`, {
      ports: [{ name: "p", protocol: "TCP", port: 1000 + (i % 40), nodePort: 30080 }],
    });
  }

  async create(i: number): Promise<void> {
    await this.publish((id) => this.world.fx.publishService(this.svc(i), id));
    this.live.add(i);
  }

  async remove(i: number): Promise<void> {
    await this.publish((id) => this.world.fx.publishTombstone(this.cluster, "ns", `svc-${i}`, this.svc(i).uid, id));
    this.live.delete(i);
    this.deleted.add(i);
  }

  get liveCount(): number {
    return this.live.size;
  }

  get deletedCount(): number {
    return this.deleted.size;
  }

  fleet(): Fleet {
    return { cluster: this.cluster, live: [...this.live].map((i) => `ns/svc-${i}`), deleted: [...this.deleted].map((i) => `ns/svc-${i}`) };
  }

  settled(what: string, timeoutMs: number) {
    return waitFor(what, async () => settled(await this.world.fx.allocations(), this.fleet()), timeoutMs, 100);
  }
}

/**
 * After the fault: every live Service allocated and every deleted one released, none moved
 * since `before`, no slot doubled; then 60 more Services wanting the same ports land only on
 * free slots (a claim the slot table forgot would be handed out again here).
 */
export async function expectNothingLostMovedOrDoubled(
  ledger: ChurnLedger,
  before: Awaited<ReturnType<ChurnLedger["settled"]>>,
  after: Awaited<ReturnType<ChurnLedger["settled"]>>,
  fault: string,
): Promise<void> {
  expect(after.size, "every live Service allocated, every deleted one released").toBe(ledger.liveCount + ledger.deletedCount);
  expect(movedSince(before, after, ledger.fleet()), `Services allocated before the ${fault} kept IP and ports`).toEqual([]);
  expect(doubledSlots(after), "no IP:port held by two Services").toEqual([]);

  for (let i = 300; i < 360; i++) await ledger.create(i);
  const filled = await ledger.settled("60 more Services allocated", 60_000);
  expect(doubledSlots(filled)).toEqual([]);
  expect(movedSince(after, filled, ledger.fleet())).toEqual([]);
  expect([...filled.values()].filter((a) => a.state === "Allocated")).toHaveLength(ledger.liveCount);
}
