export * from "./nats-binary.js";
export * from "./nats-server.js";
export * from "./ports.js";
export * from "./process.js";
export * from "./redis-server.js";
export * from "./fixtures.js";
export * from "./pki.js";
export * from "./nats-once.js";
