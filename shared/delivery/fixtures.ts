/**
 * Fixture rows for behavioural tests, the pure part: one row per table owned by a fixed test user.
 * What ties rows together is decided here, deterministically, so the generated files are
 * reproducible — foreign keys point at the parent's fixture row, columns that name the owner (a
 * reference to `auth.users`, or a column policies compare with `auth.uid()`) hold the owner's id,
 * and key columns get values derived from the table's name. The other required values come from
 * the shared validator's row synthesis, tried on the shadow (`fixture_search.ts`).
 *
 * @example
 * ```ts
 * const planned = planFixtureRow(model.tables[0], rows);
 * if ("fixed" in planned) console.log(planned.fixed);
 * ```
 */
import type { ColumnModel, SchemaModel, TableModel } from "./schema_model.ts";
import { ident, literal, qualified } from "./sql_text.ts";

/** The user who owns every fixture row. */
export const FIXTURE_OWNER = "00000000-0000-4000-a000-00000000000a";
/** Another signed-in user, who must see and change none of the owner's rows. */
export const FIXTURE_OTHER = "00000000-0000-4000-a000-00000000000b";

/** One row, its values as text (cast by Postgres to each column's type), null for SQL NULL. */
export interface FixtureRow {
  schema: string;
  table: string;
  /** Column → value, in column order. */
  values: [string, string | null][];
  /** Whether an identity column declared `generated always` is given a value. */
  overriding: boolean;
}

/** The values a row must have, and the columns whose values were chosen here. */
export interface PlannedValues {
  /** Column → value: owner ids, parent keys, own keys. */
  fixed: Record<string, string | null>;
  /** Keys of `generated always` identity columns: written with `overriding system value`. */
  identityAlways: Record<string, string>;
  /** The table's own key columns given here (not copied from a parent or the owner). */
  ownKeys: string[];
}

/** `schema.table` of a table. */
export function tableKey(t: { schema: string; name: string }): string {
  return `${t.schema}.${t.name}`;
}

/** Tables parents first (by foreign keys), ties by name; tables in a cycle come last. */
export function fixtureOrder(model: SchemaModel): TableModel[] {
  const byKey = new Map(model.tables.map((t) => [tableKey(t), t]));
  const parents = new Map<string, Set<string>>();
  for (const t of model.tables) {
    const own = tableKey(t);
    parents.set(
      own,
      new Set(
        t.foreignKeys.map((fk) => `${fk.refSchema}.${fk.refTable}`).filter((k) =>
          k !== own && byKey.has(k)
        ),
      ),
    );
  }
  const done = new Set<string>();
  const out: TableModel[] = [];
  const keys = [...byKey.keys()].sort();
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const k of keys) {
      if (done.has(k) || [...parents.get(k)!].some((p) => !done.has(p))) continue;
      done.add(k);
      out.push(byKey.get(k)!);
      progressed = true;
    }
  }
  for (const k of keys) if (!done.has(k)) out.push(byKey.get(k)!);
  return out;
}

/**
 * Tables whose rows belong to a user: a column references `auth.users` or is compared with
 * `auth.uid()` by a policy, or a required foreign key leads to such a table.
 */
export function ownedTables(model: SchemaModel): Set<string> {
  const owned = new Set<string>();
  for (const t of model.tables) {
    const direct = t.ownerColumns.length > 0 ||
      t.foreignKeys.some((fk) => fk.refSchema === "auth" && fk.refTable === "users");
    if (direct) owned.add(tableKey(t));
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const t of model.tables) {
      if (owned.has(tableKey(t))) continue;
      const viaParent = t.foreignKeys.some((fk) =>
        owned.has(`${fk.refSchema}.${fk.refTable}`) &&
        fk.columns.every((c) => t.columns.find((col) => col.name === c)?.notNull)
      );
      if (viaParent) {
        owned.add(tableKey(t));
        changed = true;
      }
    }
  }
  return owned;
}

/** The column tying a table's rows to their owner, if any (for making parent rows). */
export function ownerColumnOf(table: TableModel): string | undefined {
  return table.ownerColumns[0] ??
    table.foreignKeys.find((fk) =>
      fk.refSchema === "auth" && fk.refTable === "users" && fk.columns.length === 1
    )?.columns[0];
}

/** Columns some foreign key points at: they get explicit values so children can copy them. */
export function referencedColumns(model: SchemaModel): Set<string> {
  const out = new Set<string>();
  for (const t of model.tables) {
    for (const fk of t.foreignKeys) {
      for (const c of fk.refColumns) out.add(`${fk.refSchema}.${fk.refTable}.${c}`);
    }
  }
  return out;
}

const INTEGER_TYPES = new Set(["int2", "int4", "int8", "numeric"]);
const TEXT_TYPES = new Set(["text", "varchar", "bpchar", "citext"]);

/** A key value of this column for row `variant`, when one can be derived. */
function keyValue(column: ColumnModel, table: TableModel, variant: number): string | undefined {
  if (column.baseType === "uuid") return fixtureUuid(`${tableKey(table)}.${column.name}`, variant);
  if (INTEGER_TYPES.has(column.baseType)) return String(variant);
  return undefined;
}

/**
 * The values `table`'s fixture row must have, given the rows its parents got (`rows`), or why it
 * can have none.
 */
export function planFixtureRow(
  model: SchemaModel,
  table: TableModel,
  rows: ReadonlyMap<string, FixtureRow>,
): PlannedValues | { reason: string } {
  const referenced = referencedColumns(model);
  const owners = new Set(table.ownerColumns);
  const keys = new Set(table.primaryKey ?? []);
  const planned: PlannedValues = { fixed: {}, identityAlways: {}, ownKeys: [] };
  for (const column of table.columns) {
    if (column.generated) continue;
    const fk = table.foreignKeys.find((f) => f.columns.includes(column.name));
    if (fk && fk.refSchema === "auth" && fk.refTable === "users") {
      planned.fixed[column.name] = FIXTURE_OWNER;
    } else if (fk && `${fk.refSchema}.${fk.refTable}` !== tableKey(table)) {
      const parent = rows.get(`${fk.refSchema}.${fk.refTable}`);
      const refColumn = fk.refColumns[fk.columns.indexOf(column.name)];
      const value = parent?.values.find(([name]) => name === refColumn)?.[1];
      if (value === undefined || value === null) {
        if (column.notNull) {
          return { reason: `needs a row in ${fk.refSchema}.${fk.refTable}, which has none` };
        }
        planned.fixed[column.name] = null;
      } else {
        planned.fixed[column.name] = value;
      }
    } else if (owners.has(column.name)) {
      planned.fixed[column.name] = FIXTURE_OWNER;
    } else if (keys.has(column.name) || referenced.has(`${tableKey(table)}.${column.name}`)) {
      const value = keyValue(column, table, 1);
      if (value === undefined) continue; // made by the row synthesis, then copied by children
      if (column.identity === "a") planned.identityAlways[column.name] = value;
      else planned.fixed[column.name] = value;
      planned.ownKeys.push(column.name);
    } else if (
      column.baseType === "uuid" && column.notNull && !column.hasDefault &&
      column.identity === ""
    ) {
      // Not left to the row synthesis, which makes random ones: the files must be reproducible.
      planned.fixed[column.name] = fixtureUuid(`${tableKey(table)}.${column.name}`, 1);
    }
  }
  return planned;
}

/**
 * Another row of `table` for the same owner with its own keys (`ownKeys`) changed where a value
 * can be derived: the row another user must not be able to insert. Postgres checks a policy's
 * `with check` before any key, so a key left unchanged does not hide the policy's verdict.
 */
export function variantRow(
  table: TableModel,
  row: FixtureRow,
  ownKeys: readonly string[],
): FixtureRow {
  const values = row.values.map(([name, value]): [string, string | null] => {
    const column = table.columns.find((c) => c.name === name);
    if (!column || !ownKeys.includes(name)) return [name, value];
    const varied = keyValue(column, table, 2) ??
      (value !== null && TEXT_TYPES.has(column.baseType) ? `${value}-2` : value);
    return [name, varied];
  });
  return { ...row, values };
}

/** A deterministic UUID for `seed` (version-4 layout), so generated files are reproducible. */
export function fixtureUuid(seed: string, variant: number): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of `${seed}#${variant}`) {
    const c = ch.codePointAt(0)!;
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  const hex = (h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")).slice(0, 12);
  return `10000000-0000-4000-8000-${hex}`;
}

function valueSql(value: string | null): string {
  return value === null ? "null" : literal(value);
}

/** The statement inserting a row (a row already there, e.g. made by a trigger, is kept). */
export function fixtureInsertSql(row: FixtureRow): string {
  const columns = row.values.map(([c]) => ident(c)).join(", ");
  const values = row.values.map(([, v]) => valueSql(v)).join(", ");
  const target = qualified(row.schema, row.table);
  if (row.values.length === 0) return `insert into ${target} default values on conflict do nothing`;
  return `insert into ${target} (${columns})${row.overriding ? " overriding system value" : ""} ` +
    `values (${values}) on conflict do nothing`;
}

/**
 * A condition selecting exactly this row: its primary key, or else every column it sets (json
 * columns, which have no equality, left out).
 */
export function fixturePredicate(row: FixtureRow, table: TableModel): string {
  const key = table.primaryKey ?? [];
  const jsonColumns = new Set(table.columns.filter((c) => c.type === "json").map((c) => c.name));
  const parts = row.values.filter(([c]) => key.length > 0 ? key.includes(c) : !jsonColumns.has(c));
  if (parts.length === 0) return "true";
  return parts.map(([c, v]) => v === null ? `${ident(c)} is null` : `${ident(c)} = ${literal(v)}`)
    .join(" and ");
}

/** The statement that creates the two fixture users in `auth.users`. */
export function fixtureUsersSql(): string {
  return `insert into auth.users (id, email) values\n` +
    `  (${literal(FIXTURE_OWNER)}, 'owner@example.test'),\n` +
    `  (${literal(FIXTURE_OTHER)}, 'other@example.test')\n` +
    `on conflict (id) do nothing`;
}

/** Claims that make `auth.uid()` the owner while fixture rows are inserted (defaults, triggers). */
export function ownerClaimsSql(): string {
  return `select set_config('request.jwt.claims', ${
    literal(JSON.stringify({ sub: FIXTURE_OWNER, role: "authenticated" }))
  }, true)`;
}
