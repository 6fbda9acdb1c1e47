import { ContractViolation, parseObjectKey } from "@sharedlb/contracts";
import { loadFleetFile, nodeSelector } from "../adapters/gateway-planner.js";
import { readExplainInput } from "../adapters/readers.js";
import { CliError } from "../domain/errors.js";
import { explainService, renderExplanation } from "../domain/explain.js";
import { type Command, json } from "./command.js";

export const explainCommand: Command = {
  spec: {
    name: "explain",
    summary: "where a Service stands and why: state, reason, slots, serving nodes",
    args: "<cluster>/<namespace>/<name>",
    positionals: { min: 1, max: 1 },
    details:
      "Reads the Service's last resource event and allocation, its EndpointSlice summary (Local\n" +
      "policy), the nodes of its cluster (LB_RESOURCES) and the last status-reporter event\n" +
      "(LB_EVENTS), and says whether it is Allocated, Pending or Failed and why, which slots it\n" +
      "holds, and which nodes Envoy sends its traffic to and why each other node does not\n" +
      "(AddressRefused, NotReady, Excluded, NoAddress, DuplicateAddress, NoLocalEndpoints), with\n" +
      "the gateway's own node selection. Node addresses are checked with the built-in rules\n" +
      "(never loopback, link-local, unspecified, multicast) and, with --fleet-config, the\n" +
      "operator's nodeAddresses. Exit code 1 when NATS has never seen the Service.",
    options: {
      "fleet-config": {
        type: "string",
        env: "SHAREDLB_FLEET_CONFIG",
        value: "<file>",
        description: "the xds-gateway's fleet file, for its node address policy (nodeAddresses)",
      },
    },
  },
  async run(ctx, values, positionals) {
    const key = positionals[0] ?? "";
    let ref: ReturnType<typeof parseObjectKey>;
    try {
      ref = parseObjectKey(key);
    } catch (err) {
      if (err instanceof ContractViolation) throw new CliError("UsageError", `explain: ${err.message}`);
      throw err;
    }
    const configPath = (values["fleet-config"] as string | undefined) ?? ctx.env.SHAREDLB_FLEET_CONFIG;
    const file = configPath ? await loadFleetFile(configPath) : undefined;
    const select = await nodeSelector(file?.addressPolicy);
    const session = await ctx.connect();
    try {
      const explanation = explainService(await readExplainInput(session, ref, ctx.timeoutMs), select);
      ctx.write(ctx.json ? json(explanation) : renderExplanation(explanation, ctx.style));
      return 0;
    } finally {
      await session.close();
    }
  },
};
