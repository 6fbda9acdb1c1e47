/**
 * JetStream streams of contract v1, as plain data (no client types), so every service
 * and tool creates or verifies the same thing.
 */
export interface StreamDefinition {
  name: string;
  subjects: string[];
  /** Last value per subject: replaying the stream yields current state. */
  maxMsgsPerSubject: number;
  /** 0 = unlimited age. */
  maxAgeSeconds: number;
  /** Sources another stream's messages instead of owning subjects (audit history). */
  sources?: string[];
  description: string;
}

export const DEFAULT_HISTORY_SECONDS = 7 * 24 * 3600;

export const STREAM_NAMES = {
  resources: "LB_RESOURCES",
  allocations: "LB_ALLOCATIONS",
  events: "LB_EVENTS",
  history: "LB_HISTORY",
} as const;

/**
 * A consumer name nobody creates: asking CONSUMER.INFO for it answers "consumer not found"
 * when the stream exists and "stream not found" when it does not. Tenant processes check
 * the streams this way; they may not ask STREAM.INFO or STREAM.NAMES (docs/security.md).
 */
export const STREAM_CHECK_CONSUMER = "sharedlb-stream-check";

export function streamDefinitions(historySeconds = DEFAULT_HISTORY_SECONDS): StreamDefinition[] {
  return [
    {
      name: STREAM_NAMES.resources,
      subjects: ["lb.resource.>"],
      maxMsgsPerSubject: 1,
      maxAgeSeconds: 0,
      description: "current normalized tenant state, last value per subject",
    },
    {
      name: STREAM_NAMES.allocations,
      subjects: ["lb.allocation.>"],
      maxMsgsPerSubject: 1,
      maxAgeSeconds: 0,
      description: "current allocation of every Service, last value per subject",
    },
    {
      name: STREAM_NAMES.events,
      subjects: ["lb.status.>", "lb.xds.>", "lb.programmed.>", "lb.deadletter.>"],
      maxMsgsPerSubject: -1,
      maxAgeSeconds: historySeconds,
      description: "status, xDS, programmed and dead-letter events, kept by age",
    },
    {
      name: STREAM_NAMES.history,
      subjects: [],
      sources: [STREAM_NAMES.resources, STREAM_NAMES.allocations],
      maxMsgsPerSubject: -1,
      maxAgeSeconds: historySeconds,
      description: "full history of resource and allocation events, for audit replay",
    },
  ];
}
