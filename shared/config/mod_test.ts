import assert from "node:assert/strict";
import { z } from "zod";
import { FunctionEnv, loadConfig } from "./mod.ts";
import { isAppError } from "../errors/mod.ts";

Deno.test("a missing variable stops start-up with an error naming it", () => {
  try {
    loadConfig(FunctionEnv, { SUPABASE_URL: "http://127.0.0.1:54321", SUPABASE_ANON_KEY: "a" });
    assert.fail("expected a configuration error");
  } catch (e) {
    assert.ok(isAppError(e, "config_missing"));
    assert.match(e.message, /SUPABASE_SERVICE_ROLE_KEY is not set/);
    assert.match(e.message, /SUPABASE_DB_URL is not set/);
  }
});

Deno.test("a malformed variable is named with what is wrong with it", () => {
  assert.throws(
    () => loadConfig(z.object({ PORT: z.coerce.number().int() }), { PORT: "eighty" }),
    /PORT: /,
  );
});
