import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CloudEventEnvelope, EVENT_TYPES } from "./events.js";

/** The JSON Schema documents users and auditors validate against, one per event type. */
export function schemaDocuments(): Map<string, string> {
  const all = { "io.sharedlb.cloudevent": CloudEventEnvelope, ...EVENT_TYPES };
  const out = new Map<string, string>();
  for (const [type, schema] of Object.entries(all)) {
    const doc = { $schema: "https://json-schema.org/draft/2020-12/schema", ...schema, $id: type };
    out.set(`${type}.schema.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}

// `node dist/export-schemas.js <dir>` writes them (docs/schemas in this repository).
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) {
  const outDir = resolve(process.argv[2] ?? "docs/schemas");
  mkdirSync(outDir, { recursive: true });
  const docs = schemaDocuments();
  for (const [file, text] of docs) writeFileSync(join(outDir, file), text);
  process.stdout.write(`wrote ${docs.size} schemas to ${outDir}\n`);
}
