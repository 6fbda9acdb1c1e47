import { createHash } from "node:crypto";

/**
 * A deterministic Event name per (Service uid, allocation message, reason): a status that
 * is written again for the same allocation (a retry after a crash between the write and
 * the Event) finds the Event already there instead of recording it twice.
 */
export function eventName(service: string, uid: string, allocationSeq: number, reason: string): string {
  const h = createHash("sha256").update(`${uid}|${allocationSeq}|${reason}`).digest("hex").slice(0, 16);
  return `${service}.sharedlb-${h}`;
}

/**
 * The Event name for an L7 object and one of its refusals (`id` names the refusal and the
 * generation): recorded once however many passes or restarts see it. Kept within the
 * 253 characters of a name whatever the object's name length.
 */
export function l7EventName(object: string, uid: string, id: string): string {
  const h = createHash("sha256").update(`${uid}|${id}`).digest("hex").slice(0, 16);
  return `${object.slice(0, 200).replace(/\.+$/, "")}.sharedlb-${h}`;
}
