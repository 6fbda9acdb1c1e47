import { loadFleetFile, planFromStreams } from "../adapters/gateway-planner.js";
import { readFleetActivity } from "../adapters/readers.js";
import { fleetConfigFromPlans, fleetPools, renderFleetConfig, summarizeNode } from "../domain/xds.js";
import { type Command, json } from "./command.js";

export const xdsCommand: Command = {
  spec: {
    name: "xds",
    summary: "the Envoy config a fleet is served: listeners → cluster → endpoints",
    args: "<fleet>",
    positionals: { min: 1, max: 1 },
    details:
      "Runs the xds-gateway's own planner over the streams the gateway replays (LB_RESOURCES,\n" +
      "LB_ALLOCATIONS), so it shows what a caught-up gateway serves the fleet: one listener\n" +
      "<proto>-<ip>-<port> per allocated slot in the fleet's pools, its cluster\n" +
      "<cluster>/<namespace>/<name>/<proto>-<port>, and the tenant nodes at the NodePort; xds:///\n" +
      "targets for proxyless gRPC ports. Then the fleet's Envoy nodes\n" +
      "from lb.xds events: the last event per node, or with --node every type's last ACK/NACK.\n" +
      "The fleet's pools and the node address policy come from the gateway's fleet file\n" +
      "(--fleet-config); with --pool only the built-in address rules apply.",
    options: {
      "fleet-config": {
        type: "string",
        env: "SHAREDLB_FLEET_CONFIG",
        value: "<file>",
        description: "the xds-gateway's fleet file (fleets: [{name, pools}], nodeAddresses)",
      },
      pool: {
        type: "string",
        multiple: true,
        value: "<name>",
        description: "pools the fleet serves, instead of --fleet-config (repeatable)",
      },
      node: { type: "string", value: "<id>", description: "show this Envoy node's last ACK/NACK per resource type" },
    },
  },
  async run(ctx, values, positionals) {
    const fleet = positionals[0] ?? "";
    const configPath = (values["fleet-config"] as string | undefined) ?? ctx.env.SHAREDLB_FLEET_CONFIG;
    const file = configPath ? await loadFleetFile(configPath) : undefined;
    const pools = fleetPools(fleet, file, (values.pool as string[] | undefined) ?? []);
    const node = values.node as string | undefined;
    const session = await ctx.connect();
    try {
      const planned = await planFromStreams(session, ctx.timeoutMs, file);
      const config = fleetConfigFromPlans(fleet, pools, planned.plans, planned);
      const activity = await readFleetActivity(session, fleet, node, ctx.timeoutMs);
      config.nodesDetail = node === undefined ? "last-event" : "per-type";
      config.nodes = [...activity.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, evs]) => summarizeNode(n, evs));
      if (node !== undefined && config.nodes.length === 0) {
        ctx.warn(`sharedlb: no lb.xds events recorded for node "${node}" of fleet "${fleet}"\n`);
      }
      ctx.write(ctx.json ? json(config) : renderFleetConfig(config, ctx.style));
      return 0;
    } finally {
      await session.close();
    }
  },
};
