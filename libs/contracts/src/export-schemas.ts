import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CloudEventEnvelope, EVENT_TYPES } from "./events.js";

// Writes the JSON Schemas users and auditors validate against: one file per event type.
const outDir = resolve(process.argv[2] ?? "docs/schemas");
mkdirSync(outDir, { recursive: true });
const all = { "io.sharedlb.cloudevent": CloudEventEnvelope, ...EVENT_TYPES };
for (const [type, schema] of Object.entries(all)) {
  const doc = { $schema: "https://json-schema.org/draft/2020-12/schema", ...schema, $id: type };
  writeFileSync(join(outDir, `${type}.schema.json`), `${JSON.stringify(doc, null, 2)}\n`);
}
process.stdout.write(`wrote ${Object.keys(all).length} schemas to ${outDir}\n`);
