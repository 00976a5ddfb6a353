import assert from "node:assert/strict";
import { platformFiles } from "./mod.ts";

Deno.test("platform files apply in name order, each the text of its .sql file beside the module", async () => {
  const dir = new URL("./", import.meta.url);
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".sql")) names.push(e.name);
  }
  names.sort();
  const files = platformFiles();
  assert.deepEqual(files.map((f) => f.name), names);
  for (const f of files) assert.equal(f.sql, await Deno.readTextFile(new URL(f.name, dir)));
});
