/**
 * Integration validation of the merged deliverable on a shadow database: the project's existing
 * schema, then every delivered migration from scratch in order (each in its own transaction, as
 * `supabase db push` applies them); then pgTAP tests generated from the resulting catalog, run
 * there; then the down migrations newest first, checked to restore the starting schema exactly.
 * The deliverable passes when every migration applies and every test passes; the rollback check is
 * reported as evidence alongside.
 *
 * @example
 * ```ts
 * const { report, tests } = await validateIntegration(shadow, { migrations });
 * if (!report.ok) console.log(report.tests.flatMap((t) => t.failures));
 * ```
 */
import type { IntegrationReport } from "../runs/mod.ts";
import { splitStatements } from "../sql/split.ts";
import { readCatalog, schemaSnapshot, tableIds } from "./catalog.ts";
import { findFixtures } from "./fixture_search.ts";
import { fixtureInsertSql, tableKey } from "./fixtures.ts";
import { type GeneratedTest, generatePgtapTests } from "./pgtap.ts";
import { type DeliveryShadow, type ShadowSession, sqlErrorFacts } from "./shadow_port.ts";
import { parseTap } from "./tap.ts";

/** A migration to validate, in apply order. */
export interface MigrationToValidate {
  path: string;
  up: string;
  down: string | null;
}

/** What {@link validateIntegration} checks. */
export interface IntegrationInput {
  /** The project's schema the run built on (`runs.context.schema_sql`), applied first. */
  baseSql?: string | null;
  migrations: MigrationToValidate[];
}

/** The verdict and the pgTAP files it ran (which the deliverable ships). */
export interface IntegrationOutcome {
  report: IntegrationReport;
  tests: GeneratedTest[];
}

/** Validates the migrations together on a fresh shadow database; see the module doc. */
export async function validateIntegration(
  shadow: DeliveryShadow,
  input: IntegrationInput,
): Promise<IntegrationOutcome> {
  const started = performance.now();
  return await shadow.withDatabase(async (db) => {
    const report: IntegrationReport = {
      ok: false,
      backend: shadow.backend,
      duration_ms: 0,
      migrations: [],
      tests: [],
      fixtures: [],
      rollback: null,
    };
    const finish = (tests: GeneratedTest[]): IntegrationOutcome => {
      report.ok = report.migrations.every((m) => m.ok) && report.tests.every((t) => t.ok);
      report.duration_ms = Math.round(performance.now() - started);
      return { report, tests };
    };

    if (input.baseSql && input.baseSql.trim() !== "") {
      const error = await applyInTransaction(db, input.baseSql);
      if (error) {
        report.migrations.push({
          path: "(the project's existing schema)",
          ok: false,
          duration_ms: 0,
          error,
        });
        return finish([]);
      }
    }
    const existing = await tableIds(db);
    const before = await schemaSnapshot(db);

    let failed = false;
    for (const migration of input.migrations) {
      if (failed) {
        report.migrations.push({
          path: migration.path,
          ok: false,
          duration_ms: 0,
          error: "not applied: an earlier migration failed",
        });
        continue;
      }
      const t0 = performance.now();
      const error = await applyInTransaction(db, migration.up);
      report.migrations.push({
        path: migration.path,
        ok: error === null,
        duration_ms: Math.round(performance.now() - t0),
        error,
      });
      failed = error !== null;
    }
    if (failed) return finish([]);

    const catalog = await readCatalog(db, existing);
    const fixtures = await findFixtures(db, catalog);
    for (const table of catalog.tables.filter((t) => t.delivered)) {
      const row = fixtures.rows.get(tableKey(table));
      report.fixtures.push({
        table: tableKey(table),
        ok: row !== undefined,
        detail: row ? fixtureInsertSql(row) : fixtures.missing.get(tableKey(table)) ?? "",
      });
    }
    const tests = generatePgtapTests(catalog, fixtures);
    for (const test of tests) report.tests.push(await runTestFile(db, test));

    report.rollback = await checkRollback(db, input.migrations, before);
    return finish(tests);
  });
}

/** Applies SQL text in a transaction, statement by statement; the error (with its line) or null. */
async function applyInTransaction(db: ShadowSession, sql: string): Promise<string | null> {
  await db.exec("begin");
  for (const statement of splitStatements(sql)) {
    try {
      await db.exec(statement.text);
    } catch (e) {
      await db.exec("rollback");
      const facts = sqlErrorFacts(e);
      const within = facts.position === null
        ? 0
        : statement.text.slice(0, facts.position - 1).split("\n").length - 1;
      return `line ${statement.line + within}: ${facts.message}`;
    }
  }
  await db.exec("commit");
  return null;
}

/** Runs one pgTAP file and reads its TAP. */
async function runTestFile(db: ShadowSession, test: GeneratedTest) {
  try {
    const rows = await db.exec(test.content);
    const values = rows.flatMap((r) => Object.values(r)).filter((v): v is string =>
      typeof v === "string"
    );
    const tap = parseTap(values);
    return {
      path: test.path,
      ok: tap.ok,
      planned: tap.planned || test.planned,
      passed: tap.passed,
      failed: tap.failed,
      failures: tap.failures,
      error: null,
    };
  } catch (e) {
    await db.exec("rollback");
    return {
      path: test.path,
      ok: false,
      planned: test.planned,
      passed: 0,
      failed: test.planned,
      failures: [],
      error: sqlErrorFacts(e).message,
    };
  }
}

/** Applies the down migrations newest first and compares the schema with where it started. */
async function checkRollback(
  db: ShadowSession,
  migrations: MigrationToValidate[],
  before: string[],
) {
  const withoutDown = migrations.filter((m) => m.down === null || m.down.trim() === "");
  if (withoutDown.length > 0) {
    return {
      ok: false,
      detail: `not checked: no down migration for ${withoutDown.map((m) => m.path).join(", ")}`,
    };
  }
  for (const migration of [...migrations].reverse()) {
    const error = await applyInTransaction(db, migration.down!);
    if (error) {
      return { ok: false, detail: `the down migration of ${migration.path} failed: ${error}` };
    }
  }
  const after = await schemaSnapshot(db);
  const gone = before.filter((x) => !after.includes(x));
  const left = after.filter((x) => !before.includes(x));
  if (gone.length === 0 && left.length === 0) {
    return {
      ok: true,
      detail: `the ${migrations.length} down migrations, newest first, restore the starting schema`,
    };
  }
  const diff = [...left.map((x) => `still there: ${x}`), ...gone.map((x) => `missing: ${x}`)];
  return {
    ok: false,
    detail: `after the down migrations the schema differs: ${diff.slice(0, 12).join("; ")}${
      diff.length > 12 ? `; … ${diff.length - 12} more` : ""
    }`,
  };
}
