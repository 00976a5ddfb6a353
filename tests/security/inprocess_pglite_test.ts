/**
 * Where PGlite can only run inside the function (no subprocesses, as on Supabase's Edge Runtime),
 * nothing can stop a runaway statement or cap its memory. `/validate` then proves on the
 * PostgreSQL shadow when one is configured, and refuses an explicit request for PGlite, rather
 * than run untrusted SQL without bounds.
 */
import assert from "node:assert/strict";
import { LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import type { ShadowBackend, ShadowDatabase } from "../../shared/shadow/mod.ts";
import { createPostgresShadow } from "../../shared/shadow/mod.ts";
import { createValidateApp, ValidationReport } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

async function post(app: ReturnType<typeof createValidateApp>, body: unknown) {
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  return await app.fetch(
    new Request("http://localhost/validate", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

Deno.test("without subprocesses, /validate proves on the PostgreSQL shadow and refuses in-process PGlite", async () => {
  const asked: ShadowBackend[] = [];
  const postgres = await createPostgresShadow({ adminUrl: await shadowAdminUrl(), spare: false });
  try {
    const app = createValidateApp({
      jwtSecret: LOCAL_JWT_SECRET,
      postgresAvailable: true,
      pgliteBounded: false,
      shadow: (backend): Promise<ShadowDatabase> => {
        asked.push(backend);
        if (backend !== "postgres") throw new Error("in-process PGlite must not be used");
        return Promise.resolve(postgres);
      },
    });
    const files = [{ name: "001_notes.sql", sql: "select 1" }];

    const implicit = await post(app, { files });
    assert.equal(implicit.status, 200);
    assert.equal(ValidationReport.parse(await implicit.json()).ok, true);
    assert.deepEqual(asked, ["postgres"], "the request naming no shadow ran on PostgreSQL");

    const explicit = await post(app, { files, shadow: "pglite" });
    assert.equal(explicit.status, 400);
    const body = await explicit.json();
    assert.equal(body.error.code, "validation_failed");
    assert.match(JSON.stringify(body), /cannot be stopped/);
    assert.deepEqual(asked, ["postgres"], "no PGlite was started");
  } finally {
    await postgres.close();
  }
});
