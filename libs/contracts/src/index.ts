export * from "./annotations.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./messages.js";
export * from "./names.js";
export * from "./payloads.js";
export * from "./streams.js";
export * from "./subjects.js";
