/**
 * Makes rows a table will accept, so behavioural probes can act on real data: NOT NULL columns get
 * values of their type, enum columns a label, check constraints are read from their parse tree
 * (`side = any(array['long','short'])`, `char_length(symbol) between 1 and 20`, `quantity > 0`)
 * for values that pass them, and foreign keys get a parent row first (owned by the same user when
 * the parent has an owner). Setup rows are written as `service_role`, which bypasses RLS, so a
 * failure here is about constraints — never mistaken for a policy decision.
 */
import { asNode, type PgNode, stringList, walk } from "../pg_ast/mod.ts";
import type { Catalog, CatalogColumn, CatalogConstraint } from "./catalog.ts";
import { parseExpression } from "./parse.ts";
import { literal } from "./probe_batch.ts";
import { type Identity, type Row, type ShadowSession, ShadowSqlError } from "../shadow/mod.ts";

/** A table's row could not be made; says why. */
export class RowSynthesisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RowSynthesisError";
  }
}

/** Quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."table"`. */
export function tableRef(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

/** The identity that writes setup rows (bypasses RLS, as the service role key does). */
export const SERVICE: Identity = { role: "service_role", claims: { role: "service_role" } };

/** Column values as text (cast to each column's type in SQL), `null` for SQL NULL. */
export type Values = Record<string, string | null>;

/** Whose rows are being made: the user's id, and how to find a table's owner column. */
export interface Owner {
  id: string;
  columnOf: (schema: string, table: string) => string | undefined;
}

/** Builds rows for the tables of one catalog. */
export class RowSynthesizer {
  readonly #catalog: Catalog;
  readonly #session: ShadowSession;
  readonly #hints = new Map<string, Map<string, ColumnHints>>();
  readonly #parents = new Map<string, Row>();
  // Per table, which value set (attempt) passed its constraints last time.
  readonly #goodAttempt = new Map<string, number>();
  #counter = 0;

  constructor(catalog: Catalog, session: ShadowSession) {
    this.#catalog = catalog;
    this.#session = session;
  }

  /** The table's columns in order. */
  columns(schema: string, table: string): CatalogColumn[] {
    return this.#catalog.columns.filter((c) => c.schema === schema && c.table === table);
  }

  #constraints(schema: string, table: string, type: string): CatalogConstraint[] {
    return this.#catalog.constraints.filter((c) =>
      c.schema === schema && c.table === table && c.type === type
    );
  }

  /** Forgets the parent rows made so far (after the caller rolled them back). */
  resetParents(): void {
    this.#parents.clear();
  }

  /**
   * Values for a new row of `schema.table` with `fixed` columns set: parents are created as
   * needed (owned by `owner` when they have an owner column). Tries a few value sets until one
   * passes the constraints, writing nothing; throws {@link RowSynthesisError} when none does.
   */
  async values(
    schema: string,
    table: string,
    fixed: Values,
    owner: Owner,
    depth = 0,
  ): Promise<Values> {
    let lastError = "";
    const first = this.#goodAttempt.get(`${schema}.${table}`) ?? 0;
    for (let attempt = first; attempt < first + 4; attempt++) {
      const values = await this.#build(schema, table, fixed, owner, depth, attempt);
      const error = await this.#tryInsert(schema, table, values);
      if (!error) {
        this.#goodAttempt.set(`${schema}.${table}`, attempt);
        return values;
      }
      lastError = error;
      if (!error.includes("check constraint") && attempt > first) break;
    }
    throw new RowSynthesisError(`no row of ${schema}.${table} could be made: ${lastError}`);
  }

  /**
   * Values for another row of a table {@link values} already made one for, built the same way
   * but not tried (parents are made as needed). The caller must check them, e.g. with a
   * service_role insert in the same batch.
   */
  async draft(schema: string, table: string, fixed: Values, owner: Owner): Promise<Values> {
    const attempt = this.#goodAttempt.get(`${schema}.${table}`) ?? 0;
    return await this.#build(schema, table, fixed, owner, 0, attempt);
  }

  /** Inserts a row as `as`, trying a few value sets; the row as returned. */
  async insert(
    schema: string,
    table: string,
    fixed: Values,
    owner: Owner,
    as: Identity,
    depth = 0,
  ): Promise<Row> {
    let lastError = "";
    for (let attempt = 0; attempt < 4; attempt++) {
      const values = await this.#build(schema, table, fixed, owner, depth, attempt);
      const { sql, params } = this.insertStatement(schema, table, values, true);
      try {
        const result = await this.#session.queryAs(as, sql, params, { keep: true });
        return result.rows[0] ?? {};
      } catch (e) {
        if (!(e instanceof ShadowSqlError)) throw e;
        lastError = e.message;
        if (!lastError.includes("check constraint") && attempt > 0) break;
      }
    }
    throw new RowSynthesisError(`no row of ${schema}.${table} could be made: ${lastError}`);
  }

  // One candidate value set (attempt n varies the synthesized values); parents are made once.
  async #build(
    schema: string,
    table: string,
    fixed: Values,
    owner: Owner,
    depth: number,
    attempt: number,
  ): Promise<Values> {
    if (depth > 4) throw new RowSynthesisError(`foreign keys nest too deep at ${schema}.${table}`);
    const columns = this.columns(schema, table);
    const hints = await this.#checkHints(schema, table);
    const values: Values = { ...fixed };
    for (const fk of this.#constraints(schema, table, "f")) {
      const nullable = fk.columns.every((c) => !columns.find((x) => x.name === c)?.notNull);
      if (fk.refSchema === "auth" && fk.refTable === "users") {
        for (const c of fk.columns) values[c] ??= owner.id;
        continue;
      }
      if (!fk.refSchema || !fk.refTable || !fk.refColumns) continue;
      if (fk.refSchema === schema && fk.refTable === table) {
        if (nullable) { for (const c of fk.columns) values[c] ??= null; }
        continue;
      }
      if (fk.columns.some((c) => c in values && values[c] === null)) continue;
      const parentFixed: Values = {};
      fk.columns.forEach((c, i) => {
        if (c in values) parentFixed[fk.refColumns![i]] = values[c];
      });
      const parentOwner = owner.columnOf(fk.refSchema, fk.refTable);
      if (parentOwner && !(parentOwner in parentFixed)) parentFixed[parentOwner] = owner.id;
      const key = `${fk.refSchema}.${fk.refTable}|${JSON.stringify(parentFixed)}`;
      // A retry gets new parents: the failure may be a key made of these foreign keys.
      let parent = attempt === 0 ? this.#parents.get(key) : undefined;
      if (!parent && fk.columns.every((c) => c in values)) {
        // The key is given (e.g. the owner's id): the parent may exist already.
        parent = await this.#find(fk.refSchema, fk.refTable, parentFixed);
      }
      if (!parent) {
        parent = await this.insert(
          fk.refSchema,
          fk.refTable,
          parentFixed,
          owner,
          SERVICE,
          depth + 1,
        );
      }
      this.#parents.set(key, parent);
      fk.columns.forEach((c, i) => {
        values[c] = textOf(parent![fk.refColumns![i]]);
      });
    }
    for (const col of columns) {
      if (col.name in values || col.identity === "a" || col.generated === "s") continue;
      if (col.default !== null || col.identity === "d" || !col.notNull) continue;
      values[col.name] = this.#valueFor(col, hints.get(col.name) ?? { values: [] }, attempt);
    }
    return values;
  }

  /**
   * `insert` of `values`, every value cast to its column's type. `returning` adds `returning *`,
   * which makes Postgres apply SELECT policies to the new row too — so probes leave it out.
   */
  insertStatement(
    schema: string,
    table: string,
    values: Values,
    returning = false,
  ): { sql: string; params: unknown[] } {
    const columns = this.columns(schema, table);
    const names = Object.keys(values);
    const tail = returning ? " returning *" : "";
    if (names.length === 0) {
      return { sql: `insert into ${tableRef(schema, table)} default values${tail}`, params: [] };
    }
    const casts = names.map((n, i) => {
      const col = columns.find((c) => c.name === n);
      return col ? `$${i + 1}::${col.type}` : `$${i + 1}`;
    });
    return {
      sql: `insert into ${tableRef(schema, table)} (${names.map(ident).join(", ")}) ` +
        `values (${casts.join(", ")})${tail}`,
      params: names.map((n) => values[n]),
    };
  }

  /** `insert` of `values` with the values inlined as literals (for a batched probe step). */
  insertSql(schema: string, table: string, values: Values): string {
    const columns = this.columns(schema, table);
    const names = Object.keys(values);
    if (names.length === 0) return `insert into ${tableRef(schema, table)} default values`;
    const items = names.map((n) => {
      const col = columns.find((c) => c.name === n);
      return `${literal(values[n])}${col ? `::${col.type}` : ""}`;
    });
    return `insert into ${tableRef(schema, table)} (${names.map(ident).join(", ")}) ` +
      `values (${items.join(", ")})`;
  }

  // The row of `schema.table` with `fixed` values, when one exists.
  async #find(schema: string, table: string, fixed: Values): Promise<Row | undefined> {
    const columns = this.columns(schema, table);
    const names = Object.keys(fixed);
    const where = names.map((n, i) => {
      const col = columns.find((c) => c.name === n);
      return `${ident(n)} = $${i + 1}${col ? `::${col.type}` : ""}`;
    });
    const sql = `select * from ${tableRef(schema, table)} where ${where.join(" and ")} limit 1`;
    const result = await this.#session.queryAs(SERVICE, sql, names.map((n) => fixed[n]));
    return result.rows[0];
  }

  // Inserts as service_role and undoes it: undefined when the row is accepted, else why not.
  async #tryInsert(schema: string, table: string, values: Values): Promise<string | undefined> {
    const { sql, params } = this.insertStatement(schema, table, values);
    try {
      await this.#session.queryAs(SERVICE, sql, params, { keep: false });
      return undefined;
    } catch (e) {
      if (e instanceof ShadowSqlError) return e.message;
      throw e;
    }
  }

  #valueFor(col: CatalogColumn, hints: ColumnHints, attempt: number): string {
    if (hints.values.length > 0) return hints.values[attempt % hints.values.length];
    const n = ++this.#counter;
    if (col.enumLabels?.length) return col.enumLabels[attempt % col.enumLabels.length];
    if (col.elementType) return "{}";
    const type = col.baseTypeName;
    // Unique per call (the counter), within the declared and checked lengths.
    const text = (s: string) => {
      const max = Math.min(col.maxLength ?? Infinity, hints.maxLength ?? Infinity);
      const min = Math.min(hints.minLength ?? 0, max);
      const padded = s.length < min ? s + "x".repeat(min - s.length) : s;
      return padded.length > max ? padded.slice(-max) : padded;
    };
    switch (type) {
      case "text":
      case "varchar":
      case "bpchar":
      case "citext":
      case "name":
        return text(attempt === 0 ? `probe-${n}` : `p${n}`);
      case "int2":
      case "int4":
      case "int8":
        return String(attempt === 0 ? n : attempt === 1 ? 1 : n * 100);
      case "numeric":
      case "float4":
      case "float8":
      case "money":
        return attempt === 0 ? "1" : String(attempt * 10);
      case "bool":
        return attempt % 2 === 0 ? "true" : "false";
      case "uuid":
        return crypto.randomUUID();
      case "date":
        return "2024-01-01";
      case "timestamptz":
      case "timestamp":
        return "2024-01-01T00:00:00Z";
      case "time":
      case "timetz":
        return "12:00";
      case "interval":
        return "1 hour";
      case "json":
      case "jsonb":
        return "{}";
      case "bytea":
        return "\\x00";
      case "inet":
      case "cidr":
        return "127.0.0.1";
      case "tsvector":
        return "";
      case "point":
        return "(0,0)";
      default:
        throw new RowSynthesisError(
          `no value can be made for column ${col.name} of type ${col.type}`,
        );
    }
  }

  // Candidate values per column, read from the table's check constraints.
  async #checkHints(schema: string, table: string): Promise<Map<string, ColumnHints>> {
    const key = `${schema}.${table}`;
    const cached = this.#hints.get(key);
    if (cached) return cached;
    const out = new Map<string, ColumnHints>();
    for (const check of this.#constraints(schema, table, "c")) {
      if (!check.checkExpression) continue;
      const expr = await parseExpression(check.checkExpression);
      if (expr) collectHints(expr, out);
    }
    this.#hints.set(key, out);
    return out;
  }
}

function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function columnOf(node: PgNode | undefined): string | undefined {
  const ref = asNode(node, "ColumnRef") ?? asNode(asNode(node, "TypeCast")?.arg, "ColumnRef");
  return stringList(ref?.fields).at(-1);
}

function constantOf(node: PgNode | undefined): string | undefined {
  const c = asNode(node, "A_Const") ?? asNode(asNode(node, "TypeCast")?.arg, "A_Const");
  if (!c) return undefined;
  if (c.sval?.sval !== undefined) return c.sval.sval;
  if (c.ival) return String(c.ival.ival ?? 0);
  if (c.fval?.fval !== undefined) return c.fval.fval;
  if (c.boolval) return String(c.boolval.boolval ?? false);
  return undefined;
}

/** What check constraints say about a column: values that pass, and string length bounds. */
interface ColumnHints {
  values: string[];
  minLength?: number;
  maxLength?: number;
}

function hintsOf(out: Map<string, ColumnHints>, column: string): ColumnHints {
  const found = out.get(column) ?? { values: [] };
  out.set(column, found);
  return found;
}

function add(out: Map<string, ColumnHints>, column: string, values: string[]): void {
  hintsOf(out, column).values.push(...values);
}

/** Reads candidate values and length bounds from a check expression's comparisons. */
function collectHints(expr: PgNode, out: Map<string, ColumnHints>): void {
  walk(expr, ({ node }) => {
    const op = asNode(node, "A_Expr");
    if (!op) return;
    const name = stringList(op.name).join();
    if (op.kind === "AEXPR_OP_ANY" && name === "=") {
      const column = columnOf(op.lexpr);
      const array = asNode(op.rexpr, "A_ArrayExpr") ??
        asNode(asNode(op.rexpr, "TypeCast")?.arg, "A_ArrayExpr");
      const values = (array?.elements ?? []).map(constantOf).filter((v): v is string =>
        v !== undefined
      );
      if (column && values.length) add(out, column, values);
      return;
    }
    if (op.kind === "AEXPR_IN" && name === "=") {
      const column = columnOf(op.lexpr);
      const list = asNode(op.rexpr, "List")?.items ?? [];
      const values = list.map(constantOf).filter((v): v is string => v !== undefined);
      if (column && values.length) add(out, column, values);
      return;
    }
    if (op.kind !== "AEXPR_OP") return;
    // length(col) / char_length(col) compared with a number: a string that long.
    const fn = asNode(op.lexpr, "FuncCall");
    const fnName = fn ? stringList(fn.funcname).at(-1) : undefined;
    const bound = Number(constantOf(op.rexpr));
    if (fn && fnName && /^(char_length|length|character_length)$/.test(fnName) && !isNaN(bound)) {
      const column = columnOf(fn.args?.[0]);
      if (!column) return;
      const h = hintsOf(out, column);
      if (name === ">" || name === ">=" || name === "=") {
        h.minLength = Math.max(h.minLength ?? 0, name === ">" ? bound + 1 : bound);
      }
      if (name === "<" || name === "<=" || name === "=") {
        h.maxLength = Math.min(h.maxLength ?? Infinity, name === "<" ? bound - 1 : bound);
      }
      return;
    }
    const column = columnOf(op.lexpr);
    if (!column || isNaN(bound)) {
      if (name === "=" && columnOf(op.lexpr) && constantOf(op.rexpr) !== undefined) {
        add(out, columnOf(op.lexpr)!, [constantOf(op.rexpr)!]);
      }
      return;
    }
    if (name === ">") add(out, column, [String(bound + 1)]);
    else if (name === ">=" || name === "=") add(out, column, [String(bound)]);
    else if (name === "<") add(out, column, [String(bound - 1)]);
    else if (name === "<=") add(out, column, [String(bound)]);
  });
}
