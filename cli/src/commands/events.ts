import { filters } from "@sharedlb/contracts";
import { readHistory } from "../adapters/readers.js";
import { type EventRecord, mergeByTime, parseSince, RecentIds, renderEventLine, subjectMatches, toRecord } from "../domain/events.js";
import type { Command, CommandContext } from "./command.js";

export const eventsCommand: Command = {
  spec: {
    name: "events",
    summary: "the lb.> audit trail, oldest first: time, type, subject, summary",
    args: "",
    positionals: { min: 0, max: 0 },
    details:
      "Replays LB_HISTORY (every resource and allocation event, sourced from LB_RESOURCES and\n" +
      "LB_ALLOCATIONS) and LB_EVENTS (status, xds, deadletter) from --since on, merged by event\n" +
      "time. With --follow it then prints new events live (a subscription to the filter) until\n" +
      "interrupted. --json prints one JSON object per line (NDJSON), with the event's data.",
    options: {
      since: {
        type: "string",
        value: "<duration|time>",
        default: "1h",
        description: "start this long ago (90s, 15m, 1h30m, 2d) or at an RFC 3339 time",
      },
      follow: { type: "boolean", description: "keep printing new events as they are published" },
      subject: {
        type: "string",
        value: "<filter>",
        default: filters.everything,
        description: "NATS subject filter, e.g. lb.allocation.a.> or lb.*.a.>",
      },
    },
  },
  async run(ctx, values) {
    const since = parseSince((values.since as string | undefined) ?? "1h", ctx.now());
    const filter = (values.subject as string | undefined) ?? filters.everything;
    const follow = values.follow === true;
    const session = await ctx.connect({ reconnect: follow });
    try {
      // Subscribe before replaying so nothing published in between is missed; what the
      // replay already printed is dropped by id.
      const live = follow ? session.nc.subscribe(filter) : undefined;
      if (live) await session.nc.flush();
      const seen = new RecentIds();
      const history = mergeByTime(await readHistory(session, since, ctx.timeoutMs)).filter((r) => subjectMatches(filter, r.natsSubject));
      for (const r of history) {
        seen.add(r.id);
        print(ctx, r);
      }
      if (!live) return 0;
      void ctx.interrupted.then(() => live.unsubscribe());
      for await (const m of live) {
        const r = toRecord(m.subject, m.data, { stream: "live", seq: 0, storedAt: ctx.now().toISOString() });
        if (seen.add(r.id)) print(ctx, r);
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};

function print(ctx: CommandContext, r: EventRecord): void {
  ctx.write(ctx.json ? `${JSON.stringify(r)}\n` : `${renderEventLine(r, ctx.style)}\n`);
}
