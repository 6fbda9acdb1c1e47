import { readAllocations } from "../adapters/readers.js";
import { renderStatus, summarizeAllocations } from "../domain/status.js";
import { renderL7Status, summarizeL7Allocations } from "../domain/status-l7.js";
import { type Command, json } from "./command.js";

export const statusCommand: Command = {
  spec: {
    name: "status",
    summary: "allocations per pool and IP: Services and ports per IP, L7 hostnames per IP, Pending/Failed per pool",
    args: "",
    positionals: { min: 0, max: 0 },
    details:
      "Reads the current allocation of every Service (LB_ALLOCATIONS, last value per Service) and\n" +
      "shows, per pool and IP, how many Services and ports (slots) are in use and by how many tenant\n" +
      "clusters; then per pool the Allocated/Pending/Failed/Released counts, and the Services not\n" +
      "served with their reason. Then the Layer 7 hostnames each shared (IP, port) serves, with the\n" +
      "tenant cluster and Gateway or Ingress holding each, and the Gateways and Ingresses that wait,\n" +
      "failed, or were refused hostnames (HostnameConflict, …).",
    options: {
      pool: { type: "string", multiple: true, value: "<name>", description: "only these pools (repeatable)" },
      cluster: { type: "string", multiple: true, value: "<id>", description: "only objects of these tenant clusters (repeatable)" },
    },
  },
  async run(ctx, values) {
    const pools = (values.pool as string[] | undefined) ?? [];
    const clusters = (values.cluster as string[] | undefined) ?? [];
    const session = await ctx.connect();
    try {
      const stored = await readAllocations(session, ctx.timeoutMs);
      const wanted = (cluster: string, inPools: readonly string[]) =>
        (pools.length === 0 || inPools.some((p) => pools.includes(p))) && (clusters.length === 0 || clusters.includes(cluster));
      const allocations = [...stored.services.values()].map((s) => s.data).filter((a) => wanted(a.cluster, [a.pool]));
      const l7 = [...stored.l7.values()]
        .map((s) => s.data)
        .filter((a) =>
          wanted(
            a.cluster,
            a.listeners.map((l) => l.pool),
          ),
        );
      const report = summarizeAllocations(allocations);
      const l7Report = summarizeL7Allocations(l7);
      if (ctx.json) ctx.write(json({ ...report, l7: l7Report }));
      else {
        const l7Text = renderL7Status(l7Report, ctx.style);
        ctx.write(report.totals.services === 0 && l7Text ? l7Text : `${renderStatus(report, ctx.style)}${l7Text ? `\n${l7Text}` : ""}`);
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};
