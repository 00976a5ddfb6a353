import assert from "node:assert/strict";
import { join } from "node:path";
import { FUNCTION_TEST_FOLDER, generateFunctionTests } from "./function_tests.ts";
import type { DeliveredFunction } from "../runs/mod.ts";

const fn = (name: string, verify_jwt = true): DeliveredFunction => ({
  name,
  description: null,
  entrypoint: `supabase/functions/${name}/index.ts`,
  files: [`supabase/functions/${name}/index.ts`],
  verify_jwt,
  env_vars: [],
  task_key: "T1",
});

Deno.test("each served function gets a Deno test file beside a shared env helper; _shared gets none", () => {
  const files = generateFunctionTests([fn("notes"), fn("_shared"), fn("webhook", false)], [
    {
      method: "GET",
      path: "/functions/v1/notes",
      kind: "edge_function",
      errors: [{ status: 401 }],
    },
  ]);
  assert.deepEqual(files.map((f) => f.path), [
    `${FUNCTION_TEST_FOLDER}/_env.ts`,
    `${FUNCTION_TEST_FOLDER}/notes_test.ts`,
    `${FUNCTION_TEST_FOLDER}/webhook_test.ts`,
  ]);
  const notes = files[1].content;
  assert.match(notes, /const METHOD = "GET";/);
  assert.match(notes, /refuses a call without a user token with 401/);
  assert.match(notes, /another user without the owner's rows/);
  assert.ok(!notes.includes("not JSON with a 4xx"), "a GET takes no body");
  assert.match(notes, /Statuses the API docs declare: 401/);
  const webhook = files[2].content;
  assert.match(webhook, /const METHOD = "POST";/);
  assert.ok(!webhook.includes("without a user token with 401"), "verify_jwt = false");
  assert.match(webhook, /answers a body that is not JSON with a 4xx JSON error/);
  assert.deepEqual(generateFunctionTests([fn("_shared")]), []);
  assert.deepEqual(generateFunctionTests([{ ...fn("../etc"), name: "../etc" }]), []);
});

Deno.test("the generated function tests type-check as a user's project would run them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt_fn_tests_" });
  try {
    const files = generateFunctionTests([fn("notes"), fn("hook", false)]);
    for (const f of files) {
      await Deno.mkdir(join(dir, f.path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, f.path), f.content);
    }
    await Deno.writeTextFile(join(dir, "deno.json"), "{}");
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", ...files.map((f) => f.path)],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
