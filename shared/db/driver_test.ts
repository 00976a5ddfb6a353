import assert from "node:assert/strict";

const VENDORED = new URL("./_postgres_js/", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

Deno.test("the patched driver is the postgres.js release deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(CONFIG)) as { imports: Record<string, string> };
  const pin = /^npm:postgres@(\d+\.\d+\.\d+)$/.exec(config.imports.postgres ?? "");
  assert.ok(pin, `deno.json pins postgres as ${config.imports.postgres}`);
  const files: string[] = [];
  for await (const entry of Deno.readDir(VENDORED)) {
    if (entry.name.endsWith(".js")) files.push(entry.name);
  }
  assert.ok(files.includes("index.js"), "shared/db/_postgres_js holds no driver");
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, VENDORED));
    assert.ok(
      text.includes(`postgres.js ${pin[1]} src/${file},`),
      `shared/db/_postgres_js/${file} is not postgres.js ${pin[1]}: re-apply the patches in ` +
        "shared/db/_postgres_js/README.md to that release, or drop them if it fixes the bugs",
    );
  }
});
