import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import { DeltaSession } from "../domain/delta-session.js";
import type { DeltaWireRequest } from "../domain/delta-wire.js";
import type { FleetChange, FleetSnapshot } from "../domain/fleet-snapshot.js";
import { parseDeltaRequest } from "../domain/request.js";
import type { MalformedMessage } from "../domain/sotw-wire.js";
import { AdsStream, type DuplexCall, type ManagedStream, type Outgoing, type StreamDeps } from "./ads-stream.js";

type DeltaIn = DeltaWireRequest | MalformedMessage;
export type DeltaCall = DuplexCall<DeltaIn>;

/** DeltaAggregatedResources: incremental. */
export class DeltaStream extends AdsStream<DeltaIn, ReturnType<typeof parseDeltaRequest>> {
  // Subscriptions are shared where streams agree (with SotW streams too), and the
  // strings kept are the fleet table's own.
  private readonly session = new DeltaSession(
    undefined,
    (typeUrl, name) => this.fleet?.table(typeUrl).get(name)?.name ?? name,
    this.deps.fleets.subscriptions,
    this.held,
  );

  constructor(call: DeltaCall, deps: StreamDeps, onClosed: (s: ManagedStream) => void) {
    super(call, deps, "delta", onClosed);
  }

  protected parse(raw: DeltaIn, first: boolean) {
    return parseDeltaRequest(raw, first);
  }

  protected apply(req: ReturnType<typeof parseDeltaRequest>) {
    return this.session.onRequest(req);
  }

  protected changed(change: FleetChange): boolean {
    let any = false;
    for (const [typeUrl, changes] of change) any = this.session.markChanged(typeUrl, changes) || any;
    return any;
  }

  protected next(fleet: FleetSnapshot): Outgoing | undefined {
    const response = this.session.next((typeUrl) => fleet.table(typeUrl));
    if (!response) return undefined;
    return this.outgoing(fleet, response.typeUrl, response.bytes(), response.resources, response.nonce);
  }

  protected subscription(typeUrl: ResourceTypeUrl) {
    return this.session.subscription(typeUrl);
  }

  protected dispose(): void {
    this.session.close();
  }
}
