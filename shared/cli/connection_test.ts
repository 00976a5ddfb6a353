import assert from "node:assert/strict";
import { apiKeys, LOCAL_JWT_SECRET } from "../auth/mod.ts";
import { isAppError } from "../errors/mod.ts";
import { DEFAULT_SUPABASE_URL, resolveConnection, resolveProject } from "./connection.ts";

Deno.test("without settings the CLI talks to the local stack with its anon key", async () => {
  const project = await resolveProject({});
  assert.equal(project.url, DEFAULT_SUPABASE_URL);
  assert.equal(project.anonKey, (await apiKeys(LOCAL_JWT_SECRET)).anon);
});

Deno.test("SUPABASE_URL and SUPABASE_ANON_KEY point it at another project", async () => {
  const project = await resolveProject({
    SUPABASE_URL: "https://abc.supabase.co/",
    SUPABASE_ANON_KEY: "anon",
  });
  assert.deepEqual(project, { url: "https://abc.supabase.co", anonKey: "anon" });
  const other = "another-secret-with-at-least-32-characters!!";
  assert.equal((await resolveProject({ JWT_SECRET: other })).anonKey, (await apiKeys(other)).anon);
});

Deno.test("--token wins over BT_ACCESS_TOKEN, and no token at all says what to set", async () => {
  assert.equal(
    (await resolveConnection({ token: "flag" }, { BT_ACCESS_TOKEN: "env" })).token,
    "flag",
  );
  assert.equal((await resolveConnection({}, { BT_ACCESS_TOKEN: "env" })).token, "env");
  await assert.rejects(
    resolveConnection({}, {}),
    (e) => isAppError(e, "unauthorized") && /BT_ACCESS_TOKEN/.test(e.message),
  );
});
