import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import type { DesiredResource, PublishedEntry } from "../domain/desired.js";
import type { ResourceRef } from "../domain/keys.js";

/** The tenant cluster's objects as the informer caches hold them. */
export interface ClusterObjects {
  start(): void;
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
  listServices(): readonly V1Service[];
  listNodes(): readonly V1Node[];
  service(namespace: string, name: string): V1Service | undefined;
  node(name: string): V1Node | undefined;
  slicesOf(namespace: string, service: string): readonly V1EndpointSlice[];
}

/** What the stream holds for this cluster, by work-queue key. */
export interface PublishedReplay {
  entries: Map<string, PublishedEntry>;
  /** The stream state the replay reflects (or a later one), for ids of subjects found empty. */
  streamSeq: number;
}

export interface PublishedState {
  replay(): Promise<PublishedReplay>;
}

/** Where resource events go; each returns true when the stream dropped it as a duplicate. */
export interface ResourceSink {
  publish(ref: ResourceRef, desired: DesiredResource, id: string): Promise<boolean>;
  tombstone(ref: ResourceRef, uid: string, id: string): Promise<boolean>;
}
