import type { AnyCloudEvent } from "@sharedlb/contracts";
import { fingerprint, type PublishedEntry } from "./desired.js";

/** What a replayed stream message tells about its subject. */
export function publishedEntryFrom(event: AnyCloudEvent): PublishedEntry {
  if (event.type === "io.sharedlb.deleted.v1") return { uid: event.data.uid, fingerprint: null, id: event.id };
  const data = event.data as { uid?: unknown };
  return { uid: typeof data.uid === "string" ? data.uid : uidFromEventId(event.id), fingerprint: fingerprint(event.data), id: event.id };
}

/**
 * A message that does not decode still occupies the subject: treat it as content that
 * matches nothing, so the current state (or a tombstone) replaces it.
 */
export function unreadableEntry(seq: number): PublishedEntry {
  return { uid: "", fingerprint: `unreadable:${seq}`, id: `unreadable:${seq}` };
}

/** Node and endpoints payloads carry no uid; our own event ids do (`cluster:kind:uid:version`). */
function uidFromEventId(id: string): string {
  const parts = id.split(":");
  return parts.length >= 4 ? (parts[2] ?? "") : "";
}
