import { shortHash } from "./fingerprint.js";

// CloudEvent ids are at most 256 characters; keep a margin for the tombstone suffix.
const MAX_ID = 200;

/**
 * The id (and Nats-Msg-Id) of a resource event: derived from the object's uid and
 * version, so republishing the same version (a second replica, a restart, a resync) is
 * dropped by JetStream's duplicate window instead of becoming a new stream message.
 */
export function resourceEventId(cluster: string, kind: string, uid: string, version: string): string {
  return bounded(`${cluster}:${kind}:${uid}:${version}`);
}

/**
 * A tombstone's id follows from the last event it supersedes: whoever writes it (live
 * delete, resync after downtime, another replica) writes the same id, while a later
 * tombstone of the same object (after it came back) gets a new one.
 */
export function tombstoneEventId(lastEventId: string): string {
  return bounded(`${lastEventId}:deleted`);
}

function bounded(id: string): string {
  return id.length <= MAX_ID ? id : `${id.slice(0, 100)}~${shortHash(id, 32)}`;
}
