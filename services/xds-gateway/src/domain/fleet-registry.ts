import type { FleetDefinition } from "@sharedlb/serving";
import { FleetSnapshot } from "./fleet-snapshot.js";
import type { StoreChange } from "./resource-store.js";
import { SubscriptionRegistry } from "./subscription.js";

/**
 * What the ADS server needs: the fleets (each with the resources it serves and its
 * streams), and the interned subscriptions its streams share.
 */
export class FleetRegistry {
  /** Interned subscriptions, shared by all SotW and delta streams. */
  readonly subscriptions = new SubscriptionRegistry();
  private readonly fleets = new Map<string, FleetSnapshot>();

  constructor(definitions: readonly FleetDefinition[]) {
    for (const f of definitions) this.fleets.set(f.name, new FleetSnapshot(f.name, f.pools));
  }

  fleet(name: string): FleetSnapshot | undefined {
    return this.fleets.get(name);
  }

  snapshots(): Iterable<FleetSnapshot> {
    return this.fleets.values();
  }

  fleetNames(): string[] {
    return [...this.fleets.keys()];
  }

  /** Hands resource changes to every fleet (each keeps those of its pools and tells its streams). */
  apply(changes: readonly StoreChange[], now: number): void {
    if (changes.length === 0) return;
    for (const fleet of this.fleets.values()) fleet.apply(changes, now);
  }
}
