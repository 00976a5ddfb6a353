import assert from "node:assert/strict";
import { join } from "node:path";
import { safeRelativePath, writeDeliverableFolder } from "./deliverable_writer.ts";

Deno.test("the deliverable is written as a project tree under the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const report = await writeDeliverableFolder(join(dir, "out"), [
      { path: "README.md", content: "# Trade journal\n" },
      { path: "supabase/migrations/20261125000100_create.sql", content: "create table t ();\n" },
      { path: "./supabase/functions/api/index.ts", content: "Deno.serve(() => new Response());\n" },
    ]);
    assert.deepEqual(report.written, [
      "README.md",
      "supabase/migrations/20261125000100_create.sql",
      "supabase/functions/api/index.ts",
    ]);
    assert.equal(
      await Deno.readTextFile(join(dir, "out/supabase/migrations/20261125000100_create.sql")),
      "create table t ();\n",
    );
    assert.equal(await Deno.readTextFile(join(dir, "out/README.md")), "# Trade journal\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a path that would leave the folder stops the write before any file is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      writeDeliverableFolder(join(dir, "out"), [
        { path: "README.md", content: "x" },
        { path: "supabase/../../escape.sql", content: "x" },
      ]),
      /leaves the folder/,
    );
    assert.equal(await exists(join(dir, "out/README.md")), false);
    assert.equal(await exists(join(dir, "escape.sql")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("absolute, drive-letter, backslash and empty paths are refused", () => {
  for (const path of ["/etc/passwd", "C:/x.sql", "a\\b.sql", "", "./", "a/\0b"]) {
    assert.throws(() => safeRelativePath(path), /refusing to write/, path);
  }
  assert.equal(safeRelativePath("docs//api.md"), "docs/api.md");
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
