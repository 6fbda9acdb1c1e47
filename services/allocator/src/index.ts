export { DEFAULT_PREFIX, SlotStore } from "./adapters/slot-store.js";
export { type SlotRecord, toAllocation } from "./domain/slot-record.js";
export { PoolFileSchema, resolvePolicy } from "./domain/pools.js";
