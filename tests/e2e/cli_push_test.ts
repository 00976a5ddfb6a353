/**
 * The real Supabase CLI (pinned) against real databases: a deliverable pushed with `supabase db
 * push` to a fresh database holding only what a Supabase project has, and `supabase migration
 * list` agreeing; the product's migrations recorded as the CLI records them; concurrent pushes;
 * a failing migration named by file and line; and `supabase db lint` agreeing with the
 * validator's `plpgsql_check` rule, which runs the CLI's query through a session instead.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { assembleDeliverable } from "../../shared/delivery/mod.ts";
import { tradeJournalRun } from "../../shared/delivery/testdata/trade_journal.ts";
import { readMigrationDir } from "../../shared/migrations/mod.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { ShadowSqlError } from "../../shared/shadow/mod.ts";
import { splitStatements } from "../../shared/sql/split.ts";
import {
  type LintResult,
  parseLintOutput,
  runPlpgsqlCheck,
} from "../../shared/validation/plpgsql_check.ts";
import {
  dbLint,
  dbPush,
  migrationList,
  pushProductMigrations,
  SUPABASE_CLI_VERSION,
  SupabaseCliError,
  supabaseCliVersion,
  supabaseInit,
} from "../../supabase/local/supabase_cli.ts";
import { freshDatabase, MIGRATIONS_DIR, type TestDatabase } from "../_support/db.ts";

const FIXTURES = new URL("../fixtures/validate/", import.meta.url);

/** A fresh database with only the platform SQL: what a new Supabase project has. */
async function supabaseLikeDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase({ template: false });
  await applyPlatformSql(db.sql);
  return db;
}

async function writeFiles(dir: string, files: { path: string; content: string }[]) {
  for (const f of files) {
    await Deno.mkdir(join(dir, dirname(f.path)), { recursive: true });
    await Deno.writeTextFile(join(dir, f.path), f.content);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("the pinned Supabase CLI is installed and runs without the network", async () => {
  assert.equal(await supabaseCliVersion(), SUPABASE_CLI_VERSION);
});

Deno.test("a deliverable pushed with supabase db push is applied, and migration list agrees", async () => {
  const { files } = await assembleDeliverable(tradeJournalRun());
  const migrations = files.filter((f) => /^supabase\/migrations\/[^/]+\.sql$/.test(f.path))
    .map((f) => f.path.split("/").at(-1)!);
  assert.equal(migrations.length, 4);
  const workdir = await Deno.makeTempDir({ prefix: "bt_deliverable_" });
  await using db = await supabaseLikeDatabase();
  try {
    // The project as the user unpacks it, then `supabase init` unless it ships a config.
    await writeFiles(workdir, files);
    if (!await exists(join(workdir, "supabase/config.toml"))) await supabaseInit({ workdir });
    assert.ok(await exists(join(workdir, "supabase/config.toml")));

    const push = await dbPush(db.url, { workdir });
    assert.deepEqual(push.applied, migrations);

    const list = await migrationList(db.url, { workdir });
    assert.deepEqual(
      list.map((r) => [r.local, r.remote]),
      migrations.map((m) => [m.split("_")[0], m.split("_")[0]]),
      "every migration is both local and remote",
    );
    const recorded = await db.sql<{ version: string; name: string }[]>`
      select version, name from supabase_migrations.schema_migrations order by version`;
    assert.deepEqual(
      recorded.map((r) => `${r.version}_${r.name}.sql`),
      migrations,
    );
    const tables = await db.sql<{ relname: string; rls: boolean }[]>`
      select relname, relrowsecurity as rls from pg_class
      where relnamespace = 'public'::regnamespace and relkind = 'r' order by relname`;
    assert.deepEqual(tables.map((t) => [t.relname, t.rls]), [
      ["positions", true],
      ["profiles", true],
      ["tags", true],
      ["trade_tags", true],
      ["trades", true],
    ]);

    const again = await dbPush(db.url, { workdir });
    assert.deepEqual(again.applied, [], "a second push finds the database up to date");
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

Deno.test("the product's migrations are recorded by the CLI as the product's runner recorded them", async () => {
  await using db = await supabaseLikeDatabase();
  const push = await pushProductMigrations(db.url);
  const files = await readMigrationDir(MIGRATIONS_DIR);
  assert.deepEqual(push.applied, files.map((f) => f.fileName));
  const rows = await db.sql<{ version: string; name: string; statements: string[] }[]>`
    select version, name, statements from supabase_migrations.schema_migrations order by version`;
  assert.deepEqual(rows.map((r) => [r.version, r.name]), files.map((f) => [f.version, f.name]));
  // Statement for statement the same split; the CLI keeps each statement's leading comments.
  const withoutLeadingComments = (s: string) => s.replace(/^(\s*--[^\n]*\n)+\s*/, "");
  for (const [i, file] of files.entries()) {
    assert.deepEqual(
      rows[i].statements.map(withoutLeadingComments),
      splitStatements(file.sql).map((s) => s.text),
      file.fileName,
    );
  }
});

Deno.test("two stacks starting at once push each migration once", async () => {
  await using db = await supabaseLikeDatabase();
  const pushes = await Promise.all([pushProductMigrations(db.url), pushProductMigrations(db.url)]);
  const files = (await readMigrationDir(MIGRATIONS_DIR)).map((f) => f.fileName);
  assert.deepEqual(
    pushes.map((p) => p.applied).sort((a, b) => a.length - b.length),
    [[], files],
  );
  const [{ n }] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from supabase_migrations.schema_migrations`;
  assert.equal(n, files.length);
});

Deno.test("a failing migration is named by file and line, and nothing of that file stays", async () => {
  const workdir = await Deno.makeTempDir({ prefix: "bt_failing_" });
  await using db = await supabaseLikeDatabase();
  try {
    await writeFiles(workdir, [{
      path: "supabase/migrations/20250101000000_notes.sql",
      content: "create table public.notes (id bigint primary key, body text);\n",
    }, {
      path: "supabase/migrations/20250101000100_note_titles.sql",
      content: "-- Tags, and a view naming a column notes lack.\n" +
        "create table public.tags (id bigint primary key);\n\n" +
        "create view public.note_titles as\nselect\n  n.id,\n  n.title\nfrom public.notes n;\n",
    }]);
    await assert.rejects(
      () => dbPush(db.url, { workdir }),
      (e) => {
        assert.ok(e instanceof SupabaseCliError, String(e));
        assert.equal(e.code, "migration_failed");
        assert.equal(e.message, "20250101000100_note_titles.sql:7: column n.title does not exist");
        assert.equal((e.details as { sqlstate: string }).sqlstate, "42703");
        return true;
      },
    );
    const versions = await db.sql<{ version: string }[]>`
      select version from supabase_migrations.schema_migrations`;
    assert.deepEqual(versions.map((v) => v.version), ["20250101000000"]);
    const [{ tags }] = await db.sql<{ tags: string | null }[]>`
      select to_regclass('public.tags')::text as tags`;
    assert.equal(tags, null, "the failed file was rolled back as a whole");
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

/** A database with plpgsql_check where `supabase db lint` finds it (on the search_path). */
async function lintableDatabase(sqlFiles: string[]): Promise<TestDatabase> {
  const db = await freshDatabase({ template: false });
  // As on Supabase, where `extensions` is on the roles' search_path.
  await db.sql.unsafe(`alter database ${db.name} set search_path = "$user", public, extensions`);
  await applyPlatformSql(db.sql);
  await db.sql.unsafe("create extension if not exists plpgsql_check with schema extensions")
    .catch((e) => {
      throw new Error(
        `plpgsql_check is not installed on the test server: run \`bash supabase/local/bootstrap.sh\` ` +
          `(Debian's postgresql-15-plpgsql-check): ${e.message}`,
      );
    });
  for (const path of sqlFiles) {
    await db.sql.unsafe(await Deno.readTextFile(new URL(path, FIXTURES)));
  }
  return db;
}

const byFunction = (results: LintResult[]) =>
  [...results].sort((a, b) => a.function.localeCompare(b.function));

// The session the validator would use, here on a superuser pool (the shadow's role differs, the
// query does not); Postgres' refusals become ShadowSqlErrors, as a shadow session's do.
const sessionOf = (db: TestDatabase) => ({
  query: async <T>(sql: string, params: unknown[] = []) => {
    try {
      return [...await db.sql.unsafe(sql, params as never[])] as unknown as T[];
    } catch (e) {
      const pg = e as { message: string; code?: string };
      throw new ShadowSqlError({ message: pg.message, code: pg.code });
    }
  },
});

Deno.test("supabase db lint and the plpgsql_check rule's query report the same issues", async () => {
  await using db = await lintableDatabase([
    "corpus/_baseline/notes.sql",
    "corpus/plpgsql_body_missing_column.sql",
  ]);
  const workdir = await Deno.makeTempDir({ prefix: "bt_lint_" });
  try {
    const cli = parseLintOutput(await dbLint(db.url, { workdir, level: "warning" }));
    const recorded = parseLintOutput(
      await Deno.readTextFile(new URL("plpgsql_check/plpgsql_body_missing_column.json", FIXTURES)),
    );
    assert.deepEqual(byFunction(cli), byFunction(recorded), "the recorded output is still true");
    const run = await runPlpgsqlCheck(sessionOf(db));
    assert.ok(run.available);
    assert.deepEqual(byFunction(run.results), byFunction(cli));
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

Deno.test("a clean PL/pgSQL function: neither the CLI nor the rule's query report anything", async () => {
  await using db = await lintableDatabase([
    "corpus/_baseline/notes.sql",
    "corpus/clean_plpgsql_function.sql",
  ]);
  const workdir = await Deno.makeTempDir({ prefix: "bt_lint_" });
  try {
    assert.equal((await dbLint(db.url, { workdir })).trim(), "");
    assert.deepEqual(await runPlpgsqlCheck(sessionOf(db)), { available: true, results: [] });
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
});

Deno.test("a look-alike check function planted by the SQL makes the rule 'not run', never 'clean'", async () => {
  await using db = await lintableDatabase([
    "corpus/_baseline/notes.sql",
    "corpus/plpgsql_body_missing_column.sql",
  ]);
  const honest = await runPlpgsqlCheck(sessionOf(db));
  for (const args of ["funcoid oid, format text", "funcoid regprocedure, format text"]) {
    await db.sql.unsafe(
      `create function extensions.plpgsql_check_function(${args}) returns setof text
       language sql as $$ select '{"issues":[]}' $$`,
    );
    const run = await runPlpgsqlCheck(sessionOf(db));
    assert.ok(!run.available || run.results.length > 0, `${args}: ${JSON.stringify(run)}`);
    if (run.available) assert.deepEqual(run, honest);
  }
});
