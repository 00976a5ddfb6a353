/**
 * Hostile SQL is contained on both shadow backends: statements that reach for the server are
 * refused before they run, dynamic SQL that hides them from the parser is refused by the
 * backend itself (an unprivileged role on PostgreSQL, a WASM sandbox on PGlite), and runaway
 * statements are stopped at the shadow's timeout — each ends in a finding, promptly. Meanwhile a
 * product database on the same server keeps its data, and nothing appears on the host's disk.
 */
import assert from "node:assert/strict";
import {
  createPgliteShadow,
  createPostgresShadow,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { type RuleName, validateMigrations } from "../../shared/validation/mod.ts";
import type { Sql } from "../../shared/db/mod.ts";
import { freshDatabase, shadowAdminUrl } from "../_support/db.ts";

const TIMEOUT_MS = 1500;
const PWNED = `/tmp/bt_shadow_pwned_${crypto.randomUUID().slice(0, 8)}`;

interface Hostile {
  name: string;
  sql: (productDb: string) => string;
  /** Any of these rules ends it (backends may stop the same attack differently). */
  rules: RuleName[];
}

const HOSTILE: Hostile[] = [
  {
    name: "COPY … PROGRAM",
    sql: () => `copy (select 1) to program 'touch ${PWNED}'`,
    rules: ["unsafe_statement"],
  },
  {
    name: "ALTER SYSTEM",
    sql: () => "alter system set max_connections = 5",
    rules: ["unsafe_statement"],
  },
  {
    name: "CREATE EXTENSION dblink",
    sql: () => "create extension dblink",
    rules: ["unsafe_statement"],
  },
  {
    name: "DROP DATABASE of the product database",
    sql: (db) => `drop database ${db}`,
    rules: ["unsafe_statement"],
  },
  { name: "pg_sleep(1e6)", sql: () => "select pg_sleep(1e6)", rules: ["statement_timeout"] },
  {
    name: "a huge generate_series",
    sql: () => "select count(*) from generate_series(1, 1000000000000::bigint)",
    // PostgreSQL stops it at the role's temp_file_limit before the timeout.
    rules: ["statement_timeout", "apply_error"],
  },
  {
    name: "a huge insert",
    sql: () =>
      "create table public.junk (n bigint primary key);\n" +
      "insert into public.junk select generate_series(1, 1000000000000::bigint)",
    rules: ["statement_timeout"],
  },
  {
    name: "statement_timeout switched off, then pg_sleep",
    sql: () => "set statement_timeout = 0;\nselect pg_sleep(1e6)",
    rules: ["statement_timeout"],
  },
  {
    name: "COPY … PROGRAM hidden in dynamic SQL",
    sql: () => `do $$ begin execute 'copy (select 1) to program ''touch ${PWNED}'''; end $$`,
    rules: ["apply_error", "statement_timeout"],
  },
  {
    name: "reset role to the session user, then COPY … PROGRAM, in dynamic SQL",
    sql: () =>
      `do $$ begin execute 'reset role'; ` +
      `execute 'copy (select 1) to program ''touch ${PWNED}'''; end $$`,
    // PostgreSQL: the session user is the unprivileged role. PGlite: its own superuser is
    // reached, inside the WASM sandbox (no program can run); the role switch stops validation.
    rules: ["apply_error", "statement_timeout", "unsafe_statement"],
  },
  {
    name: "DROP DATABASE hidden in dynamic SQL",
    sql: (db) => `do $$ begin execute 'drop database ${db}'; end $$`,
    rules: ["apply_error"],
  },
  {
    name: "reading a server file with pg_read_file",
    sql: () => "select pg_read_file('/etc/passwd')",
    rules: ["unsafe_statement"],
  },
];

// What ALTER SYSTEM would change: the server's configuration files.
async function serverSettings(sql: Sql): Promise<unknown[]> {
  return [
    ...await sql`
    select sourcefile, name, setting from pg_file_settings order by sourcefile, seqno`,
  ];
}

async function withShadows(fn: (shadow: ShadowDatabase) => Promise<void>): Promise<void> {
  for (
    const make of [
      () => createPgliteShadow({ statementTimeoutMs: TIMEOUT_MS, poolSize: 1 }),
      async () =>
        createPostgresShadow({ adminUrl: await shadowAdminUrl(), statementTimeoutMs: TIMEOUT_MS }),
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

Deno.test("hostile SQL ends in a finding within the timeout on both backends and the product database is untouched", async (t) => {
  await using product = await freshDatabase({ template: false });
  await product.sql.unsafe(
    "create table public.marker (id int primary key, note text); " +
      "insert into public.marker values (1, 'keep me')",
  );
  const settingsBefore = await serverSettings(product.sql);
  await withShadows(async (shadow) => {
    for (const h of HOSTILE) {
      await t.step(`${shadow.backend}: ${h.name}`, async () => {
        const started = performance.now();
        const report = await validateMigrations({
          files: [{ name: "hostile.sql", sql: h.sql(product.name) }],
          shadow,
        });
        const elapsed = performance.now() - started;
        const rules = report.findings.map((f) => f.rule);
        assert.equal(report.ok, false, `${h.name}: ${JSON.stringify(report.findings)}`);
        assert.ok(
          h.rules.some((r) => rules.includes(r)),
          `${h.name} on ${shadow.backend}: expected one of ${h.rules}, got ${rules}`,
        );
        // The timeout, the watchdog's grace and a fresh PGlite process, at most.
        assert.ok(elapsed < TIMEOUT_MS + 15_000, `${h.name} took ${elapsed} ms`);
      });
    }
  });

  const rows = await product.sql`select id, note from public.marker`;
  assert.deepEqual([...rows], [{ id: 1, note: "keep me" }]);
  assert.deepEqual(await serverSettings(product.sql), settingsBefore, "server settings changed");
  await assert.rejects(Deno.stat(PWNED), Deno.errors.NotFound, "a program ran on the host");
});

Deno.test("after a timeout the shadow still serves the next validation", async () => {
  await withShadows(async (shadow) => {
    const stopped = await validateMigrations({
      files: [{ name: "slow.sql", sql: "select pg_sleep(1e6)" }],
      shadow,
    });
    assert.ok(stopped.findings.some((f) => f.rule === "statement_timeout"));
    const next = await validateMigrations({
      files: [{ name: "ok.sql", sql: "select 1" }],
      shadow,
    });
    assert.deepEqual(next.findings, []);
    assert.equal(next.ok, true);
  });
});
