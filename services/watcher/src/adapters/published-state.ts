import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { decodeEvent, filters, STREAM_NAMES } from "@sharedlb/contracts";
import { readLastValues, streamLastSeq } from "@sharedlb/runtime";
import type { PublishedReplay, PublishedState } from "../app/ports.js";
import type { PublishedEntry } from "../domain/desired.js";
import { refFromSubject, refKey } from "../domain/keys.js";
import { publishedEntryFrom, unreadableEntry } from "../domain/published.js";

/**
 * What LB_RESOURCES holds for this cluster's services, nodes and endpoints, by work-queue
 * key: the last value of every subject. Other kinds (routes) are not this watcher's and
 * are left out, so they are never tombstoned. `streamSeq` names the stream state the
 * replay saw, for the ids of subjects found empty.
 */
export class StreamPublishedState implements PublishedState {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly cluster: string,
  ) {}

  replay(): Promise<PublishedReplay> {
    return replayPublished(this.js, this.jsm, this.cluster);
  }
}

async function replayPublished(js: JetStreamClient, jsm: JetStreamManager, cluster: string): Promise<PublishedReplay> {
  // Taken before the replay: the replay reflects this state or a later one. Without
  // STREAM.INFO, which a tenant may not ask (docs/security.md).
  const streamSeq = await streamLastSeq(js, jsm, STREAM_NAMES.resources, filters.clusterResources(cluster));
  const entries = await readLastValues(
    js,
    jsm,
    STREAM_NAMES.resources,
    (subject, data, seq) => {
      const ref = refFromSubject(cluster, subject);
      if (!ref) return undefined;
      let entry: PublishedEntry;
      try {
        entry = publishedEntryFrom(decodeEvent(data));
      } catch {
        entry = unreadableEntry(seq);
      }
      return [refKey(ref), entry];
    },
    filters.clusterResources(cluster),
  );
  return { entries, streamSeq };
}
