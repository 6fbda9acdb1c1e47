import { isL7Owner } from "../domain/l7-owner.js";
import type { L7AllocationPublisher, L7SlotTable } from "./l7-ports.js";
import type { AllocationPublisher, SendLedger, SlotTable } from "./ports.js";

export interface OwnerPublisherOptions {
  slots: Pick<SlotTable, "record">;
  publisher: AllocationPublisher;
  /** Gateways and Ingresses (owners with a kind part). */
  l7: { slots: Pick<L7SlotTable, "record">; publisher: L7AllocationPublisher };
}

/** Publishes the current allocation of any owner the slot table names: a Service, a Gateway or an Ingress. */
export class OwnerPublisher {
  constructor(private readonly opts: OwnerPublisherOptions) {}

  /** What a replica committed but never published (the outbox). */
  publish(owner: string): Promise<void> {
    return this.send(owner, false);
  }

  /**
   * Sends noted before `before` whose sender never finished (killed, or its send failed): an
   * older message of theirs may have landed after the current one, so the current one goes
   * out again, with a fresh id so the stream does not drop it as a duplicate.
   */
  async finishAbandoned(ledger: Pick<SendLedger, "abandonedSends" | "endSend">, before: number, limit: number): Promise<void> {
    for (const { token, owner } of await ledger.abandonedSends(before, limit)) {
      await this.send(owner, true);
      await ledger.endSend(token);
    }
  }

  /** fresh: a new message id (republish), else the deterministic one (publish). */
  private async send(owner: string, fresh: boolean): Promise<void> {
    if (isL7Owner(owner)) {
      const rec = await this.opts.l7.slots.record(owner);
      const { publisher } = this.opts.l7;
      if (rec) await (fresh ? publisher.republish(rec) : publisher.publish(rec));
    } else {
      const rec = await this.opts.slots.record(owner);
      const { publisher } = this.opts;
      if (rec) await (fresh ? publisher.republish(rec) : publisher.publish(rec));
    }
  }
}
