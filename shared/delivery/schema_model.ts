/**
 * The tables the generated pgTAP tests and fixtures are written for, one model per table,
 * projected from the shared validator's catalog (shared/validation `readCatalog`, read on the
 * shadow after the migrations applied) — never read from SQL text. Policy expressions are judged
 * on their parse trees: whether they depend on who asks (`auth.uid()`, `auth.jwt()`,
 * `auth.email()`, or an SQL helper that calls one), whether they are plainly `true`, and which
 * columns they compare with the caller's id.
 *
 * @example
 * ```ts
 * const before = await readCatalog(session);
 * // … the migrations apply …
 * const model = await schemaModel(await readCatalog(session), modelTableIds(before));
 * model.tables.filter((t) => t.delivered);
 * ```
 */
import { asNode, funcCallName, type PgNode, walk } from "../pg_ast/mod.ts";
import {
  type Catalog,
  type CatalogPolicy,
  columnsComparedToUid,
  parseExpression,
  parseSqlFile,
} from "../validation/mod.ts";
import { ident } from "./sql_text.ts";

/** Schemas the platform owns (Supabase's and ours); delivered tables are read everywhere else. */
export const PLATFORM_SCHEMAS = [
  "pg_catalog",
  "information_schema",
  "pg_toast",
  "auth",
  "realtime",
  "storage",
  "vault",
  "graphql",
  "graphql_public",
  "extensions",
  "pgmq",
  "pgsodium",
  "pgsodium_masks",
  "net",
  "cron",
  "supabase_functions",
  "supabase_migrations",
  "_realtime",
  "_analytics",
  "tests",
] as const;

/** Schemas PostgREST exposes by default: their tables must have row level security. */
export const EXPOSED_SCHEMAS = ["public"] as const;

/** A column. */
export interface ColumnModel {
  name: string;
  /** As `format_type` prints it, e.g. `numeric(18,6)`, `text[]`. */
  type: string;
  /** The type's own name with domains resolved, e.g. `uuid`, `int8`, `text`, `_text`. */
  baseType: string;
  notNull: boolean;
  hasDefault: boolean;
  /** `a` generated always as identity, `d` by default, empty otherwise. */
  identity: string;
  /** A generated (stored) column. */
  generated: boolean;
  /** Labels of an enum type, in order. */
  enumLabels: string[] | null;
  /** Declared length of a `varchar`/`char` column, else null. */
  maxLength: number | null;
}

/** A foreign key. */
export interface ForeignKeyModel {
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

/** A policy expression as Postgres stored it, and what its parse tree says. */
export interface ExpressionModel {
  text: string;
  /** Plainly `true`: every row, whoever asks. */
  alwaysTrue: boolean;
  /** Depends on who asks: calls `auth.uid()`/`auth.jwt()`/`auth.email()` or a helper that does. */
  readsIdentity: boolean;
}

/** A row level security policy. */
export interface PolicyModel {
  name: string;
  command: "select" | "insert" | "update" | "delete" | "all";
  /** Role names; `public` for all. */
  roles: string[];
  permissive: boolean;
  using: ExpressionModel | null;
  withCheck: ExpressionModel | null;
}

/** An index. */
export interface IndexModel {
  name: string;
  /**
   * Key columns as `pg_get_indexdef(index, n)` prints them (what pgTAP's `has_index` compares);
   * null when a key is an expression.
   */
  keys: string[] | null;
  unique: boolean;
  primary: boolean;
  /** Backs a primary key, unique or exclusion constraint. */
  constraint: boolean;
  partial: boolean;
}

/** A table (or partitioned table) outside the platform schemas. */
export interface TableModel {
  schema: string;
  name: string;
  /** Created by the delivered migrations (as opposed to the project's existing schema). */
  delivered: boolean;
  rls: boolean;
  columns: ColumnModel[];
  primaryKey: string[] | null;
  uniques: string[][];
  foreignKeys: ForeignKeyModel[];
  /** Columns of the table that have check constraints on them. */
  checkedColumns: string[];
  policies: PolicyModel[];
  indexes: IndexModel[];
  /** uuid columns a policy compares with the caller's id (`user_id = (select auth.uid())`). */
  ownerColumns: string[];
}

/** What the schema holds, as the tests see it. */
export interface SchemaModel {
  tables: TableModel[];
}

const COMMANDS: Record<string, PolicyModel["command"]> = {
  r: "select",
  a: "insert",
  w: "update",
  d: "delete",
  "*": "all",
};

const IDENTITY_CALLS = new Set(["auth.uid", "auth.jwt", "auth.email"]);

function isUserTable(t: Catalog["tables"][number]): boolean {
  return (t.kind === "r" || t.kind === "p") && !t.fromExtension &&
    !(PLATFORM_SCHEMAS as readonly string[]).includes(t.schema) && !t.schema.startsWith("pg_");
}

/** `schema.name` of the tables a model of `catalog` would hold. */
export function modelTableIds(catalog: Catalog): Set<string> {
  return new Set(catalog.tables.filter(isUserTable).map((t) => `${t.schema}.${t.name}`));
}

/**
 * SQL-language functions (the only ones whose bodies the catalog carries) that call an identity
 * function, directly or through one another: `schema.name` of each.
 */
async function identityHelpers(catalog: Catalog): Promise<Set<string>> {
  const calls = new Map<string, string[]>();
  for (const f of catalog.functions) {
    if (f.body === null) continue;
    const parsed = await parseSqlFile({ name: `${f.schema}.${f.name}`, sql: f.body });
    const names: string[] = [];
    walk(parsed.statements.map((s) => s.node), ({ node }) => {
      const call = asNode(node, "FuncCall");
      if (call) names.push(funcCallName(call));
    });
    const id = `${f.schema}.${f.name}`;
    calls.set(id, [...(calls.get(id) ?? []), ...names]);
  }
  const helpers = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    for (const [id, names] of calls) {
      if (!helpers.has(id) && names.some((n) => callsIdentity(n, helpers))) {
        helpers.add(id);
        changed = true;
      }
    }
  }
  return helpers;
}

// A call by name (as written) of an identity function, or of a helper (bare names: `public`).
function callsIdentity(name: string, helpers: ReadonlySet<string>): boolean {
  return IDENTITY_CALLS.has(name) || helpers.has(name.includes(".") ? name : `public.${name}`);
}

async function expressionModel(
  text: string | null,
  helpers: ReadonlySet<string>,
): Promise<ExpressionModel | null> {
  if (text === null) return null;
  const expr = await parseExpression(text);
  let readsIdentity = false;
  walk(expr, ({ node }) => {
    const call = asNode(node, "FuncCall");
    if (call && callsIdentity(funcCallName(call), helpers)) readsIdentity = true;
  });
  return { text, alwaysTrue: isTrue(expr), readsIdentity };
}

function isTrue(node: PgNode | undefined): boolean {
  const cast = asNode(node, "TypeCast");
  if (cast) return isTrue(cast.arg);
  return asNode(node, "A_Const")?.boolval?.boolval === true;
}

async function ownerColumnsOf(policies: CatalogPolicy[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of policies) {
    for (const text of [p.using, p.withCheck]) {
      const expr = text ? await parseExpression(text) : undefined;
      for (const c of expr ? columnsComparedToUid(expr) : []) out.add(c);
    }
  }
  return out;
}

/**
 * The model of every user table in `catalog`; tables whose `schema.name` is in `existing` (the
 * project's schema before the delivered migrations) are not marked as delivered.
 */
export async function schemaModel(
  catalog: Catalog,
  existing: ReadonlySet<string> = new Set(),
): Promise<SchemaModel> {
  const helpers = await identityHelpers(catalog);
  const tables: TableModel[] = [];
  for (const t of catalog.tables.filter(isUserTable)) {
    const own = <R extends { schema: string; table: string }>(rows: R[]) =>
      rows.filter((r) => r.schema === t.schema && r.table === t.name);
    const columns = own(catalog.columns).sort((a, b) => a.num - b.num);
    const constraints = own(catalog.constraints);
    const policies = own(catalog.policies);
    const primary = constraints.find((c) => c.type === "p");
    const backing = new Set(
      constraints.filter((c) => ["p", "u", "x"].includes(c.type)).map((c) => c.name),
    );
    const byNum = new Map(columns.map((c) => [c.num, c.name]));
    const compared = await ownerColumnsOf(policies);
    tables.push({
      schema: t.schema,
      name: t.name,
      delivered: !existing.has(`${t.schema}.${t.name}`),
      rls: t.rls,
      columns: columns.map((c) => ({
        name: c.name,
        type: c.type,
        baseType: c.baseTypeName,
        notNull: c.notNull,
        hasDefault: c.default !== null,
        identity: c.identity ?? "",
        generated: (c.generated ?? "") !== "",
        enumLabels: c.enumLabels,
        maxLength: c.maxLength,
      })),
      primaryKey: primary ? primary.columns : null,
      uniques: constraints.filter((c) => c.type === "u").map((c) => c.columns),
      foreignKeys: constraints.filter((c) => c.type === "f").map((c) => ({
        name: c.name,
        columns: c.columns,
        refSchema: c.refSchema ?? "",
        refTable: c.refTable ?? "",
        refColumns: c.refColumns ?? [],
      })),
      checkedColumns: [
        ...new Set(constraints.filter((c) => c.type === "c").flatMap((c) => c.columns)),
      ],
      policies: await Promise.all(policies.map(async (p) => ({
        name: p.name,
        command: COMMANDS[p.command] ?? "all",
        roles: p.roles,
        permissive: p.permissive,
        using: await expressionModel(p.using, helpers),
        withCheck: await expressionModel(p.withCheck, helpers),
      }))),
      indexes: own(catalog.indexes).map((i) => ({
        name: i.name,
        keys: i.keyNums.every((n) => byNum.has(n))
          ? i.keyNums.map((n) => ident(byNum.get(n)!))
          : null,
        unique: i.unique,
        primary: i.primary,
        constraint: backing.has(i.name),
        partial: i.predicate !== null,
      })),
      ownerColumns: columns.filter((c) => compared.has(c.name) && c.baseTypeName === "uuid")
        .map((c) => c.name),
    });
  }
  return { tables };
}
