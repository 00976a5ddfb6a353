/**
 * Finds fixture rows that the delivered schema accepts by trying them on the shadow database, in
 * one transaction that is rolled back: a row refused by a check constraint is tried again with the
 * next candidate for that constraint's columns, until it fits or the candidates run out. What it
 * settles on is exactly what the generated pgTAP files insert, so the tests start from rows known
 * to be valid.
 *
 * @example
 * ```ts
 * const fixtures = await findFixtures(db, catalog);
 * fixtures.rows.get("public.positions"); // the owner's position
 * ```
 */
import type { CatalogTable, SchemaCatalog } from "./catalog.ts";
import {
  candidateCount,
  type FixtureChoice,
  fixtureInsertSql,
  fixtureOrder,
  type FixtureRow,
  fixtureUsersSql,
  ownerClaimsSql,
  planFixtureRow,
  tableKey,
} from "./fixtures.ts";
import { type ShadowSession, sqlErrorFacts } from "./shadow_port.ts";

/** The fixture rows found, parents first, and why the other tables have none. */
export interface Fixtures {
  /** Table key → the owner's row, in insert order. */
  rows: Map<string, FixtureRow>;
  /** Table key → the choice the row was planned with (to plan variant rows alike). */
  choices: Map<string, FixtureChoice>;
  /** Table key → why no row could be made. */
  missing: Map<string, string>;
}

const MAX_TRIES = 30;

/** Tries fixture rows for every table of `catalog` on `db`; leaves nothing behind. */
export async function findFixtures(db: ShadowSession, catalog: SchemaCatalog): Promise<Fixtures> {
  const fixtures: Fixtures = { rows: new Map(), choices: new Map(), missing: new Map() };
  await db.exec("begin");
  try {
    await db.exec(`${ownerClaimsSql()};\n${fixtureUsersSql()}`);
    for (const table of fixtureOrder(catalog)) {
      const outcome = await tryTable(db, catalog, table, fixtures.rows);
      if ("row" in outcome) {
        fixtures.rows.set(tableKey(table), outcome.row);
        fixtures.choices.set(tableKey(table), outcome.choice);
      } else {
        fixtures.missing.set(tableKey(table), outcome.reason);
      }
    }
  } finally {
    await db.exec("rollback");
  }
  return fixtures;
}

async function tryTable(
  db: ShadowSession,
  catalog: SchemaCatalog,
  table: CatalogTable,
  rows: Map<string, FixtureRow>,
): Promise<{ row: FixtureRow; choice: FixtureChoice } | { reason: string }> {
  const choice: FixtureChoice = {};
  let lastError = "";
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const planned = planFixtureRow(catalog, table, { rows, choice, variant: 1 });
    if ("reason" in planned) return { reason: lastError || planned.reason };
    await db.exec("savepoint fixture");
    try {
      await db.exec(fixtureInsertSql(planned.row));
      await db.exec("release savepoint fixture");
      return { row: planned.row, choice: { ...choice } };
    } catch (e) {
      await db.exec("rollback to savepoint fixture");
      const facts = sqlErrorFacts(e);
      lastError = facts.message;
      const columns = columnsToVary(table, facts.constraint, facts.column);
      if (!advance(choice, columns, table)) return { reason: facts.message };
    }
  }
  return { reason: lastError || "no row fits after many tries" };
}

/** The columns whose candidate to change after an error naming `constraint` or `column`. */
function columnsToVary(
  table: CatalogTable,
  constraint: string | null,
  column: string | null,
): string[] {
  const check = table.checks.find((c) => c.name === constraint);
  if (check) return check.columns;
  const unique = constraint ? table.indexes.find((i) => i.name === constraint)?.keys ?? [] : [];
  if (unique.length > 0) return unique;
  return column ? [column] : [];
}

/** Moves `choice` to the next combination for `columns` (an odometer); false when exhausted. */
function advance(choice: FixtureChoice, columns: string[], table: CatalogTable): boolean {
  for (const name of columns) {
    const column = table.columns.find((c) => c.name === name);
    if (!column) continue;
    const next = (choice[name] ?? 0) + 1;
    if (next < candidateCount(column, table)) {
      choice[name] = next;
      return true;
    }
    choice[name] = 0;
  }
  return false;
}
