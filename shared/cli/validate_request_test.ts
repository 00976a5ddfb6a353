import assert from "node:assert/strict";
import { UsageError } from "./args.ts";
import { validateRequestFor } from "./validate_request.ts";

Deno.test("each migration is sent in the order given, with its .down.sql as the rollback", () => {
  assert.deepEqual(
    validateRequestFor([
      { path: "./m/002_tags.sql", content: "up2" },
      { path: "m/001_notes.up.sql", content: "up1" },
      { path: "m/001_notes.down.sql", content: "down1" },
    ], "postgres"),
    {
      files: [
        { name: "m/002_tags.sql", sql: "up2" },
        { name: "m/001_notes.up.sql", sql: "up1", down: "down1" },
      ],
      shadow: "postgres",
    },
  );
});

Deno.test("edge function sources are type-checked under their name below functions/", () => {
  const request = validateRequestFor([
    { path: "001.sql", content: "create table t ();" },
    { path: "supabase/functions/hello/index.ts", content: "export {};" },
  ]);
  assert.deepEqual(request.functions, [{ name: "hello/index.ts", source: "export {};" }]);
});

Deno.test("absolute paths are named by their file name", () => {
  const request = validateRequestFor([{ path: "/tmp/x/001_init.sql", content: "" }]);
  assert.equal(request.files[0].name, "001_init.sql");
});

Deno.test("a rollback without its migration, no migration at all, or another kind of file is a usage error", () => {
  assert.throws(
    () => validateRequestFor([{ path: "a.sql", content: "" }, { path: "b.down.sql", content: "" }]),
    /b\.down\.sql has no migration/,
  );
  assert.throws(() => validateRequestFor([{ path: "f/index.ts", content: "" }]), UsageError);
  assert.throws(() => validateRequestFor([{ path: "notes.txt", content: "" }]), /neither SQL/);
});
