import { readAllocations } from "../adapters/readers.js";
import { renderStatus, summarizeAllocations } from "../domain/status.js";
import { type Command, json } from "./command.js";

export const statusCommand: Command = {
  spec: {
    name: "status",
    summary: "allocations per pool and IP: Services and ports per IP, Pending/Failed per pool",
    args: "",
    positionals: { min: 0, max: 0 },
    details:
      "Reads the current allocation of every Service (LB_ALLOCATIONS, last value per Service) and\n" +
      "shows, per pool and IP, how many Services and ports (slots) are in use and by how many tenant\n" +
      "clusters; then per pool the Allocated/Pending/Failed/Released counts, and the Services not\n" +
      "served with their reason.",
    options: {
      pool: { type: "string", multiple: true, value: "<name>", description: "only these pools (repeatable)" },
      cluster: { type: "string", multiple: true, value: "<id>", description: "only Services of these tenant clusters (repeatable)" },
    },
  },
  async run(ctx, values) {
    const pools = (values.pool as string[] | undefined) ?? [];
    const clusters = (values.cluster as string[] | undefined) ?? [];
    const session = await ctx.connect();
    try {
      const stored = await readAllocations(session, ctx.timeoutMs);
      const allocations = [...stored.values()]
        .map((s) => s.data)
        .filter((a) => (pools.length === 0 || pools.includes(a.pool)) && (clusters.length === 0 || clusters.includes(a.cluster)));
      const report = summarizeAllocations(allocations);
      ctx.write(ctx.json ? json(report) : renderStatus(report, ctx.style));
      return 0;
    } finally {
      await session.close();
    }
  },
};
