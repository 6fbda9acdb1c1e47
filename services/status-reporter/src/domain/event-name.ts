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
