/**
 * The two shadow backends keep their promises: every session is a fresh database holding only the
 * platform SQL, untrusted SQL runs as `bt_shadow_owner` (no superuser), the Supabase pieces the
 * checks rely on are there (claims-driven `auth.uid()`, realtime, pgmq, pgcrypto), PostgreSQL
 * shadow databases are dropped after use, and PGlite loads extension code when asked.
 */
import assert from "node:assert/strict";
import { connect } from "../../shared/db/mod.ts";
import {
  createPgliteShadow,
  createPostgresShadow,
  SHADOW_OWNER,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { validateMigrations } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

async function eachBackend(fn: (shadow: ShadowDatabase) => Promise<void>): Promise<void> {
  for (
    const make of [
      () => createPgliteShadow({ poolSize: 1 }),
      async () => createPostgresShadow({ adminUrl: await shadowAdminUrl() }),
    ]
  ) {
    const shadow = await make();
    try {
      await fn(shadow);
    } finally {
      await shadow.close();
    }
  }
}

Deno.test("each session starts from the platform schema, whatever the previous one did", async () => {
  await eachBackend(async (shadow) => {
    const first = await shadow.open();
    await first.exec(
      "create table public.leftover (id int); insert into public.leftover values (1)",
    );
    await first.close();
    await using second = await shadow.open();
    const [row] = await second.query<{ found: string | null }>(
      "select to_regclass('public.leftover')::text as found",
    );
    assert.equal(row.found, null, shadow.backend);
  });
});

Deno.test("untrusted SQL runs as bt_shadow_owner, which is not a superuser", async () => {
  await eachBackend(async (shadow) => {
    await using session = await shadow.open();
    const [row] = await session.query<{ who: string; superuser: boolean; createrole: boolean }>(
      `select current_user as who, rolsuper as superuser, rolcreaterole as createrole
       from pg_roles where rolname = current_user`,
    );
    assert.deepEqual(row, { who: SHADOW_OWNER, superuser: false, createrole: false });
    if (shadow.backend === "postgres") {
      const [s] = await session.query<{ who: string; superuser: boolean }>(
        `select session_user as who, rolsuper as superuser
         from pg_roles where rolname = session_user`,
      );
      assert.match(
        s.who,
        /^bt_sv_\d+_[0-9a-f]+$/,
        "on PostgreSQL each validation logs in as its own role",
      );
      assert.equal(s.superuser, false);
    }
  });
});

Deno.test("the platform SQL is in place: auth.uid() follows the caller, realtime, pgmq, pgcrypto", async () => {
  await eachBackend(async (shadow) => {
    await using session = await shadow.open({ extensions: ["pgcrypto", "uuid-ossp"] });
    const uid = crypto.randomUUID();
    await session.exec("begin");
    const asUser = await session.queryAs(
      { role: "authenticated", claims: { sub: uid, role: "authenticated" } },
      "select auth.uid()::text as uid, current_user as who",
    );
    assert.deepEqual(asUser.rows, [{ uid, who: "authenticated" }]);
    const [back] = await session.query<{ who: string }>("select current_user as who");
    assert.equal(back.who, SHADOW_OWNER, "the role reverts after queryAs");
    await session.exec("rollback");
    const [present] = await session.query<Record<string, boolean>>(`
      select to_regprocedure('realtime.send(jsonb, text, text, boolean)') is not null as realtime,
             to_regnamespace('pgmq') is not null as pgmq,
             length(extensions.gen_random_bytes(8)) = 8 as pgcrypto,
             extensions.uuid_generate_v4() is not null as uuid_ossp`);
    assert.deepEqual(present, { realtime: true, pgmq: true, pgcrypto: true, uuid_ossp: true });
  });
});

Deno.test("a PostgreSQL shadow database is dropped after its session", async () => {
  const shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl(), spare: false });
  let name: string;
  try {
    const session = await shadow.open();
    [{ name }] = await session.query<{ name: string }>("select current_database() as name");
    assert.match(name, /^bt_shadow_\d+_[0-9a-f]+$/);
    await session.close();
  } finally {
    await shadow.close();
  }
  const admin = connect(await shadowAdminUrl(), { max: 1 });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    assert.equal(rows.length, 0);
    const role = name.replace(/^bt_shadow_/, "bt_sv_");
    const roles = await admin`select 1 from pg_roles where rolname = ${role}`;
    assert.equal(roles.length, 0, "the validation's login role is dropped with its database");
  } finally {
    await admin.end();
  }
});

Deno.test("PGlite loads an extension's code for a session that asks for it", async () => {
  const shadow = await createPgliteShadow({ poolSize: 1 });
  try {
    await using session = await shadow.open({ extensions: ["pg_trgm"] });
    await session.exec("create extension pg_trgm with schema extensions");
    const [row] = await session.query<{ sim: number }>(
      "select extensions.similarity('trade', 'trades') > 0.5 as sim",
    );
    assert.deepEqual(row, { sim: true });
  } finally {
    await shadow.close();
  }
});

Deno.test("PGlite in this process (for runtimes without subprocesses) validates like the pool", async () => {
  const shadow = await createPgliteShadow({ inProcess: true });
  try {
    const report = await validateMigrations({
      files: [{ name: "001.sql", sql: "create table public.t (id bigint primary key);" }],
      shadow,
    });
    assert.deepEqual(report.findings.map((f) => f.rule), ["rls_disabled_in_public"]);
  } finally {
    await shadow.close();
  }
});
