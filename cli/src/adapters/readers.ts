import {
  type Allocation,
  ContractViolation,
  decodeAnyAllocationMessage,
  decodeEvent,
  decodeProgrammedMessage,
  decodeResourceMessage,
  freeFormToToken,
  type L7Allocation,
  type ObjectRef,
  STREAM_NAMES,
  subjects,
  type XdsActivity,
} from "@sharedlb/contracts";
import { type EventRecord, toRecord } from "../domain/events.js";
import type { ExplainInput, Stored } from "../domain/explain.js";
import { combineProgrammed, type L7ExplainInput, type L7Kind, OWNER_KINDS, type ProgrammedReport } from "../domain/explain-l7.js";
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

export interface CurrentAllocations {
  /** Per Service, `<cluster>/<namespace>/<name>`. */
  services: Map<string, Stored<Allocation>>;
  /** Per Gateway or Ingress, `<kind> <cluster>/<namespace>/<name>`. */
  l7: Map<string, Stored<L7Allocation>>;
}

/** The current allocation of every Service, Gateway and Ingress (last value per subject of LB_ALLOCATIONS). */
export async function readAllocations(session: NatsSession, idleTimeoutMs: number): Promise<CurrentAllocations> {
  const out: CurrentAllocations = { services: new Map(), l7: new Map() };
  for (const m of await replay(session, STREAM_NAMES.allocations, { idleTimeoutMs })) {
    const msg = tryDecode(() => decodeAnyAllocationMessage(m.subject, m.data));
    if (!msg) continue;
    const { cluster, namespace, name } = msg.event.data;
    if (msg.kind === "service")
      out.services.set(`${cluster}/${namespace}/${name}`, { seq: m.seq, time: msg.event.time, data: msg.event.data });
    else out.l7.set(`${msg.kind} ${cluster}/${namespace}/${name}`, { seq: m.seq, time: msg.event.time, data: msg.event.data });
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
    const msg = tryDecode(() => decodeAnyAllocationMessage(allocMsg.subject, allocMsg.data));
    if (msg?.kind === "service") input.allocation = { seq: allocMsg.seq, time: msg.event.time, data: msg.event.data };
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

async function readL7Allocation(session: NatsSession, ref: ObjectRef, kind: L7Kind): Promise<Stored<L7Allocation> | undefined> {
  const m = await lastOnSubject(session, STREAM_NAMES.allocations, subjects.l7Allocation(ref.cluster, ref.namespace, ref.name, kind));
  if (!m) return undefined;
  const msg = tryDecode(() => decodeAnyAllocationMessage(m.subject, m.data));
  return msg && msg.kind !== "service" ? { seq: m.seq, time: msg.event.time, data: msg.event.data } : undefined;
}

/** Everything `explain <kind>` needs about one Ingress, Gateway or route, read by subject. */
export async function readL7ExplainInput(
  session: NatsSession,
  kind: L7Kind,
  ref: ObjectRef,
  idleTimeoutMs: number,
): Promise<L7ExplainInput> {
  const { cluster, namespace, name } = ref;
  const [resMsg, allocation, progMsgs] = await Promise.all([
    lastOnSubject(session, STREAM_NAMES.resources, subjects.l7Resource(cluster, kind, namespace, name)),
    OWNER_KINDS.includes(kind) ? readL7Allocation(session, ref, kind) : Promise.resolve(undefined),
    // Every replica reports its own Envoys: all reports are needed, not just the last one.
    replay(session, STREAM_NAMES.events, { filter: subjects.programmed(cluster, namespace, name, kind), idleTimeoutMs }),
  ]);
  const input: L7ExplainInput = { kind, ref, parents: [] };
  if (allocation) input.allocation = allocation;
  const res = decodeStoredResource(resMsg);
  const ev = res?.event;
  if (res && (ev?.type === "io.sharedlb.gateway.v1" || ev?.type === "io.sharedlb.route.v1" || ev?.type === "io.sharedlb.deleted.v1")) {
    input.resource = { seq: res.seq, time: res.time, data: ev.data } as L7ExplainInput["resource"];
    if (ev.type === "io.sharedlb.route.v1") {
      input.parents = await Promise.all(
        ev.data.parentRefs.map(async (p) => {
          const alloc = await readL7Allocation(session, { cluster, namespace: p.namespace, name: p.name }, "gateway");
          return alloc ? { ref: p, allocation: alloc } : { ref: p };
        }),
      );
    }
  }
  const reports: ProgrammedReport[] = [];
  for (const m of progMsgs) {
    const p = tryDecode(() => decodeProgrammedMessage(m.subject, m.data));
    if (p) reports.push({ source: p.event.source, stored: { seq: m.seq, time: p.event.time, data: p.event.data } });
  }
  const programmed = combineProgrammed(reports);
  if (programmed) input.programmed = programmed;
  return input;
}
