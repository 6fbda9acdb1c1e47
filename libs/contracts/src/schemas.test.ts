import { readdirSync, readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { schemaDocuments } from "./export-schemas.js";

const dir = new URL("../../../docs/schemas/", import.meta.url);

it("publishes in docs/schemas exactly the schemas the code validates with", () => {
  const docs = schemaDocuments();
  expect(readdirSync(dir).sort()).toEqual([...docs.keys()].sort());
  for (const [file, text] of docs) {
    expect(readFileSync(new URL(file, dir), "utf8"), `${file} is stale: run pnpm --filter @sharedlb/contracts schemas`).toBe(text);
  }
});
