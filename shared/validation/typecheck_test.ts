import assert from "node:assert/strict";
import { parseDiagnostics } from "./typecheck.ts";

Deno.test("deno check diagnostics become findings in the submitted file and line", () => {
  const output = `TS2322 [ERROR]: Type 'number' is not assignable to type 'string'.
  const length: string = body.title.length;
        ~~~~~~
    at file:///tmp/bt_typecheck_x/notes/index.ts:7:9

TS2304 [ERROR]: Cannot find name 'nope'.
nope();
~~~~
    at file:///tmp/bt_typecheck_x/notes/index.ts:9:1

error: Type checking failed.`;
  const source = "1\n2\n3\n4\n5\n6\n  const length: string = body.title.length;\n8\nnope();";
  const found = parseDiagnostics(output, "/tmp/bt_typecheck_x", [
    { name: "notes/index.ts", source },
  ]);
  assert.deepEqual(found.map((f) => [f.rule, f.file, f.line, f.statement]), [
    ["typecheck_error", "notes/index.ts", 7, "const length: string = body.title.length;"],
    ["typecheck_error", "notes/index.ts", 9, "nope();"],
  ]);
  assert.match(found[0].message, /^TS2322: Type 'number' is not assignable/);
});
