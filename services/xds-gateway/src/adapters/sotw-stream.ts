import type { ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { FleetChange, FleetSnapshot } from "../domain/fleet-snapshot.js";
import { parseSotwRequest } from "../domain/request.js";
import { SotwSession } from "../domain/sotw-session.js";
import type { MalformedMessage, SotwWireRequest } from "../domain/sotw-wire.js";
import { AdsStream, type DuplexCall, type ManagedStream, type Outgoing, type StreamDeps } from "./ads-stream.js";

type SotwIn = SotwWireRequest | MalformedMessage;
export type SotwCall = DuplexCall<SotwIn>;

/** StreamAggregatedResources: state of the world. */
export class SotwStream extends AdsStream<SotwIn, ReturnType<typeof parseSotwRequest>> {
  private readonly session: SotwSession;

  constructor(call: SotwCall, deps: StreamDeps, onClosed: (s: ManagedStream) => void) {
    super(call, deps, "sotw", onClosed);
    this.session = new SotwSession(deps.fleets.subscriptions, this.held);
  }

  protected parse(raw: SotwIn, first: boolean) {
    return parseSotwRequest(raw, first);
  }

  protected apply(req: ReturnType<typeof parseSotwRequest>) {
    return this.session.onRequest(req);
  }

  protected changed(change: FleetChange): boolean {
    let any = false;
    for (const typeUrl of change.keys()) any = this.session.markDirty(typeUrl) || any;
    return any;
  }

  protected next(fleet: FleetSnapshot): Outgoing | undefined {
    const resolved = this.session.next((typeUrl) => fleet.table(typeUrl));
    if (!resolved) return undefined;
    return this.outgoing(fleet, resolved.typeUrl, resolved.sotwResponse(), resolved.entries, resolved.nonce);
  }

  protected subscription(typeUrl: ResourceTypeUrl) {
    return this.session.subscription(typeUrl);
  }

  protected dispose(): void {
    this.session.close();
  }
}
