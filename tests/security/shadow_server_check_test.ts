/**
 * The shadow server is never the product's server: a different database name, host alias or user
 * on the same server is refused by `system_identifier`, and every function that reads
 * `SHADOW_DATABASE_URL` refuses to start with a clear configuration error.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { AppError } from "../../shared/errors/mod.ts";
import { checkShadowServer, createPostgresShadow } from "../../shared/shadow/mod.ts";
import { adminUrl, shadowAdminUrl, withDatabase } from "../_support/db.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function sameServerAlias(url: string): string {
  const u = new URL(url);
  u.hostname = "localhost"; // another name for 127.0.0.1
  return withDatabase(u.toString(), "template1");
}

Deno.test("a shadow URL naming the product's server under another name is refused", async () => {
  const product = await adminUrl();
  await assert.rejects(
    () =>
      checkShadowServer({
        SHADOW_DATABASE_URL: sameServerAlias(product),
        SUPABASE_DB_URL: product,
      }),
    (e: unknown) =>
      e instanceof AppError && e.code === "config_invalid" && /server of its own/.test(e.message),
  );
  await assert.rejects(
    () => createPostgresShadow({ adminUrl: sameServerAlias(product), productUrl: product }),
    (e: unknown) => e instanceof AppError && e.code === "config_invalid",
  );
});

Deno.test("a shadow server of its own is accepted", async () => {
  await checkShadowServer({
    SHADOW_DATABASE_URL: await shadowAdminUrl(),
    SUPABASE_DB_URL: await adminUrl(),
  });
});

for (const fn of ["validate", "agent-db-architect", "orchestrator-worker"]) {
  Deno.test(`the ${fn} function refuses to start when SHADOW_DATABASE_URL is the product's server`, async () => {
    const product = await adminUrl();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `functions/${fn}/index.ts`],
      cwd: ROOT,
      env: {
        SUPABASE_DB_URL: product,
        SHADOW_DATABASE_URL: sameServerAlias(product),
        SUPABASE_URL: "http://127.0.0.1:1",
        SUPABASE_ANON_KEY: "anon",
        SUPABASE_SERVICE_ROLE_KEY: "service",
        JWT_SECRET: "super-secret-jwt-token-with-at-least-32-characters-long",
        BT_WORKER_SECRET: "worker-secret-worker-secret-worker-secret",
        OPENAI_API_KEY: "sk-test",
        OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
        OPENAI_MODEL: "scripted",
        PORT: "0",
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, `exit code (stderr: ${stderr.slice(-500)})`);
    assert.match(stderr, /SHADOW_DATABASE_URL reaches the product's database server/);
  });
}
