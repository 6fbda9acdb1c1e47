import type { L7Allocation, ListenerAllocation } from "@sharedlb/contracts";

// L7 allocations as the allocator publishes them, for the CLI's tests.

/** An Allocated shared HTTP listener on 203.0.113.10:80 holding nothing yet. */
export function listenerAllocation(over: Partial<ListenerAllocation> = {}): ListenerAllocation {
  return {
    name: "web",
    protocol: "HTTP",
    state: "Allocated",
    pool: "public",
    ip: "203.0.113.10",
    port: 80,
    shared: true,
    claimedHostnames: [],
    refusedHostnames: [],
    reason: "",
    message: "",
    ...over,
  };
}

/** An Allocated L7 allocation of `<cluster>/<namespace>/<name>` with these listeners. */
export function l7Allocation(
  kind: L7Allocation["kind"],
  key: string,
  listeners: ListenerAllocation[],
  over: Partial<L7Allocation> = {},
): L7Allocation {
  const [cluster = "", namespace = "", name = ""] = key.split("/");
  return {
    cluster,
    namespace,
    name,
    kind,
    uid: key,
    generation: 1,
    state: "Allocated",
    listeners,
    reason: "",
    message: "",
    resourceSequence: 1,
    ...over,
  };
}
