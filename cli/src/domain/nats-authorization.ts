import { filters, STREAM_CHECK_CONSUMER, STREAM_NAMES } from "@sharedlb/contracts";

/**
 * Who may connect to NATS and what each may do: the source of truth `sharedlb tenant add/revoke`
 * edit (nats-identities.json) and render into the server's authorization block (nats-auth.conf).
 * Identities are nkeys: the server holds public keys only, so the rendered file holds no secret.
 */
export interface NatsIdentities {
  /** Public nkeys (`U…`) of the LB-side identities; absent until `sharedlb tenant init`. */
  lb?: { allocator: string; gateway: string; cli: string } | undefined;
  /** Tenant cluster id → its public nkey (watcher and status-reporter share it). */
  tenants: Record<string, string>;
}

const LOCKED_NKEY = "UCQNB2DTIEOR7PEBZU6NX3RW2XEQDO24YUDRH6CAC5AWMMGQWYDTIFFQ";

/** Durable consumers only their owner may touch: ordered consumers' random names are not enough here. */
const ALLOCATOR_DURABLES = ["allocator", "allocator-l7"];
export const tenantDurable = (cluster: string): string => `status-${cluster}`;
export const tenantInboxPrefix = (cluster: string): string => `_INBOX_${cluster}`;

export interface Permissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
}

const API = "$JS.API";

/** Every operation on a named durable (CREATE/DELETE/INFO/MSG.NEXT and the filtered CREATE form). */
function durableSubjects(stream: string, name: string): string[] {
  return [`${API}.CONSUMER.*.${stream}.${name}`, `${API}.CONSUMER.*.${stream}.${name}.>`, `${API}.CONSUMER.*.*.${stream}.${name}`];
}

/**
 * A tenant may publish its own resources and statuses; replay its own resources and
 * allocations through consumers whose filter (carried in the create subject since
 * nats-server 2.10) is its own; pull and ack its own durable; receive replies on its own
 * inbox prefix. No stream admin, no STREAM.MSG.GET or DIRECT.GET (both read any subject),
 * no STREAM.INFO, STREAM.NAMES or STREAM.LIST (with a subjects_filter, stream info lists
 * every tenant's subject names; the request subject cannot say whether it carries one):
 * streams are checked with CONSUMER.INFO of a consumer nobody has, and replays end on the
 * consumer's own pending count. No other consumer, no other subject. Other identities'
 * durables are denied by name, because ordered consumers need a wildcard consumer name.
 */
export function tenantPermissions(cluster: string, others: readonly string[]): Permissions {
  const { resources: R, allocations: A, events: E } = STREAM_NAMES;
  const own = tenantDurable(cluster);
  return {
    publish: {
      allow: [
        `lb.resource.${cluster}.>`,
        `lb.status.${cluster}.>`,
        "lb.deadletter.watcher",
        "lb.deadletter.status-reporter",
        // Account info (nats.js checks JetStream is there): totals only, no names.
        `${API}.INFO`,
        ...Object.values(STREAM_NAMES).map((s) => `${API}.CONSUMER.INFO.${s}.${STREAM_CHECK_CONSUMER}`),
        `${API}.CONSUMER.CREATE.${R}.*.${filters.clusterResources(cluster)}`,
        `${API}.CONSUMER.CREATE.${A}.*.${filters.clusterAllocations(cluster)}`,
        // The status-reporter follows the fleet's programmed reports of its own objects (L7 Programmed conditions).
        `${API}.CONSUMER.CREATE.${E}.*.${filters.clusterProgrammed(cluster)}`,
        `${API}.CONSUMER.INFO.${A}.${own}`,
        `${API}.CONSUMER.MSG.NEXT.${R}.*`,
        `${API}.CONSUMER.MSG.NEXT.${A}.*`,
        `${API}.CONSUMER.MSG.NEXT.${E}.*`,
        `${API}.CONSUMER.DELETE.${R}.*`,
        `${API}.CONSUMER.DELETE.${A}.*`,
        `${API}.CONSUMER.DELETE.${E}.*`,
        `$JS.ACK.${A}.${own}.>`,
      ],
      deny: [
        // Made by a tenant, the stream check's consumer would show its filter and counts to every other tenant.
        `${API}.CONSUMER.CREATE.*.${STREAM_CHECK_CONSUMER}.>`,
        ...ALLOCATOR_DURABLES.flatMap((d) => [...durableSubjects(R, d), ...durableSubjects(A, d)]),
        // Its own durable must not be deleted by itself either: the LB side's history of acks lives there.
        `${API}.CONSUMER.DELETE.${A}.${own}`,
        ...others.filter((o) => o !== cluster).flatMap((o) => [...durableSubjects(R, tenantDurable(o)), ...durableSubjects(A, tenantDurable(o))]),
      ],
    },
    subscribe: { allow: [`${tenantInboxPrefix(cluster)}.>`] },
  };
}

/** The allocator runs the contract: all lb subjects and the JetStream API, but no tenant's inbox. */
function allocatorPermissions(): Permissions {
  return {
    publish: { allow: ["lb.>", `${API}.>`, "$JS.ACK.>"] },
    subscribe: { allow: ["_INBOX.>", "lb.>"] },
  };
}

/**
 * The xds-gateway reads every lb subject (it serves them) and writes only its own reports:
 * xDS activity, programmed status and its dead letters. It may create streams that are
 * missing (whichever service starts first), but never delete or purge one, delete a
 * message, forge a resource or an allocation, ack for another consumer, or touch the
 * allocator's or a tenant's durable: it is the process Envoys talk to, so the one most
 * exposed.
 */
function gatewayPermissions(tenants: readonly string[]): Permissions {
  const { resources: R, allocations: A, events: E } = STREAM_NAMES;
  return {
    publish: {
      allow: ["lb.xds.>", "lb.programmed.>", "lb.deadletter.xds-gateway", `${API}.>`],
      deny: [
        `${API}.STREAM.DELETE.>`,
        `${API}.STREAM.PURGE.>`,
        `${API}.STREAM.MSG.DELETE.>`,
        ...ALLOCATOR_DURABLES.flatMap((d) => [...durableSubjects(R, d), ...durableSubjects(A, d)]),
        ...tenants.flatMap((t) => [...durableSubjects(A, tenantDurable(t)), ...durableSubjects(E, tenantDurable(t))]),
      ],
    },
    subscribe: { allow: ["_INBOX.>", "lb.>"] },
  };
}

/** The CLI reads: stream state, last values, ordered replays, live events. It changes nothing. */
function cliPermissions(tenants: readonly string[]): Permissions {
  return {
    publish: {
      allow: [
        `${API}.INFO`,
        `${API}.STREAM.NAMES`,
        `${API}.STREAM.LIST`,
        `${API}.STREAM.INFO.*`,
        `${API}.STREAM.MSG.GET.*`,
        `${API}.DIRECT.GET.>`,
        `${API}.CONSUMER.CREATE.>`,
        `${API}.CONSUMER.MSG.NEXT.>`,
        `${API}.CONSUMER.DELETE.>`,
      ],
      deny: [
        `${API}.CONSUMER.CREATE.*.${STREAM_CHECK_CONSUMER}.>`,
        ...ALLOCATOR_DURABLES.flatMap((d) => durableSubjects(STREAM_NAMES.resources, d)),
        ...tenants.flatMap((t) => durableSubjects(STREAM_NAMES.allocations, tenantDurable(t))),
      ],
    },
    subscribe: { allow: ["_INBOX.>", "lb.>"] },
  };
}

function renderUser(nkey: string, p: Permissions, comment: string): string {
  const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
  const side = (s: { allow: string[]; deny?: string[] }) =>
    `{ allow: ${list(s.allow)}${s.deny && s.deny.length > 0 ? `, deny: ${list(s.deny)}` : ""} }`;
  return `    # ${comment}\n    { nkey: ${JSON.stringify(nkey)}, permissions: { publish: ${side(p.publish)}, subscribe: ${side(p.subscribe)} } }`;
}

/** The `authorization { … }` block nats.conf includes. Deterministic: the same identities give the same text. */
export function renderNatsAuthorization(ids: NatsIdentities): string {
  const tenants = Object.keys(ids.tenants).sort();
  const users = [
    ...(ids.lb
      ? [
          renderUser(ids.lb.allocator, allocatorPermissions(), "allocator"),
          renderUser(ids.lb.gateway, gatewayPermissions(tenants), "xds-gateway"),
          renderUser(ids.lb.cli, cliPermissions(tenants), "sharedlb CLI (read-only)"),
        ]
      : // An empty list would mean "no authorization": anonymous clients allowed. This key's seed
        // was thrown away when it was made, so until `sharedlb tenant init` nobody gets in.
        [renderUser(LOCKED_NKEY, { publish: { allow: ["sharedlb.locked"], deny: [">"] }, subscribe: { allow: ["sharedlb.locked"], deny: [">"] } }, "locked: run `sharedlb tenant init`")]),
    ...tenants.map((t) => renderUser(ids.tenants[t] ?? "", tenantPermissions(t, tenants), `tenant ${t}`)),
  ];
  return [
    "# Generated by `sharedlb tenant add/revoke` from nats-identities.json; do not edit by hand.",
    "# Apply with a configuration reload (nats-server --signal reload), no restart needed.",
    "authorization {",
    "  timeout: 5",
    "  users: [",
    users.join("\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}
