/**
 * Fixture rows for behavioural tests: one row per table owned by a fixed test user, built from the
 * catalog so that foreign keys point at the parent's fixture row, columns that name the owner
 * (a reference to `auth.users`, or a column policies compare with `auth.uid()`) hold the owner's
 * id, and required columns get a value their type and check constraints accept. Values come from
 * a short list of candidates per column; which candidate is used is the `choice` the fixture
 * search settles on by trying rows on the shadow database. Pure: same catalog and choice, same SQL.
 *
 * @example
 * ```ts
 * const order = fixtureOrder(catalog);
 * const planned = planFixtureRow(catalog, order[0], { rows: new Map(), choice: {}, variant: 1 });
 * ```
 */
import type { CatalogColumn, CatalogTable, SchemaCatalog } from "./catalog.ts";
import { ident, literal, qualified } from "./sql_text.ts";

/** The user who owns every fixture row. */
export const FIXTURE_OWNER = "00000000-0000-4000-a000-00000000000a";
/** Another signed-in user, who must see and change none of the owner's rows. */
export const FIXTURE_OTHER = "00000000-0000-4000-a000-00000000000b";

/** One planned row. */
export interface FixtureRow {
  schema: string;
  table: string;
  /** Column → SQL literal, in column order. */
  values: [string, string][];
  /** Whether an identity column declared `generated always` is given a value. */
  overriding: boolean;
}

/** Candidate index per column name (absent: 0). */
export type FixtureChoice = Record<string, number>;

/** The result of planning one row: the row, or why the table cannot have one. */
export type PlannedRow = { row: FixtureRow } | { reason: string };

/** `schema.table` of a table. */
export function tableKey(t: { schema: string; name: string }): string {
  return `${t.schema}.${t.name}`;
}

/** Tables parents first (by foreign keys), ties by name; tables in a cycle come last. */
export function fixtureOrder(catalog: SchemaCatalog): CatalogTable[] {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const parents = new Map<string, Set<string>>();
  for (const t of catalog.tables) {
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
  const out: CatalogTable[] = [];
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

/** Whether a policy expression depends on who is asking (auth.uid(), auth.jwt(), or a helper). */
export function readsIdentity(expression: string | null, catalog: SchemaCatalog): boolean {
  if (expression === null) return false;
  if (/\bauth\s*\.\s*(uid|jwt|email)\s*\(/i.test(expression)) return true;
  return catalog.identityFunctions.some((id) => {
    const [schema, name] = id.split(".");
    const bare = new RegExp(`(^|[^\\w.])${escapeRegExp(name)}\\s*\\(`);
    const full = new RegExp(`\\b${escapeRegExp(schema)}\\s*\\.\\s*${escapeRegExp(name)}\\s*\\(`);
    return full.test(expression) || (schema === "public" && bare.test(expression));
  });
}

/** Columns policies compare with the caller's id, e.g. `user_id = (select auth.uid())`. */
export function policyOwnerColumns(table: CatalogTable): string[] {
  const found = new Set<string>();
  const uid = String.raw`\(\s*select\s+auth\.uid\(\)(?:\s+as\s+uid)?\s*\)|auth\.uid\(\)`;
  const left = new RegExp(String.raw`([a-z_][a-z0-9_]*)\s*=\s*(?:${uid})`, "gi");
  const right = new RegExp(String.raw`(?:${uid})\s*=\s*([a-z_][a-z0-9_]*)`, "gi");
  for (const p of table.policies) {
    for (const text of [p.using, p.withCheck]) {
      if (text === null) continue;
      for (const m of text.matchAll(left)) found.add(m[1]);
      for (const m of text.matchAll(right)) found.add(m[1]);
    }
  }
  return table.columns.filter((c) => found.has(c.name) && c.type === "uuid").map((c) => c.name);
}

/**
 * Tables whose rows belong to a user: a column references `auth.users` or is compared with
 * `auth.uid()` by a policy, or a required foreign key leads to such a table.
 */
export function ownedTables(catalog: SchemaCatalog): Set<string> {
  const owned = new Set<string>();
  for (const t of catalog.tables) {
    const direct = policyOwnerColumns(t).length > 0 ||
      t.foreignKeys.some((fk) => fk.refSchema === "auth" && fk.refTable === "users");
    if (direct) owned.add(tableKey(t));
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const t of catalog.tables) {
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

/** Columns some foreign key points at: they get explicit values so children can copy them. */
export function referencedColumns(catalog: SchemaCatalog): Set<string> {
  const out = new Set<string>();
  for (const t of catalog.tables) {
    for (const fk of t.foreignKeys) {
      for (const c of fk.refColumns) out.add(`${fk.refSchema}.${fk.refTable}.${c}`);
    }
  }
  return out;
}

/** Plans the fixture row of `table` for variant 1 (the owner's row) or 2 (an extra row). */
export function planFixtureRow(
  catalog: SchemaCatalog,
  table: CatalogTable,
  ctx: { rows: Map<string, FixtureRow>; choice: FixtureChoice; variant: number },
): PlannedRow {
  const referenced = referencedColumns(catalog);
  const policyOwners = new Set(policyOwnerColumns(table));
  const keyColumns = new Set(table.primaryKey ?? []);
  const values: [string, string][] = [];
  let overriding = false;
  for (const column of table.columns) {
    if (column.generated) continue;
    const fk = table.foreignKeys.find((f) => f.columns.includes(column.name));
    let value: string | null | undefined;
    if (fk && fk.refSchema === "auth" && fk.refTable === "users") {
      value = literal(FIXTURE_OWNER);
    } else if (fk && `${fk.refSchema}.${fk.refTable}` !== tableKey(table)) {
      const parent = ctx.rows.get(`${fk.refSchema}.${fk.refTable}`);
      const refColumn = fk.refColumns[fk.columns.indexOf(column.name)];
      value = parent?.values.find(([name]) => name === refColumn)?.[1];
      if (value === undefined) {
        if (!column.notNull) continue;
        return { reason: `needs a row in ${fk.refSchema}.${fk.refTable}, which has none` };
      }
    } else if (policyOwners.has(column.name)) {
      value = literal(FIXTURE_OWNER);
    } else if (
      keyColumns.has(column.name) ||
      referenced.has(`${tableKey(table)}.${column.name}`) ||
      (column.notNull && !column.hasDefault && column.identity === "")
    ) {
      const candidates = keyColumns.has(column.name) ||
          referenced.has(`${tableKey(table)}.${column.name}`)
        ? keyCandidates(column, table, ctx.variant)
        : candidateValues(column, table);
      const chosen = candidates[ctx.choice[column.name] ?? 0];
      if (chosen === undefined) {
        return { reason: `no value of type ${column.type} fits column ${column.name}` };
      }
      value = chosen;
    } else {
      continue;
    }
    if (column.identity === "a") overriding = true;
    values.push([column.name, value]);
  }
  return { row: { schema: table.schema, table: table.name, values, overriding } };
}

/** How many candidates a column has (the fixture search stops trying after the last). */
export function candidateCount(column: CatalogColumn, table: CatalogTable): number {
  return candidateValues(column, table).length;
}

/** Values for a key column: distinct per table and variant, so rows never collide. */
function keyCandidates(column: CatalogColumn, table: CatalogTable, variant: number): string[] {
  if (column.type === "uuid") {
    return [literal(fixtureUuid(`${tableKey(table)}.${column.name}`, variant))];
  }
  if (column.category === "N") return [String(variant)];
  if (column.category === "S") {
    return candidateValues(column, table).map((v) =>
      variant === 1 ? v : v.replace(/'$/, `${variant}'`)
    );
  }
  return candidateValues(column, table);
}

/** Literal candidates for a required column, the likeliest first. */
export function candidateValues(column: CatalogColumn, table: CatalogTable): string[] {
  if (column.enumLabels) return column.enumLabels.map(literal);
  if (column.type.endsWith("[]")) return ["'{}'"];
  const fromChecks = table.checks.filter((c) => c.columns.includes(column.name)).flatMap((c) =>
    [...c.definition.matchAll(/'((?:[^']|'')*)'::/g)].map((m) => m[1].replaceAll("''", "'"))
  );
  const type = column.type;
  if (type === "uuid") return [literal(fixtureUuid(`${tableKey(table)}.${column.name}`, 1))];
  if (type === "json" || type === "jsonb") return ["'{}'", "'[]'"];
  if (type === "boolean") return ["false", "true"];
  if (/^(smallint|integer|bigint)$/.test(type)) return ["1", "0", "100", "-1"];
  if (column.category === "N") return ["1", "0", "100.5", "-1"];
  if (/^timestamp/.test(type)) return ["'2026-01-01 00:00:00+00'"];
  if (type === "date") return ["'2026-01-01'"];
  if (/^time/.test(type)) return ["'12:00:00'"];
  if (type === "interval") return ["'1 hour'"];
  if (type === "bytea") return ["'\\x00'"];
  if (type === "inet" || type === "cidr") return ["'127.0.0.1'"];
  if (column.category === "S") {
    const limit = /\((\d+)\)$/.exec(type);
    const texts = [
      ...fromChecks,
      "fixture",
      "AAA",
      "a",
      "fixture@example.test",
      "https://example.test/fixture",
      "1",
    ].map((s) => (limit ? s.slice(0, Number(limit[1])) : s));
    return [...new Set(texts)].map(literal);
  }
  return [];
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

/** The statement inserting a planned row (a row already there, e.g. made by a trigger, is kept). */
export function fixtureInsertSql(row: FixtureRow): string {
  const columns = row.values.map(([c]) => ident(c)).join(", ");
  const values = row.values.map(([, v]) => v).join(", ");
  const target = qualified(row.schema, row.table);
  if (row.values.length === 0) return `insert into ${target} default values on conflict do nothing`;
  return `insert into ${target} (${columns})${row.overriding ? " overriding system value" : ""} ` +
    `values (${values}) on conflict do nothing`;
}

/**
 * A condition selecting exactly this row: its primary key, or else every column it sets (json
 * columns, which have no equality, left out).
 */
export function fixturePredicate(row: FixtureRow, table: CatalogTable): string {
  const key = table.primaryKey ?? [];
  const jsonColumns = new Set(table.columns.filter((c) => c.type === "json").map((c) => c.name));
  const parts = row.values.filter(([c]) => key.length > 0 ? key.includes(c) : !jsonColumns.has(c));
  if (parts.length === 0) return "true";
  return parts.map(([c, v]) => `${ident(c)} = ${v}`).join(" and ");
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
