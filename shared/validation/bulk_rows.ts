/**
 * Synthetic rows at a realistic scale, generated set-based (`insert … select … from
 * generate_series`), so an index is judged on a table the planner takes seriously rather than on
 * an empty one. Parents come first (foreign keys are drawn from their rows), owner columns from a
 * pool of users created in `auth.users`, columns in a unique key get distinct values and the rest
 * repeat (about ten rows per value), as real data does. User triggers on the filled tables are
 * disabled for the fill (inside the caller's transaction, so undone with it). When a check
 * constraint refuses the generated values (`side in ('long', 'short')`, `closed_at >= opened_at`),
 * the table is filled again with the columns its checks name taken from one row the row
 * synthesizer made pass them, the other columns still generated. The caller runs it inside a
 * transaction it rolls back.
 *
 * @example
 * ```ts
 * await session.exec("begin");
 * const filled = await fillTables(session, catalog, ["public.notes"], { rows: 50_000 });
 * // … EXPLAIN (ANALYZE) …
 * await session.exec("rollback");
 * ```
 */
import type { Catalog, CatalogColumn } from "./catalog.ts";
import { ident, RowSynthesizer, tableRef, type Values } from "./row_synthesis.ts";
import { literal } from "./probe_batch.ts";
import { type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";

/** How many rows to make. */
export interface FillOptions {
  /** Rows in each table a query reads (the largest tables). */
  rows: number;
  /** Longest the fill may take, in ms. */
  timeoutMs?: number;
}

/** What was made. */
export interface FillResult {
  /** Rows per table (`schema.name`), auth.users included. */
  rows: Record<string, number>;
  ms: number;
}

/** Rows could not be made for a table (a check constraint, a type we cannot make). */
export class FillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FillError";
  }
}

const OWNER_NAMES = ["user_id", "owner_id", "profile_id", "created_by", "author_id"];

function split(name: string): [string, string] {
  const dot = name.indexOf(".");
  return dot < 0 ? ["public", name] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** Tables to fill: the given ones and their foreign key parents (auth.users aside), parents first. */
export function fillOrder(catalog: Catalog, tables: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (name: string, seen: Set<string>) => {
    if (out.includes(name) || seen.has(name) || name === "auth.users") return;
    seen.add(name);
    const [schema, table] = split(name);
    for (const fk of catalog.constraints) {
      if (fk.schema === schema && fk.table === table && fk.type === "f" && fk.refTable) {
        visit(`${fk.refSchema}.${fk.refTable}`, seen);
      }
    }
    out.push(name);
  };
  for (const t of tables) visit(t, new Set());
  return out;
}

/** Fills `tables` (and their parents) with synthetic rows; see the module doc. */
export async function fillTables(
  session: ShadowSession,
  catalog: Catalog,
  tables: readonly string[],
  options: FillOptions,
): Promise<FillResult> {
  const started = performance.now();
  const order = fillOrder(catalog, tables);
  const rows = Math.max(1, Math.floor(options.rows));
  const parentRows = Math.max(100, Math.floor(rows / 100));
  const users = Math.min(1_000, Math.max(10, Math.floor(rows / 50)));
  const opts = { timeoutMs: options.timeoutMs };
  const made: Record<string, number> = {};
  await optional(session, "alter table auth.users disable trigger user");
  await session.exec(
    `insert into auth.users (id, email, aud, role)
     select gen_random_uuid(), 'bench-' || g || '-' || md5(random()::text) || '@example.com',
            'authenticated', 'authenticated'
     from generate_series(1, ${users}) g`,
    opts,
  );
  made["auth.users"] = users;
  for (const name of order) {
    const [schema, table] = split(name);
    const n = tables.includes(name) ? rows : parentRows;
    const [have] = await session.query<{ n: number }>(
      `select count(*)::int as n from ${tableRef(schema, table)}`,
      [],
      opts,
    );
    if ((have?.n ?? 0) >= n) {
      made[name] = have.n;
      continue;
    }
    await optional(session, `alter table ${tableRef(schema, table)} disable trigger user`);
    try {
      await inSavepoint(session, insertSql(catalog, schema, table, n), opts);
    } catch (e) {
      if (!(e instanceof ShadowSqlError) || e.code !== "23514") {
        throw new FillError(`rows for ${name} could not be made: ${(e as Error).message}`);
      }
      try {
        const template = await checkedRow(session, catalog, schema, table);
        await inSavepoint(session, insertSql(catalog, schema, table, n, template), opts);
      } catch (again) {
        if (again instanceof FillError) throw again;
        throw new FillError(`rows for ${name} could not be made: ${(again as Error).message}`);
      }
    }
    made[name] = n;
  }
  for (const name of ["auth.users", ...order]) {
    const [schema, table] = split(name);
    await session.exec(`analyze ${tableRef(schema, table)}`, opts);
  }
  return { rows: made, ms: Math.round(performance.now() - started) };
}

// Runs one statement so that its failure leaves the caller's transaction usable.
async function inSavepoint(
  session: ShadowSession,
  sql: string,
  opts: { timeoutMs?: number },
): Promise<void> {
  await session.exec("savepoint bt_fill_table");
  try {
    await session.exec(sql, opts);
    await session.exec("release savepoint bt_fill_table");
  } catch (e) {
    if (session.alive) await session.exec("rollback to savepoint bt_fill_table").catch(() => {});
    throw e;
  }
}

// One row's values that pass the table's check constraints (made by the row synthesizer, which
// reads the checks' parse trees), owned by one of the synthetic users.
async function checkedRow(
  session: ShadowSession,
  catalog: Catalog,
  schema: string,
  table: string,
): Promise<Values> {
  const [user] = await session.query<{ id: string }>(
    "select id::text as id from auth.users limit 1",
  );
  try {
    return await new RowSynthesizer(catalog, session).values(schema, table, {}, {
      id: user?.id ?? crypto.randomUUID(),
      columnOf: (s, t) =>
        ownerOf(catalog, s, t, catalog.columns.filter((c) => c.schema === s && c.table === t)),
    });
  } catch (e) {
    throw new FillError(`rows for ${schema}.${table} could not be made: ${(e as Error).message}`);
  }
}

// A statement that may be refused (e.g. not the table's owner) without aborting the transaction.
async function optional(session: ShadowSession, sql: string): Promise<void> {
  await session.exec("savepoint bt_fill_optional");
  try {
    await session.exec(sql);
    await session.exec("release savepoint bt_fill_optional");
  } catch (e) {
    if (!session.alive) throw e;
    await session.exec("rollback to savepoint bt_fill_optional");
  }
}

/**
 * The set-based insert of `n` rows into a table. With `template` (one row that passes the table's
 * checks), the columns a check constraint names take its values instead of generated ones. Pure.
 */
export function insertSql(
  catalog: Catalog,
  schema: string,
  table: string,
  n: number,
  template?: Values,
): string {
  const columns = catalog.columns.filter((c) => c.schema === schema && c.table === table)
    .sort((a, b) => a.num - b.num);
  const unique = new Set<string>();
  for (const c of catalog.constraints) {
    if (c.schema === schema && c.table === table && (c.type === "p" || c.type === "u")) {
      for (const col of c.columns) unique.add(col);
    }
  }
  for (const i of catalog.indexes) {
    if (i.schema === schema && i.table === table && i.unique) {
      for (const num of i.keyNums) {
        const col = columns.find((c) => c.num === num);
        if (col) unique.add(col.name);
      }
    }
  }
  const fks = catalog.constraints.filter((c) =>
    c.schema === schema && c.table === table && c.type === "f" && c.refTable && c.refColumns
  );
  const ctes: string[] = [];
  const joins: string[] = [];
  const names: string[] = [];
  const exprs: string[] = [];
  const distinct = Math.max(10, Math.ceil(n / 10));
  let k = 0;
  const pool = (refSchema: string, refTable: string, refColumn: string) => {
    const alias = `p${k++}`;
    ctes.push(
      `${alias} as (select array_agg(${ident(refColumn)} order by random()) as a from ${
        tableRef(refSchema, refTable)
      })`,
    );
    joins.push(alias);
    // Owners and parents repeat: rows spread over the pool, as in real data.
    return `${alias}.a[1 + (g % greatest(cardinality(${alias}.a), 1))]`;
  };
  const owner = ownerOf(catalog, schema, table, columns);
  const checked = template ? checkedColumns(catalog, schema, table) : new Set<string>();
  for (const col of columns) {
    if (col.identity === "a" || col.generated === "s") continue;
    if (template && checked.has(col.name) && !unique.has(col.name) && col.name !== owner) {
      const fixed = template[col.name];
      if (fixed === undefined) continue; // left to its default, as the passing row was
      names.push(ident(col.name));
      exprs.push(`${literal(fixed)}::${col.type}`);
      continue;
    }
    const fk = fks.find((f) => f.columns.length === 1 && f.columns[0] === col.name);
    if (fk) {
      names.push(ident(col.name));
      exprs.push(pool(fk.refSchema!, fk.refTable!, fk.refColumns![0]));
      continue;
    }
    if (col.name === owner) {
      names.push(ident(col.name));
      exprs.push(`${pool("auth", "users", "id")}::${col.type}`);
      continue;
    }
    // Defaults (identity by default, gen_random_uuid(), now()) are what the application relies on.
    if (col.default !== null || col.identity === "d") {
      if (!col.notNull || !unique.has(col.name) || !/now\(\)|current_/.test(col.default ?? "")) {
        continue;
      }
    }
    const value = valueExpr(col, unique.has(col.name), distinct);
    if (value === null) {
      if (!col.notNull) continue;
      throw new FillError(
        `rows for ${schema}.${table} could not be made: no generator for column ${col.name} ` +
          `(${col.type})`,
      );
    }
    names.push(ident(col.name));
    exprs.push(value);
  }
  const from = [`generate_series(1, ${n}) g`, ...joins].join(", ");
  const cols = names.length ? ` (${names.join(", ")})` : "";
  // With no column to set, an empty select list inserts rows of defaults.
  return `${ctes.length ? `with ${ctes.join(", ")} ` : ""}insert into ${
    tableRef(schema, table)
  }${cols} select ${exprs.join(", ")} from ${from}`;
}

// The columns a table's check constraints mention (by name, in the expression's text).
function checkedColumns(catalog: Catalog, schema: string, table: string): Set<string> {
  const checks = catalog.constraints.filter((c) =>
    c.schema === schema && c.table === table && c.type === "c" && c.checkExpression
  ).map((c) => c.checkExpression!);
  const out = new Set<string>();
  for (const col of catalog.columns.filter((c) => c.schema === schema && c.table === table)) {
    const name = col.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    if (
      checks.some((text) =>
        new RegExp(`(^|[^A-Za-z0-9_$])"?${name}"?($|[^A-Za-z0-9_$])`).test(text)
      )
    ) {
      out.add(col.name);
    }
  }
  return out;
}

function ownerOf(
  catalog: Catalog,
  schema: string,
  table: string,
  columns: CatalogColumn[],
): string | undefined {
  const toUsers = catalog.constraints.find((c) =>
    c.schema === schema && c.table === table && c.type === "f" && c.refSchema === "auth" &&
    c.refTable === "users" && c.columns.length === 1
  );
  if (toUsers) return toUsers.columns[0];
  return OWNER_NAMES.find((n) => columns.some((c) => c.name === n && c.baseTypeName === "uuid"));
}

/** A SQL expression over `g` (1…n) for a column, or null when none is known. */
function valueExpr(col: CatalogColumn, unique: boolean, distinct: number): string | null {
  const v = unique ? "g" : `(g % ${distinct})`;
  const type = col.baseTypeName;
  const cast = `::${col.type}`;
  if (col.typeKind === "e" && col.enumLabels?.length) {
    const labels = col.enumLabels.map((l) => `'${l.replaceAll("'", "''")}'`).join(", ");
    return `(array[${labels}])[1 + (g % ${col.enumLabels.length})]${cast}`;
  }
  if (col.elementType) return `'{}'${cast}`;
  switch (type) {
    case "int2":
      return `(${v} % 32000)${cast}`;
    case "int4":
    case "int8":
    case "numeric":
    case "float4":
    case "float8":
      return `${v}${cast}`;
    case "text":
    case "varchar":
    case "bpchar":
    case "citext":
    case "name": {
      const text = /email/i.test(col.name)
        ? `'u' || ${v} || '@example.com'`
        : `'${col.name.slice(0, 8)} ' || ${v}`;
      return col.maxLength ? `left(${text}, ${col.maxLength})${cast}` : `(${text})${cast}`;
    }
    case "uuid":
      return unique ? "gen_random_uuid()" : `md5(${v}::text)::uuid`;
    case "bool":
      return "(g % 2 = 0)";
    case "timestamptz":
    case "timestamp":
    case "date":
      return `(timestamptz '2025-01-01' - ${
        unique ? "g" : "(g % 100000)"
      } * interval '1 minute')${cast}`;
    case "time":
    case "timetz":
      return `(time '00:00' + (g % 86400) * interval '1 second')${cast}`;
    case "interval":
      return `(${v} * interval '1 second')`;
    case "jsonb":
    case "json":
      return `json_build_object('n', ${v})${cast}`;
    case "bytea":
      return `decode(md5(${v}::text), 'hex')`;
    case "inet":
    case "cidr":
      return `('10.0.0.0'::inet + ${unique ? "g" : `(g % ${distinct})`})${cast}`;
    default:
      return null;
  }
}
