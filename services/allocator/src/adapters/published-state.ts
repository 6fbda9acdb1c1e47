import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import {
  type Allocation,
  ContractViolation,
  decodeAllocationMessage,
  decodeAnyAllocationMessage,
  decodeResourceMessage,
  filters,
  type L7Allocation,
  objectKey,
  type ServiceResource,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import { readLastValues } from "@sharedlb/runtime";
import { l7Owner } from "../domain/l7-owner.js";
import type { PublishedState } from "../app/ports.js";
import { L7_FILTERS } from "./resource-consumer.js";

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
    filters.serviceAllocations,
    );
  }

  async l7Resources(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const filter of L7_FILTERS) {
      const part = await readLastValues(
        this.js,
        this.jsm,
        STREAM_NAMES.resources,
        (subject, data) =>
          skipViolations(() => {
            const m = decodeResourceMessage(subject, data);
            const { cluster, namespace, name, kind } = m.subject;
            if (kind !== "gateway" && kind !== "ingress") return undefined;
            const live = m.event.type === "io.sharedlb.gateway.v1" || m.event.type === "io.sharedlb.route.v1";
            return [l7Owner(cluster, namespace, name, kind), live ? JSON.stringify(m.event.data) : ""];
          }),
        filter,
      );
      for (const [k, v] of part) out.set(k, v);
    }
    return out;
  }

  l7Allocations(): Promise<Map<string, { seq: number; allocation: L7Allocation }>> {
    return readLastValues(this.js, this.jsm, STREAM_NAMES.allocations, (subject, data, seq) =>
      skipViolations(() => {
        const m = decodeAnyAllocationMessage(subject, data);
        if (m.kind !== "gateway" && m.kind !== "ingress") return undefined;
        const a = m.event.data;
        return [l7Owner(a.cluster, a.namespace, a.name, m.kind), { seq, allocation: a }];
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
