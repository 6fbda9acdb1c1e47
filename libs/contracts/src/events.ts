import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { monotonicFactory } from "ulid";
import { ContractViolation } from "./errors.js";
import "./formats.js";
import { L7Allocation } from "./l7-allocation.js";
import { GatewayResource, RouteResource, SecretResource } from "./l7-resources.js";
import {
  Allocation,
  DeadLetter,
  EndpointsResource,
  NodeResource,
  ServiceResource,
  StatusReport,
  Tombstone,
  XdsActivity,
} from "./payloads.js";
import { Programmed } from "./programmed.js";

/** Every event type of contract v1, with the schema of its `data`. */
export const EVENT_TYPES = {
  "io.sharedlb.service.v1": ServiceResource,
  "io.sharedlb.node.v1": NodeResource,
  "io.sharedlb.endpoints.v1": EndpointsResource,
  "io.sharedlb.gateway.v1": GatewayResource,
  "io.sharedlb.route.v1": RouteResource,
  "io.sharedlb.secret.v1": SecretResource,
  "io.sharedlb.deleted.v1": Tombstone,
  "io.sharedlb.allocation.v1": Allocation,
  "io.sharedlb.l7allocation.v1": L7Allocation,
  "io.sharedlb.programmed.v1": Programmed,
  "io.sharedlb.status.v1": StatusReport,
  "io.sharedlb.xds.v1": XdsActivity,
  "io.sharedlb.deadletter.v1": DeadLetter,
} as const satisfies Record<string, TSchema>;

export type EventType = keyof typeof EVENT_TYPES;
export type EventData<T extends EventType> = Static<(typeof EVENT_TYPES)[T]>;

export const CloudEventEnvelope = Type.Object(
  {
    specversion: Type.Literal("1.0"),
    id: Type.String({ minLength: 1, maxLength: 256 }),
    source: Type.String({ pattern: "^sharedlb/", maxLength: 512 }),
    type: Type.String({ minLength: 1, maxLength: 256 }),
    subject: Type.String({ maxLength: 1024 }),
    time: Type.String({ format: "date-time", maxLength: 64 }),
    datacontenttype: Type.Literal("application/json"),
    data: Type.Unknown(),
  },
  { additionalProperties: true, $id: "io.sharedlb.cloudevent" },
);

export interface CloudEvent<T extends EventType = EventType> {
  specversion: "1.0";
  id: string;
  source: string;
  type: T;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: EventData<T>;
}

/** A decoded event, discriminated by `type`. */
export type AnyCloudEvent = { [T in EventType]: CloudEvent<T> }[EventType];


const envelopeCheck = TypeCompiler.Compile(CloudEventEnvelope);
const dataChecks = Object.fromEntries(
  Object.entries(EVENT_TYPES).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as { [T in EventType]: ReturnType<typeof TypeCompiler.Compile<(typeof EVENT_TYPES)[T]>> };

/**
 * The ulid package's own PRNG asks the OS for one byte per character (16 calls per new
 * millisecond): a gateway publishing an event per stream spent more on that than on
 * encoding the events. The bytes come from the same CSPRNG, 4 KiB at a time.
 */
const randomPool = new Uint8Array(4096);
let randomAt = randomPool.length;
function pooledRandom(): number {
  if (randomAt === randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  return (randomPool[randomAt++] as number) / 256;
}

// ULIDs sort by time, which makes audit logs and ids readable in order.
const nextUlid = monotonicFactory(pooledRandom);

export function newEventId(): string {
  return nextUlid();
}

export interface NewEvent<T extends EventType> {
  type: T;
  source: string;
  subject: string;
  data: EventData<T>;
  /** Give a deterministic id where redelivery must dedupe (it becomes Nats-Msg-Id). */
  id?: string;
  time?: Date;
}

export function makeEvent<T extends EventType>(e: NewEvent<T>): CloudEvent<T> {
  return {
    specversion: "1.0",
    id: e.id ?? newEventId(),
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: (e.time ?? new Date()).toISOString(),
    datacontenttype: "application/json",
    data: e.data,
  };
}

// Stateless in one-shot use, so one of each serves every call (a new one per event showed in profiles).
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeEvent(event: CloudEvent): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(event));
}

/**
 * Parses and validates a CloudEvent: JSON, envelope, known type, payload schema.
 * Throws ContractViolation naming the first problem found.
 */
export function decodeEvent(payload: Uint8Array | string): AnyCloudEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === "string" ? payload : utf8Decoder.decode(payload));
  } catch (err) {
    throw new ContractViolation("MalformedJson", `payload is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (!envelopeCheck.Check(raw)) {
    const first = envelopeCheck.Errors(raw).First();
    throw new ContractViolation(
      "InvalidEnvelope",
      `not a CloudEvent 1.0: ${first ? `${first.path || "/"} ${first.message}` : "invalid"}`,
      first?.path ?? "",
    );
  }
  if (!(raw.type in dataChecks)) {
    throw new ContractViolation("UnknownEventType", `unknown event type "${raw.type}"`, "/type");
  }
  const type = raw.type as EventType;
  const check = dataChecks[type];
  if (!check.Check(raw.data)) {
    const first = check.Errors(raw.data).First();
    throw new ContractViolation(
      "InvalidPayload",
      `${type}: data${first?.path ?? ""} ${first?.message ?? "is invalid"}`,
      `/data${first?.path ?? ""}`,
    );
  }
  return raw as AnyCloudEvent;
}

/** Validates one payload against its type's schema (for producers' own checks and tests). */
export function validateData<T extends EventType>(type: T, data: unknown): data is EventData<T> {
  return dataChecks[type].Check(data);
}

export function describeDataErrors(type: EventType, data: unknown): string[] {
  return [...dataChecks[type].Errors(data)].map((e) => `${e.path || "/"} ${e.message}`);
}
