import type { DiscoveryRequest } from "@sharedlb/envoy-api";
import type { FleetChange, FleetSnapshot } from "../domain/fleet-snapshot.js";
import { parseSotwRequest } from "../domain/request.js";
import { SotwSession } from "../domain/sotw-session.js";
import { AdsStream, type DuplexCall, type ManagedStream, type Outgoing, type StreamDeps } from "./ads-stream.js";

/** StreamAggregatedResources: state of the world. */
export class SotwStream extends AdsStream<DiscoveryRequest, ReturnType<typeof parseSotwRequest>> {
  private readonly session: SotwSession;

  constructor(call: DuplexCall<DiscoveryRequest>, deps: StreamDeps, onClosed: (s: ManagedStream) => void) {
    super(call, deps, "sotw", onClosed);
    this.session = new SotwSession(deps.gateway.subscriptions);
  }

  protected parse(raw: DiscoveryRequest, first: boolean) {
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
    const resolved = this.session.next((typeUrl, sub, notNonce) => fleet.table(typeUrl).resolve(sub, notNonce));
    if (!resolved) return undefined;
    return {
      bytes: resolved.sotwResponse(),
      typeUrl: resolved.typeUrl,
      changedAt: fleet.table(resolved.typeUrl).changedAt,
    };
  }

  protected dispose(): void {
    this.session.close();
  }
}
