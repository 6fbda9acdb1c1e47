import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type Allocation, ContractViolation, decodeAllocationMessage, decodeResourceMessage, filters, objectKey, type ServiceResource, STREAM_NAMES } from "@sharedlb/contracts";
import { readLastValues } from "@sharedlb/runtime";
import type { PublishedState } from "../app/ports.js";

/** Last values per Service read back from the streams; messages that break the contract are skipped. */
export class JetStreamPublishedState implements PublishedState {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  resources(): Promise<Map<string, { seq: number; svc: ServiceResource | null }>> {
    return readLastValues(
      this.js,
      this.jsm,
      STREAM_NAMES.resources,
      (subject, data, seq) =>
        skipViolations(() => {
          const m = decodeResourceMessage(subject, data);
          const { cluster, namespace, name } = m.subject;
          return [objectKey(cluster, namespace, name), { seq, svc: m.event.type === "io.sharedlb.service.v1" ? m.event.data : null }];
        }),
      filters.services,
    );
  }

  allocations(): Promise<Map<string, { seq: number; allocation: Allocation }>> {
    return readLastValues(this.js, this.jsm, STREAM_NAMES.allocations, (subject, data, seq) =>
      skipViolations(() => {
        const e = decodeAllocationMessage(subject, data);
        return [objectKey(e.data.cluster, e.data.namespace, e.data.name), { seq, allocation: e.data }];
      }),
    );
  }
}

function skipViolations<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ContractViolation) return undefined;
    throw err;
  }
}
