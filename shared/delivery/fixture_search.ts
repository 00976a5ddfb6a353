/**
 * Finds fixture rows the delivered schema accepts, on the shadow, in one transaction that is
 * rolled back. Each table's row starts from the values `fixtures.ts` decides (owner ids, parent
 * keys, own keys); the shared validator's row synthesis fills the other required columns with
 * values their types and check constraints accept (read from the constraints' parse trees) and
 * tries them. A text column under a check the synthesis has no reading for (a pattern match, say)
 * is tried with a few common shapes of text in turn. What is settled on is inserted, parents
 * first, so children can point at it — exactly what the generated pgTAP files insert.
 *
 * @example
 * ```ts
 * const fixtures = await findFixtures(session, model, catalog);
 * fixtures.rows.get("public.positions"); // the owner's position
 * ```
 */
import {
  type Catalog,
  type Owner,
  RowSynthesisError,
  RowSynthesizer,
  type Values,
} from "../validation/mod.ts";
import { type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";
import {
  FIXTURE_OWNER,
  fixtureInsertSql,
  fixtureOrder,
  type FixtureRow,
  fixtureUsersSql,
  ownerClaimsSql,
  ownerColumnOf,
  planFixtureRow,
  tableKey,
  variantRow,
} from "./fixtures.ts";
import type { SchemaModel, TableModel } from "./schema_model.ts";

/** The fixture rows found, parents first, and why the other tables have none. */
export interface Fixtures {
  /** Table key → the owner's row, in insert order. */
  rows: Map<string, FixtureRow>;
  /** Table key → another row for the owner with its own keys changed (for insert tests). */
  intruders: Map<string, FixtureRow>;
  /** Table key → why no row could be made. */
  missing: Map<string, string>;
}

/** Shapes of text common check constraints accept, tried when the synthesis cannot read one. */
const TEXT_SHAPES = [
  "fixture",
  "AAA",
  "a",
  "fixture@example.test",
  "https://example.test/fixture",
  "1",
];
const TEXT_TYPES = new Set(["text", "varchar", "bpchar", "citext"]);
const MAX_TRIES = 30;

/** Tries fixture rows for every table of `model` on `session`; leaves nothing behind. */
export async function findFixtures(
  session: ShadowSession,
  model: SchemaModel,
  catalog: Catalog,
): Promise<Fixtures> {
  const fixtures: Fixtures = { rows: new Map(), intruders: new Map(), missing: new Map() };
  const synth = new RowSynthesizer(catalog, session);
  const byKey = new Map(model.tables.map((t) => [tableKey(t), t]));
  const owner: Owner = {
    id: FIXTURE_OWNER,
    columnOf: (schema: string, table: string) => {
      const t = byKey.get(`${schema}.${table}`);
      return t ? ownerColumnOf(t) : undefined;
    },
  };
  await session.exec("begin");
  try {
    await session.exec(`${ownerClaimsSql()};\n${fixtureUsersSql()}`);
    for (const table of fixtureOrder(model)) {
      const outcome = await tryTable(session, synth, owner, model, table, fixtures.rows);
      if ("reason" in outcome) {
        fixtures.missing.set(tableKey(table), outcome.reason);
        continue;
      }
      fixtures.rows.set(tableKey(table), outcome.row);
      fixtures.intruders.set(tableKey(table), variantRow(table, outcome.row, outcome.ownKeys));
    }
  } finally {
    if (session.alive) await session.exec("rollback").catch(() => {});
  }
  return fixtures;
}

async function tryTable(
  session: ShadowSession,
  synth: RowSynthesizer,
  owner: Owner,
  model: SchemaModel,
  table: TableModel,
  rows: ReadonlyMap<string, FixtureRow>,
): Promise<{ row: FixtureRow; ownKeys: string[] } | { reason: string }> {
  const planned = planFixtureRow(model, table, rows);
  if ("reason" in planned) return planned;
  // Required text columns under a check, left to the synthesis first, then tried with shapes.
  const shaped = table.columns.filter((c) =>
    TEXT_TYPES.has(c.baseType) && c.notNull && !c.hasDefault && c.identity === "" &&
    !c.generated && !(c.name in planned.fixed) && table.checkedColumns.includes(c.name)
  );
  const choice = shaped.map(() => 0);
  let values: Values | undefined;
  let lastError = "";
  for (let attempt = 0; attempt < MAX_TRIES && values === undefined; attempt++) {
    const fixed: Values = { ...planned.fixed };
    shaped.forEach((c, i) => {
      if (choice[i] > 0) {
        fixed[c.name] = TEXT_SHAPES[choice[i] - 1].slice(0, c.maxLength ?? undefined);
      }
    });
    try {
      values = await synth.values(table.schema, table.name, fixed, owner);
    } catch (e) {
      if (!(e instanceof RowSynthesisError) && !(e instanceof ShadowSqlError)) throw e;
      lastError = e.message;
      if (!next(choice, TEXT_SHAPES.length + 1)) break;
    }
  }
  if (values === undefined) return { reason: lastError || "no row fits" };
  // The synthesis may only add values: a parent key it replaced would point at a row of its own.
  for (const [name, value] of Object.entries(planned.fixed)) {
    if (values[name] !== value) {
      return { reason: `no row could reuse the fixture row of the table ${name} refers to` };
    }
  }
  const all = { ...values, ...planned.identityAlways };
  const row: FixtureRow = {
    schema: table.schema,
    table: table.name,
    values: table.columns.filter((c) => c.name in all).map((c) => [c.name, all[c.name]]),
    overriding: Object.keys(planned.identityAlways).length > 0,
  };
  await session.exec("savepoint bt_fixture");
  try {
    await session.exec(fixtureInsertSql(row));
    await session.exec("release savepoint bt_fixture");
  } catch (e) {
    if (!(e instanceof ShadowSqlError)) throw e;
    await session.exec("rollback to savepoint bt_fixture");
    return { reason: e.message };
  }
  // Key columns the synthesis filled are the row's own keys too.
  const synthesizedKeys = (table.primaryKey ?? []).filter((k) =>
    !(k in planned.fixed) && !(k in planned.identityAlways)
  );
  return { row, ownKeys: [...planned.ownKeys, ...synthesizedKeys] };
}

/** Moves `choice` to the next combination (an odometer); false when all were tried. */
function next(choice: number[], base: number): boolean {
  for (let i = 0; i < choice.length; i++) {
    choice[i]++;
    if (choice[i] < base) return true;
    choice[i] = 0;
  }
  return false;
}
