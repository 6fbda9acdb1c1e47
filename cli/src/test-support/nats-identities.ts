import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUserNkey } from "../adapters/nkeys.js";
import { type NatsIdentities, renderNatsAuthorization } from "../domain/nats-authorization.js";

export interface TestIdentities {
  ids: NatsIdentities;
  /** The seed file of an identity: "allocator", "gateway", "cli" or a tenant cluster id. */
  seedFile(who: string): string;
  authorization(): string;
}

/** Fresh nkeys for the LB side and the given tenants, seeds written (0600) into `dir`. */
export function makeTestIdentities(dir: string, tenants: readonly string[]): TestIdentities {
  const files = new Map<string, string>();
  const make = (who: string) => {
    const k = createUserNkey();
    const file = join(dir, `${who}.nk`);
    writeFileSync(file, `${k.seed}\n`, { mode: 0o600 });
    files.set(who, file);
    return k.publicKey;
  };
  const ids: NatsIdentities = {
    lb: { allocator: make("allocator"), gateway: make("gateway"), cli: make("cli") },
    tenants: Object.fromEntries(tenants.map((t) => [t, make(t)])),
  };
  return {
    ids,
    seedFile: (who) => {
      const f = files.get(who);
      if (!f) throw new Error(`no identity ${who}`);
      return f;
    },
    authorization: () => renderNatsAuthorization(ids),
  };
}
