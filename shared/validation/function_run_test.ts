import assert from "node:assert/strict";
import { functionEntries, functionProbeNotRun, runFunctionChecks } from "./function_run.ts";

Deno.test("only a folder's index file is a function to start; shared modules are not", () => {
  const files = ["notes/index.ts", "_shared/cors.ts", "notes/handler.ts", "todos/index.js"]
    .map((name) => ({ name, source: "" }));
  assert.deepEqual(functionEntries(files), ["notes/index.ts", "todos/index.js"]);
});

Deno.test("without a shadow server the functions are reported as not started", async () => {
  const found = await runFunctionChecks([{ name: "notes/index.ts", source: "" }]);
  assert.deepEqual(found.map((f) => [f.rule, f.level, f.file]), [
    ["function_probe_not_run", "info", "notes/index.ts"],
  ]);
  assert.match(functionProbeNotRun(["a/index.ts"], "why").message, /were not started: why/);
});

Deno.test("a submission without an index file starts nothing", async () => {
  assert.deepEqual(await runFunctionChecks([{ name: "_shared/db.ts", source: "" }]), []);
});
