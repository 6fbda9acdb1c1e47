import { join, relative, resolve } from "node:path";
import { createUserNkey } from "../adapters/nkeys.js";
import { loadIdentities, readCa, saveIdentities, signalReload, writeFileAtomic } from "../adapters/tenant-files.js";
import { CliError } from "../domain/errors.js";
import {
  assertClusterId,
  renderLbSecret,
  renderTenantOverlay,
  withoutTenant,
  withTenant,
} from "../domain/tenant-registry.js";
import { type Command, json, type OptionValues } from "./command.js";

const str = (v: OptionValues[string]): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export const tenantCommand: Command = {
  spec: {
    name: "tenant",
    summary: "issue or revoke a tenant cluster's NATS identity (init | add <cluster> | revoke <cluster> | render)",
    args: "init | add <cluster> | revoke <cluster> | render",
    positionals: { min: 1, max: 2 },
    details:
      "init: makes the LB side's identities (allocator, xds-gateway, CLI): public keys into\n" +
      "<lb-dir>/nats-identities.json and the nats-auth ConfigMap (21-nats-auth.yaml), seeds into a\n" +
      "Secret file under --out (apply it, keep it out of git).\n" +
      "add <cluster>: a new nkey for the tenant, its permissions in the ConfigMap, and the tenant\n" +
      "overlay for deploy/k8s/tenant under --out (Secret with the seed, cluster settings).\n" +
      "revoke <cluster>: removes the tenant; after the ConfigMap is applied and NATS reloaded, its\n" +
      "connections are closed and refused. Nothing else restarts.\n" +
      "render: rewrites the permission entries from the registry alone (after upgrading sharedlb,\n" +
      "whose permissions may have changed), then apply and reload as above. See docs/security.md.",
    options: {
      "lb-dir": { type: "string", default: "deploy/k8s/lb", value: "<dir>", description: "the LB deploy directory holding nats-identities.json" },
      out: { type: "string", value: "<dir>", description: "where secrets are written (default ./sharedlb-tenant-<cluster>, ./sharedlb-lb-identities)" },
      server: { type: "string", default: "tls://nats.lb.example.com:4222", value: "<url>", description: "add: NATS URL as the tenant cluster reaches it" },
      ca: { type: "string", value: "<file>", description: "add: the CA of the LB cluster's NATS certificate (required: tenants verify the server)" },
      base: { type: "string", default: "deploy/k8s/tenant", value: "<dir>", description: "add: the tenant base the overlay builds on" },
      "auth-conf": { type: "string", value: "<file>", description: "also write the bare authorization block here (a nats-server reading files, e.g. the local run)" },
      "auth-only": { type: "boolean", description: "write --auth-conf and the registry but no ConfigMap (a nats-server reading files: docker compose)" },
      "reload-pid": { type: "string", value: "<pid>", description: "signal this nats-server to reload after writing (local servers)" },
    },
  },
  async run(ctx, values, positionals) {
    const [action, clusterArg] = positionals;
    const lbDir = String(values["lb-dir"]);
    const authConf = str(values["auth-conf"]);
    const target = { lbDir, authConf, configMap: values["auth-only"] !== true };
    if (!target.configMap && !authConf) throw new CliError("UsageError", "--auth-only needs --auth-conf <file>: the only place the permissions would go");
    const out: Record<string, unknown> = { action };
    if (action === "init") {
      const ids = loadIdentities(lbDir);
      if (ids.lb) throw new CliError("TenantConflict", `${lbDir} already has LB identities; they are not replaced`);
      const keys = { allocator: createUserNkey(), gateway: createUserNkey(), cli: createUserNkey() };
      const dir = resolve(str(values.out) ?? "sharedlb-lb-identities");
      const secret = join(dir, "nats-identities-secret.yaml");
      writeFileAtomic(secret, renderLbSecret({ allocator: keys.allocator.seed, gateway: keys.gateway.seed, cli: keys.cli.seed }), 0o600);
      const written = saveIdentities(target, {
        lb: { allocator: keys.allocator.publicKey, gateway: keys.gateway.publicKey, cli: keys.cli.publicKey },
        tenants: ids.tenants,
      });
      Object.assign(out, { written: [...written, secret] });
    } else if (action === "add" || action === "revoke") {
      if (!clusterArg) throw new CliError("UsageError", `tenant ${action} needs a cluster id`);
      const cluster = assertClusterId(clusterArg);
      const ids = loadIdentities(lbDir);
      if (action === "add") {
        const caFile = str(values.ca);
        if (!caFile) throw new CliError("UsageError", "tenant add needs --ca <file>: the CA tenants verify the LB cluster's NATS with");
        const ca = readCa(caFile);
        const key = createUserNkey();
        const dir = resolve(str(values.out) ?? `sharedlb-tenant-${cluster}`);
        const files = renderTenantOverlay({ cluster, seed: key.seed, server: String(values.server), ca, base: relative(dir, resolve(String(values.base))) });
        const written = saveIdentities(target, withTenant(ids, cluster, key.publicKey));
        for (const [name, text] of Object.entries(files)) {
          writeFileAtomic(join(dir, name), text, 0o600);
          written.push(join(dir, name));
        }
        Object.assign(out, { cluster, publicKey: key.publicKey, written });
      } else {
        Object.assign(out, { cluster, written: saveIdentities(target, withoutTenant(ids, cluster)) });
      }
    } else if (action === "render") {
      if (clusterArg) throw new CliError("UsageError", "tenant render takes no cluster id");
      Object.assign(out, { written: saveIdentities(target, loadIdentities(lbDir)) });
    } else {
      throw new CliError("UsageError", `tenant: unknown action "${action}" (init, add <cluster>, revoke <cluster>, render)`);
    }
    const pid = str(values["reload-pid"]);
    if (pid) signalReload(pid);
    if (ctx.json) ctx.write(json({ ...out, reloaded: pid !== undefined }));
    else {
      for (const f of out.written as string[]) ctx.write(`wrote ${f}\n`);
      ctx.write(
        pid
          ? "nats-server reloaded\n"
          : target.configMap
            ? "next: kubectl apply -f <lb-dir>/21-nats-auth.yaml, then on each NATS pod: nats-server --signal reload=/var/run/nats/nats.pid\n"
            : "next: reload the nats-server reading it (docker compose: docker compose kill -s HUP nats)\n",
      );
    }
    return 0;
  },
};
