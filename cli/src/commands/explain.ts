import { ContractViolation, L7_ALLOCATION_KINDS, parseObjectKey } from "@sharedlb/contracts";
import { loadFleetFile, nodeSelector } from "../adapters/gateway-planner.js";
import { readExplainInput, readL7ExplainInput } from "../adapters/readers.js";
import { CliError } from "../domain/errors.js";
import { explainService, renderExplanation } from "../domain/explain.js";
import { explainL7, type L7Kind, renderL7Explanation } from "../domain/explain-l7.js";
import { type Command, json } from "./command.js";

const L7_KINDS: readonly L7Kind[] = L7_ALLOCATION_KINDS;

/** `explain <key>` is a Service; `explain <kind> <key>` an Ingress, Gateway or route. */
function parseTarget(positionals: readonly string[]): { kind: L7Kind | "service"; key: string } {
  if (positionals.length === 1) return { kind: "service", key: positionals[0] ?? "" };
  const kind = (positionals[0] ?? "").toLowerCase();
  if (kind === "service") return { kind, key: positionals[1] ?? "" };
  if (!(L7_KINDS as readonly string[]).includes(kind)) {
    throw new CliError("UsageError", `explain: unknown kind "${positionals[0]}" (kinds: service, ${L7_KINDS.join(", ")})`);
  }
  return { kind: kind as L7Kind, key: positionals[1] ?? "" };
}

export const explainCommand: Command = {
  spec: {
    name: "explain",
    summary: "where a Service, Ingress, Gateway or route stands and why",
    args: "[service|ingress|gateway|httproute|grpcroute|tlsroute] <cluster>/<namespace>/<name>",
    positionals: { min: 1, max: 2 },
    details:
      "A Service (no kind, or kind service): reads its last resource event and allocation, its\n" +
      "EndpointSlice summary (Local policy), the nodes of its cluster (LB_RESOURCES) and the last\n" +
      "status-reporter event (LB_EVENTS), and says whether it is Allocated, Pending or Failed and why,\n" +
      "which slots it holds, and which nodes Envoy sends its traffic to and why each other node does not\n" +
      "(AddressRefused, NotReady, Excluded, NoAddress, DuplicateAddress, NoLocalEndpoints), with\n" +
      "the gateway's own node selection. Node addresses are checked with the built-in rules\n" +
      "(never loopback, link-local, unspecified, multicast) and, with --fleet-config, the\n" +
      "operator's nodeAddresses.\n" +
      "An Ingress, Gateway or route: reads its normalized resource, its allocation (Gateway, Ingress)\n" +
      "or its parent Gateways' allocations (routes), and its last lb.programmed report, and shows the\n" +
      "listeners it is on (IP:port, shared or exclusive, the Envoy listener), the hostnames it holds\n" +
      "and those refused with their reason (HostnameConflict, …), the references the watcher left out\n" +
      "(BackendNotFound, RefNotPermitted, InvalidCertificateRef, …), and Programmed: True when the\n" +
      "fleet applied its generation, False with Envoy's own error text on a NACK.\n" +
      "Exit code 1 when NATS has never seen the object.",
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
    const { kind, key } = parseTarget(positionals);
    let ref: ReturnType<typeof parseObjectKey>;
    try {
      ref = parseObjectKey(key);
    } catch (err) {
      if (err instanceof ContractViolation) throw new CliError("UsageError", `explain: ${err.message}`);
      throw err;
    }
    if (kind !== "service") {
      const session = await ctx.connect();
      try {
        const { intersect } = await import("@sharedlb/serving");
        const explanation = explainL7(await readL7ExplainInput(session, kind, ref, ctx.timeoutMs), intersect);
        ctx.write(ctx.json ? json(explanation) : renderL7Explanation(explanation, ctx.style));
        return 0;
      } finally {
        await session.close();
      }
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
