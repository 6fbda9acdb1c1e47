// Golden files of the L7 translation: contract messages (JSON) in, every slot's Envoy
// resources (JSON via toObject, nested Anys unpacked) out. UPDATE_GOLDEN=1 rewrites them.
import { readFileSync } from "node:fs";
import {
  decodeAnyAllocationMessage,
  encodeEvent,
  type GatewayResource,
  type L7Allocation,
  makeEvent,
  type NodeResource,
  type ResourceMessage,
  type RouteResource,
  type SecretResource,
  subjects,
} from "@sharedlb/contracts";
import { envoy, google, xds } from "@sharedlb/envoy-api";
import { type BuiltResource, buildL7SlotResources, type SecretOpener, TenantView } from "../index.js";
import { gatewayMsg, resourceMsg, routeMsg, secretMsg } from "./l7-messages.js";

export interface GoldenInput {
  readonly description: string;
  readonly nodes?: NodeResource[];
  readonly gateways?: GatewayResource[];
  readonly routes?: RouteResource[];
  readonly secrets?: SecretResource[];
  readonly allocations: L7Allocation[];
  /** Secrets whose private key the gateway cannot unseal (a key sealed to another gateway). */
  readonly unopenable?: string[];
}

export interface GoldenResource {
  readonly typeUrl: string;
  readonly name: string;
  readonly wildcard: boolean;
  readonly objects: string[];
  readonly resource: unknown;
}

export interface GoldenSlot {
  readonly key: string;
  readonly objects: string[];
  readonly warnings: string[];
  readonly resources: GoldenResource[];
}

export function readInput(path: string): GoldenInput {
  return JSON.parse(readFileSync(path, "utf8")) as GoldenInput;
}

/** The view fed the input through the contract's own decoders, as the gateway feeds it. */
export function viewOf(input: GoldenInput): TenantView {
  const view = new TenantView();
  let sequence = 0;
  const apply = (msg: ResourceMessage) => view.applyResource(msg, ++sequence);
  for (const n of input.nodes ?? []) apply(resourceMsg(subjects.node(n.cluster, n.name), "io.sharedlb.node.v1", n));
  for (const s of input.secrets ?? []) apply(secretMsg(s));
  for (const g of input.gateways ?? []) apply(gatewayMsg(g));
  for (const r of input.routes ?? []) apply(routeMsg(r));
  for (const a of input.allocations) view.applyL7Allocation(l7AllocationData(a));
  return view;
}

/** An allocation as the gateway receives it: encoded and decoded by the contract. */
export function l7AllocationData(a: L7Allocation): L7Allocation {
  const subject = subjects.l7Allocation(a.cluster, a.namespace, a.name, a.kind);
  const event = makeEvent({ type: "io.sharedlb.l7allocation.v1", source: "sharedlb/allocator/test", subject: a.name, data: a });
  const decoded = decodeAnyAllocationMessage(subject, encodeEvent(event));
  if (decoded.kind === "service") throw new Error("not an L7 allocation");
  return decoded.event.data;
}

/** Test keys only: the "private key" is a marker naming the Secret. */
export function testOpener(unopenable: readonly string[] = []): SecretOpener {
  return (s) =>
    unopenable.includes(`${s.cluster}/${s.namespace}/${s.name}`)
      ? undefined
      : { certificateChainPem: s.certificateChainPem, privateKeyPem: `test-key-of-${s.cluster}/${s.namespace}/${s.name}` };
}

/** Every slot's resources, in slot key order. */
export function buildAll(input: GoldenInput): { slots: GoldenSlot[]; built: BuiltResource[] } {
  const view = viewOf(input);
  const slots: GoldenSlot[] = [];
  const built: BuiltResource[] = [];
  for (const key of [...view.allL7SlotKeys()].sort()) {
    const plan = view.planL7Slot(key);
    if (!plan) continue;
    const { resources, warnings, objects } = buildL7SlotResources(plan, testOpener(input.unopenable));
    built.push(...resources);
    slots.push({
      key,
      objects: objects.map(refId),
      warnings,
      resources: resources.map((r) => ({
        typeUrl: r.typeUrl,
        name: r.name,
        wildcard: r.wildcard,
        objects: (r.objects ?? []).map(refId),
        resource: readable(google.protobuf.Any.decode(r.any)),
      })),
    });
  }
  return { slots, built };
}

function refId(r: { kind: string; cluster: string; namespace: string; name: string; generation: number }): string {
  return `${r.kind}/${r.cluster}/${r.namespace}/${r.name}@${r.generation}`;
}

interface Decodable {
  decode(bytes: Uint8Array): object;
  toObject(message: object, options: object): Record<string, unknown>;
}

const NAMESPACES: Record<string, unknown> = { envoy, google, xds };

function typeOf(typeUrl: string): Decodable {
  const path = typeUrl.slice(typeUrl.lastIndexOf("/") + 1).split(".");
  let at: unknown = NAMESPACES;
  for (const p of path) at = typeof at === "object" || typeof at === "function" ? Reflect.get(at as object, p) : undefined;
  if (typeof at !== "function") throw new Error(`no generated type for ${typeUrl}`);
  return at as unknown as Decodable;
}

/** An Any as `{ "@type", ...fields }`, nested Anys too, so diffs are reviewable. */
function readable(any: { type_url?: string | null; value?: Uint8Array | null }): unknown {
  const url = any.type_url ?? "";
  const type = typeOf(url);
  const obj = type.toObject(type.decode(any.value ?? new Uint8Array()), { longs: Number, enums: String, bytes: String });
  return { "@type": url, ...unpackNested(obj) };
}

function unpackNested(value: unknown): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== "object" || v === null) return v;
    const rec = v as Record<string, unknown>;
    if (typeof rec.type_url === "string") {
      return readable({ type_url: rec.type_url, value: Buffer.from(String(rec.value ?? ""), "base64") });
    }
    return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k, walk(x)]));
  };
  return walk(value) as Record<string, unknown>;
}
