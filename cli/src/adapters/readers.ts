import {
  type Allocation,
  ContractViolation,
  decodeAllocationMessage,
  decodeEvent,
  decodeResourceMessage,
  freeFormToToken,
  type ObjectRef,
  STREAM_NAMES,
  subjects,
  type XdsActivity,
} from "@sharedlb/contracts";
import type { ExplainInput, Stored } from "../domain/explain.js";
import { type EventRecord, toRecord } from "../domain/events.js";
import { lastOnSubject, type NatsSession, replay, type StoredMessage, subjectsUnder } from "./nats.js";

// Messages that violate the contract were dead-lettered by the services and are not part
// of any state; readers skip them (`sharedlb events` still shows them).
function tryDecode<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof ContractViolation) return undefined;
    throw err;
  }
}

/** The current allocation of every Service (last value per subject of LB_ALLOCATIONS). */
export async function readAllocations(session: NatsSession, idleTimeoutMs: number): Promise<Map<string, Stored<Allocation>>> {
  const out = new Map<string, Stored<Allocation>>();
  for (const m of await replay(session, STREAM_NAMES.allocations, { idleTimeoutMs })) {
    const ev = tryDecode(() => decodeAllocationMessage(m.subject, m.data));
    if (ev) out.set(`${ev.data.cluster}/${ev.data.namespace}/${ev.data.name}`, { seq: m.seq, time: ev.time, data: ev.data });
  }
  return out;
}

function decodeStoredResource(m: StoredMessage | undefined) {
  if (!m) return undefined;
  const msg = tryDecode(() => decodeResourceMessage(m.subject, m.data));
  return msg ? { seq: m.seq, time: msg.event.time, event: msg.event } : undefined;
}

/** Everything `explain` needs about one Service, read by subject (cheap at any scale). */
export async function readExplainInput(session: NatsSession, ref: ObjectRef, idleTimeoutMs: number): Promise<ExplainInput> {
  const { cluster, namespace, name } = ref;
  const [svcMsg, allocMsg, epMsg, statusMsg] = await Promise.all([
    lastOnSubject(session, STREAM_NAMES.resources, subjects.service(cluster, namespace, name)),
    lastOnSubject(session, STREAM_NAMES.allocations, subjects.allocation(cluster, namespace, name)),
    lastOnSubject(session, STREAM_NAMES.resources, subjects.endpoints(cluster, namespace, name)),
    lastOnSubject(session, STREAM_NAMES.events, subjects.status(cluster, namespace, name)),
  ]);
  const input: ExplainInput = { ref, nodes: [] };
  const svc = decodeStoredResource(svcMsg);
  if (svc?.event.type === "io.sharedlb.service.v1" || svc?.event.type === "io.sharedlb.deleted.v1") {
    input.service = { seq: svc.seq, time: svc.time, data: svc.event.data } as ExplainInput["service"];
  }
  const ep = decodeStoredResource(epMsg);
  if (ep?.event.type === "io.sharedlb.endpoints.v1" || ep?.event.type === "io.sharedlb.deleted.v1") {
    input.endpoints = { seq: ep.seq, time: ep.time, data: ep.event.data } as ExplainInput["endpoints"];
  }
  if (allocMsg) {
    const ev = tryDecode(() => decodeAllocationMessage(allocMsg.subject, allocMsg.data));
    if (ev) input.allocation = { seq: allocMsg.seq, time: ev.time, data: ev.data };
  }
  if (statusMsg) {
    const ev = tryDecode(() => decodeEvent(statusMsg.data));
    if (ev?.type === "io.sharedlb.status.v1") input.status = { seq: statusMsg.seq, time: ev.time, data: ev.data };
  }
  if (input.service || input.allocation) {
    for (const m of await replay(session, STREAM_NAMES.resources, { filter: `lb.resource.${cluster}.node.>`, idleTimeoutMs })) {
      const msg = tryDecode(() => decodeResourceMessage(m.subject, m.data));
      if (msg?.event.type === "io.sharedlb.node.v1") input.nodes.push(msg.event.data);
    }
  }
  return input;
}

/** The audit trail since a time: LB_HISTORY (resources, allocations) and LB_EVENTS. */
export async function readHistory(session: NatsSession, since: Date, idleTimeoutMs: number): Promise<EventRecord[][]> {
  const lists: EventRecord[][] = [];
  for (const stream of [STREAM_NAMES.history, STREAM_NAMES.events]) {
    const msgs = await replay(session, stream, { since, idleTimeoutMs });
    lists.push(msgs.map((m) => toRecord(m.subject, m.data, { stream, seq: m.seq, storedAt: m.storedAt })));
  }
  return lists;
}

/**
 * Envoy nodes of a fleet from `lb.xds.<fleet>.<node>` events. Without a node: the last
 * event of each node (one direct get per node, cheap however long the history). With a
 * node: all of that node's retained events, to show the last ACK/NACK per type.
 */
export async function readFleetActivity(
  session: NatsSession,
  fleet: string,
  node: string | undefined,
  idleTimeoutMs: number,
): Promise<Map<string, { time: string; data: XdsActivity }[]>> {
  const out = new Map<string, { time: string; data: XdsActivity }[]>();
  const add = (m: StoredMessage) => {
    const ev = tryDecode(() => decodeEvent(m.data));
    // Subject tokens are lossy for free-form ids: the event data carries the exact ones.
    if (ev?.type !== "io.sharedlb.xds.v1" || ev.data.fleet !== fleet) return;
    if (node !== undefined && ev.data.node !== node) return;
    let list = out.get(ev.data.node);
    if (!list) {
      list = [];
      out.set(ev.data.node, list);
    }
    list.push({ time: ev.time, data: ev.data });
  };
  if (node === undefined) {
    const present = await subjectsUnder(session, STREAM_NAMES.events, `lb.xds.${freeFormToToken(fleet)}.*`);
    const last = await Promise.all([...present.keys()].sort().map((s) => lastOnSubject(session, STREAM_NAMES.events, s)));
    for (const m of last) if (m) add(m);
    return out;
  }
  for (const m of await replay(session, STREAM_NAMES.events, { filter: subjects.xds(fleet, node), idleTimeoutMs })) add(m);
  return out;
}
