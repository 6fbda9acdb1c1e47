import { type AnyCloudEvent, ContractViolation, decodeEvent } from "@sharedlb/contracts";
import { CliError } from "./errors.js";
import { oneLine } from "./status.js";
import { stateStyle, type Style } from "./style.js";

/** Where a message was read from. */
export interface Origin {
  /** JetStream stream, or "live" for a core subscription. */
  stream: string;
  seq: number;
  /** Time the stream stored it (the fallback when the payload is not a CloudEvent). */
  storedAt: string;
}

/** One line of the audit trail; `data` is the event's payload as published. */
export interface EventRecord {
  time: string;
  /** The CloudEvent type without `io.sharedlb.` and the version, e.g. `allocation`. */
  type: string;
  /** The CloudEvent subject (`<cluster>/<namespace>/<name>`, or the NATS subject). */
  subject: string;
  summary: string;
  id: string;
  eventType: string;
  source: string;
  natsSubject: string;
  stream: string;
  seq: number;
  data: unknown;
  /** Set when the payload violates the contract (it is still shown: it is evidence). */
  invalid?: string;
}

export function toRecord(natsSubject: string, payload: Uint8Array, origin: Origin): EventRecord {
  let ev: AnyCloudEvent;
  try {
    ev = decodeEvent(payload);
  } catch (err) {
    const why = err instanceof ContractViolation ? `${err.reason}: ${err.message}` : String(err);
    return {
      time: origin.storedAt,
      type: "invalid",
      subject: natsSubject,
      summary: oneLine(`not a valid sharedlb event (${why})`),
      id: `${origin.stream}#${origin.seq}`,
      eventType: "",
      source: "",
      natsSubject,
      stream: origin.stream,
      seq: origin.seq,
      data: safeText(payload),
      invalid: why,
    };
  }
  return {
    time: ev.time,
    type: shortType(ev.type),
    subject: ev.subject || natsSubject,
    summary: summarize(ev),
    id: ev.id,
    eventType: ev.type,
    source: ev.source,
    natsSubject,
    stream: origin.stream,
    seq: origin.seq,
    data: ev.data,
  };
}

export function shortType(type: string): string {
  return type.replace(/^io\.sharedlb\./, "").replace(/\.v\d+$/, "");
}

/** One line saying what the event means, per type. */
export function summarize(ev: AnyCloudEvent): string {
  switch (ev.type) {
    case "io.sharedlb.service.v1": {
      const d = ev.data;
      const ports = d.ports.map((p) => `${p.port}/${p.protocol}`).join(",") || "no ports";
      const ann = Object.entries(d.annotations).map(([k, v]) => `${k.replace(/^sharedlb\.io\//, "")}=${v}`);
      return oneLine(`Service ${ports} policy=${d.externalTrafficPolicy}${ann.length ? ` ${ann.join(" ")}` : ""}`);
    }
    case "io.sharedlb.node.v1": {
      const d = ev.data;
      const addr = d.addresses.internal || d.addresses.external || "no address";
      return `Node ${d.name} ${addr} ${d.ready ? "ready" : "not ready"}${d.excluded ? ", excluded" : ""}`;
    }
    case "io.sharedlb.endpoints.v1":
      return oneLine(
        `ready endpoints on ${ev.data.readyNodes.length} node(s)${ev.data.readyNodes.length ? `: ${ev.data.readyNodes.join(", ")}` : ""}`,
      );
    case "io.sharedlb.route.v1": {
      const d = ev.data;
      return oneLine(`${d.sourceKind} ${d.hostnames.join(",") || "(any host)"}, ${d.rules.length} rule(s)`);
    }
    case "io.sharedlb.gateway.v1": {
      const ls = ev.data.listeners.map((l) => `${l.name}=${l.protocol}/${l.port}${l.hostname ? ` ${l.hostname}` : ""}`);
      return oneLine(`Gateway class=${ev.data.gatewayClassName} ${ls.join(", ") || "no listeners"}`);
    }
    case "io.sharedlb.secret.v1":
      // Never the key, not even sealed: only what identifies the certificate.
      return oneLine(`TLS Secret ${ev.data.dnsNames.join(",") || "(no DNS names)"} until ${ev.data.notAfter}`);
    case "io.sharedlb.l7allocation.v1": {
      const ls = ev.data.listeners.map(
        (l) => `${l.name} ${l.state}${l.ip ? ` ${l.ip}:${l.port}` : ""} claimed=${l.claimedHostnames.length} refused=${l.refusedHostnames.length}`,
      );
      return oneLine(`${ev.data.kind} ${ev.data.state}${ls.length ? `: ${ls.join("; ")}` : ""}`);
    }
    case "io.sharedlb.programmed.v1": {
      const d = ev.data;
      const err = d.errorDetail ? `: ${d.errorDetail.message}` : "";
      return oneLine(`programmed v${d.allocationVersion} fleet ${d.fleet} acked=${d.acked} nacked=${d.nacked}${err}`);
    }
    case "io.sharedlb.deleted.v1":
      return `deleted ${ev.data.kind}${ev.data.uid ? ` (uid ${ev.data.uid})` : ""}`;
    case "io.sharedlb.allocation.v1": {
      const d = ev.data;
      if (d.state === "Allocated") {
        const ports = d.ports.map((p) => `${p.port}/${p.protocol}→${p.externalPort}`).join(",");
        return `Allocated ${d.pool} ${d.ip} ${ports}`;
      }
      return oneLine(`${d.state}${d.pool ? ` ${d.pool}` : ""}${d.reason ? ` ${d.reason}` : ""}${d.message ? `: ${d.message}` : ""}`);
    }
    case "io.sharedlb.status.v1": {
      const d = ev.data;
      const c = `${d.condition.type}=${d.condition.status}`;
      return oneLine(`${d.outcome} ${d.kind}${d.ip ? ` ${d.ip}` : ""} ${c}${d.error ? `: ${d.error}` : ""}`);
    }
    case "io.sharedlb.xds.v1": {
      const d = ev.data;
      const t = d.typeUrl ? ` ${typeUrlShort(d.typeUrl)}` : "";
      const v = d.version ? ` v${d.version}` : "";
      const err = d.errorDetail ? `: ${d.errorDetail.message}` : "";
      return oneLine(`${d.event}${t}${v} node ${d.node} (${d.stream}, replica ${d.replica})${err}`);
    }
    case "io.sharedlb.deadletter.v1": {
      const d = ev.data;
      return oneLine(`${d.service} rejected ${d.subject}: ${d.reason} ${d.message}`);
    }
  }
}

/** `type.googleapis.com/envoy.config.listener.v3.Listener` → `Listener`. */
export function typeUrlShort(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf(".") + 1);
}

/**
 * Merges per-stream lists (each already in stream order) by event time. A stable sort
 * keeps each stream's own order for events with the same timestamp.
 */
export function mergeByTime(lists: readonly (readonly EventRecord[])[]): EventRecord[] {
  const all = lists.flatMap((l, i) => l.map((r, j) => ({ r, i, j })));
  all.sort((a, b) => {
    const ta = Date.parse(a.r.time);
    const tb = Date.parse(b.r.time);
    if (ta !== tb) return (Number.isNaN(ta) ? 0 : ta) - (Number.isNaN(tb) ? 0 : tb);
    return a.i - b.i || a.j - b.j;
  });
  return all.map((x) => x.r);
}

export function renderEventLine(r: EventRecord, style: Style): string {
  const type = r.type.padEnd(10);
  let summary = r.summary;
  if (r.type === "allocation") summary = summary.replace(/^(Allocated|Pending|Failed|Released)/, (s) => stateStyle(style, s)(s));
  if (r.type === "invalid" || r.type === "deadletter" || / nack /.test(` ${r.summary} `)) summary = style.red(summary);
  // Object keys are short; padding the usual ones keeps the summaries in one column.
  return `${style.dim(r.time)}  ${style.cyan(type)}  ${r.subject.padEnd(24)}  ${summary}`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: a duration back from now (`90s`, `15m`, `1h30m`, `2d`) or an RFC 3339 time.
 */
export function parseSince(value: string, now: Date): Date {
  const v = value.trim();
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return new Date(t);
  }
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (parts.length > 0 && parts.map((p) => p[0]).join("") === v) {
    const ms = parts.reduce((n, p) => n + Number(p[1]) * (UNITS[p[2] ?? ""] ?? 0), 0);
    return new Date(now.getTime() - ms);
  }
  throw new CliError("InvalidDuration", `--since "${value}" is neither a duration (90s, 15m, 1h30m, 2d) nor a time (2026-11-22T01:00:00Z)`);
}

/** NATS subject matching with `*` (one token) and `>` (the rest), for client-side filters. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const t = f[i];
    if (t === ">") return s.length > i;
    if (i >= s.length) return false;
    if (t !== "*" && t !== s[i]) return false;
  }
  return f.length === s.length;
}

function safeText(payload: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return Buffer.from(payload).toString("base64");
  }
}

/** Remembers recently seen event ids, bounded, to drop what a replay already printed. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max = 50_000) {}

  /** True the first time an id is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.max) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }
}
