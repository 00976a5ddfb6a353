/**
 * What the delivered migrations built, read from the catalog of the shadow database they were
 * applied to — not guessed from SQL text: tables with their columns, keys, checks, policies and
 * indexes, and which functions read the caller's identity. The pgTAP generator and the fixture
 * builder work from this; a schema snapshot of the same catalog is what the rollback check
 * compares.
 *
 * @example
 * ```ts
 * const before = await tableIds(db);
 * await db.exec(migrationSql);
 * const catalog = await readCatalog(db, before);
 * ```
 */
import type { ShadowSession } from "./shadow_port.ts";

/** Schemas the platform owns (Supabase's and ours); delivered SQL is read everywhere else. */
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
export interface CatalogColumn {
  name: string;
  /** `format_type` of the column, e.g. `numeric(18,6)`, `text[]`. */
  type: string;
  /** pg_type.typcategory of the (base) type: S string, N numeric, B boolean, D date/time, U user… */
  category: string;
  notNull: boolean;
  hasDefault: boolean;
  /** `a` generated always as identity, `d` by default, empty otherwise. */
  identity: string;
  /** Generated (stored) column. */
  generated: boolean;
  /** Labels of an enum type, in order. */
  enumLabels: string[] | null;
}

/** A foreign key. */
export interface CatalogForeignKey {
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

/** A check constraint. */
export interface CatalogCheck {
  name: string;
  columns: string[];
  definition: string;
}

/** A row level security policy. */
export interface CatalogPolicy {
  name: string;
  command: "select" | "insert" | "update" | "delete" | "all";
  /** Role names; `public` for all. */
  roles: string[];
  permissive: boolean;
  using: string | null;
  withCheck: string | null;
}

/** An index. */
export interface CatalogIndex {
  name: string;
  /** Key expressions as `pg_get_indexdef(index, n)` gives them (what pgTAP's has_index compares). */
  keys: string[];
  unique: boolean;
  primary: boolean;
  /** Backs a primary key, unique or exclusion constraint. */
  constraint: boolean;
  partial: boolean;
}

/** A table (or partitioned table). */
export interface CatalogTable {
  schema: string;
  name: string;
  /** Created by the delivered migrations (as opposed to the project's existing schema). */
  delivered: boolean;
  rls: boolean;
  columns: CatalogColumn[];
  primaryKey: string[] | null;
  uniques: string[][];
  foreignKeys: CatalogForeignKey[];
  checks: CatalogCheck[];
  policies: CatalogPolicy[];
  indexes: CatalogIndex[];
}

/** What the delivered schema holds. */
export interface SchemaCatalog {
  tables: CatalogTable[];
  /** `schema.name` of functions whose body reads `auth.uid()` or `auth.jwt()`. */
  identityFunctions: string[];
}

const excluded = PLATFORM_SCHEMAS.map((s) => `'${s}'`).join(", ");
const USER_TABLES = `
  c.relkind in ('r', 'p')
  and n.nspname not in (${excluded})
  and n.nspname not like 'pg\\_%'
  and not exists (select 1 from pg_depend d
                   where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')`;

/** Identifiers (`schema.table`) of the user tables that exist now. */
export async function tableIds(db: ShadowSession): Promise<Set<string>> {
  const rows = await db.query<{ id: string }>(`
    select n.nspname || '.' || c.relname as id
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where ${USER_TABLES}`);
  return new Set(rows.map((r) => r.id));
}

const POLICY_COMMANDS: Record<string, CatalogPolicy["command"]> = {
  r: "select",
  a: "insert",
  w: "update",
  d: "delete",
  "*": "all",
};

/** Reads every user table; those not in `existing` are marked as delivered. */
export async function readCatalog(
  db: ShadowSession,
  existing: Set<string> = new Set(),
): Promise<SchemaCatalog> {
  const tables = await db.query<{ schema: string; name: string; rls: boolean }>(`
    select n.nspname as schema, c.relname as name, c.relrowsecurity as rls
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where ${USER_TABLES}
     order by 1, 2`);
  const columns = await db.query<{
    schema: string;
    table: string;
    name: string;
    type: string;
    category: string;
    not_null: boolean;
    has_default: boolean;
    identity: string;
    generated: string;
    enum_labels: string[] | string | null;
  }>(`
    select n.nspname as schema, c.relname as table, a.attname as name,
           format_type(a.atttypid, a.atttypmod) as type,
           coalesce(bt.typcategory, t.typcategory)::text as category,
           a.attnotnull as not_null, a.atthasdef as has_default,
           a.attidentity::text as identity, a.attgenerated::text as generated,
           case when coalesce(bt.typtype, t.typtype) = 'e' then array(
             select e.enumlabel::text from pg_enum e
              where e.enumtypid = coalesce(bt.oid, t.oid) order by e.enumsortorder)
           end as enum_labels
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_type t on t.oid = a.atttypid
      left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
     where ${USER_TABLES} and a.attnum > 0 and not a.attisdropped
     order by n.nspname, c.relname, a.attnum`);
  const constraints = await db.query<{
    schema: string;
    table: string;
    name: string;
    type: string;
    columns: string[] | string;
    ref_schema: string | null;
    ref_table: string | null;
    ref_columns: string[] | string | null;
    definition: string;
  }>(`
    select n.nspname as schema, c.relname as table, k.conname as name, k.contype::text as type,
           array(select a.attname::text from unnest(k.conkey) with ordinality u(num, i)
                   join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.num
                  order by u.i) as columns,
           rn.nspname as ref_schema, rc.relname as ref_table,
           case when k.contype = 'f' then array(
             select a.attname::text from unnest(k.confkey) with ordinality u(num, i)
               join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.num
              order by u.i) end as ref_columns,
           pg_get_constraintdef(k.oid) as definition
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_class rc on rc.oid = k.confrelid
      left join pg_namespace rn on rn.oid = rc.relnamespace
     where ${USER_TABLES} and k.contype in ('p', 'u', 'f', 'c')
     order by n.nspname, c.relname, k.conname`);
  const policies = await db.query<{
    schema: string;
    table: string;
    name: string;
    cmd: string;
    permissive: boolean;
    roles: string[] | string;
    using: string | null;
    with_check: string | null;
  }>(`
    select n.nspname as schema, c.relname as table, p.polname as name, p.polcmd::text as cmd,
           p.polpermissive as permissive,
           array(select case when r = 0 then 'public' else (select rolname::text from pg_roles
                                                            where oid = r) end
                   from unnest(p.polroles) r order by 1) as roles,
           pg_get_expr(p.polqual, p.polrelid) as using,
           pg_get_expr(p.polwithcheck, p.polrelid) as with_check
      from pg_policy p
      join pg_class c on c.oid = p.polrelid
      join pg_namespace n on n.oid = c.relnamespace
     where ${USER_TABLES}
     order by n.nspname, c.relname, p.polname`);
  const indexes = await db.query<{
    schema: string;
    table: string;
    name: string;
    keys: string[] | string;
    unique: boolean;
    primary: boolean;
    is_constraint: boolean;
    partial: boolean;
  }>(`
    select n.nspname as schema, c.relname as table, ic.relname as name,
           array(select pg_get_indexdef(x.indexrelid, s.i, false)
                   from generate_series(1, x.indnatts) s(i) order by s.i) as keys,
           x.indisunique as unique, x.indisprimary as primary,
           exists (select 1 from pg_constraint k where k.conindid = x.indexrelid) as is_constraint,
           x.indpred is not null as partial
      from pg_index x
      join pg_class c on c.oid = x.indrelid
      join pg_class ic on ic.oid = x.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
     where ${USER_TABLES}
     order by n.nspname, c.relname, ic.relname`);
  const functions = await db.query<{ id: string }>(`
    select distinct n.nspname || '.' || p.proname as id
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname not in (${excluded}) and n.nspname not like 'pg\\_%'
       and p.prosrc ~* 'auth\\.(uid|jwt)\\s*\\('
     order by 1`);

  const key = (schema: string, table: string) => `${schema}.${table}`;
  const byTable = <R extends { schema: string; table: string }>(rows: R[]) => {
    const map = new Map<string, R[]>();
    for (const row of rows) {
      const k = key(row.schema, row.table);
      map.set(k, [...(map.get(k) ?? []), row]);
    }
    return map;
  };
  const cols = byTable(columns);
  const cons = byTable(constraints);
  const pols = byTable(policies);
  const idxs = byTable(indexes);

  return {
    identityFunctions: functions.map((f) => f.id),
    tables: tables.map((t) => {
      const k = key(t.schema, t.name);
      const own = cons.get(k) ?? [];
      const primary = own.find((c) => c.type === "p");
      return {
        schema: t.schema,
        name: t.name,
        delivered: !existing.has(k),
        rls: t.rls,
        columns: (cols.get(k) ?? []).map((c) => ({
          name: c.name,
          type: c.type,
          category: c.category,
          notNull: c.not_null,
          hasDefault: c.has_default,
          identity: c.identity ?? "",
          generated: (c.generated ?? "") !== "",
          enumLabels: c.enum_labels === null ? null : textArray(c.enum_labels),
        })),
        primaryKey: primary ? textArray(primary.columns) : null,
        uniques: own.filter((c) => c.type === "u").map((c) => textArray(c.columns)),
        foreignKeys: own.filter((c) => c.type === "f").map((c) => ({
          name: c.name,
          columns: textArray(c.columns),
          refSchema: c.ref_schema ?? "",
          refTable: c.ref_table ?? "",
          refColumns: textArray(c.ref_columns ?? []),
        })),
        checks: own.filter((c) => c.type === "c").map((c) => ({
          name: c.name,
          columns: textArray(c.columns),
          definition: c.definition,
        })),
        policies: (pols.get(k) ?? []).map((p) => ({
          name: p.name,
          command: POLICY_COMMANDS[p.cmd] ?? "all",
          roles: textArray(p.roles),
          permissive: p.permissive,
          using: p.using,
          withCheck: p.with_check,
        })),
        indexes: (idxs.get(k) ?? []).map((i) => ({
          name: i.name,
          keys: textArray(i.keys),
          unique: i.unique,
          primary: i.primary,
          constraint: i.is_constraint,
          partial: i.partial,
        })),
      };
    }),
  };
}

/**
 * A text snapshot of everything user SQL can create outside the platform schemas (schemas,
 * relations, columns, functions, policies, triggers, types, extensions): equal snapshots mean the
 * same schema, which is what a rollback must restore.
 */
export async function schemaSnapshot(db: ShadowSession): Promise<string[]> {
  const rows = await db.query<{ item: string }>(`
    with user_ns as (
      select oid, nspname from pg_namespace
       where nspname not in (${excluded}) and nspname not like 'pg\\_%'
    )
    select 'schema ' || nspname as item from user_ns
    union all
    select 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
      from pg_class c join user_ns n on n.oid = c.relnamespace
    union all
    select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' '
           || format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      join user_ns n on n.oid = c.relnamespace
     where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm')
    union all
    select 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
      from pg_proc p join user_ns n on n.oid = p.pronamespace
    union all
    select 'policy ' || c.oid::regclass::text || ' ' || p.polname
      from pg_policy p join pg_class c on c.oid = p.polrelid
    union all
    select 'trigger ' || t.tgrelid::regclass::text || ' ' || t.tgname
      from pg_trigger t where not t.tgisinternal
    union all
    select 'type ' || n.nspname || '.' || t.typname
      from pg_type t join user_ns n on n.oid = t.typnamespace
     where t.typtype in ('e', 'd') or (t.typtype = 'c' and
           (select relkind from pg_class where oid = t.typrelid) = 'c')
    union all
    select 'extension ' || extname from pg_extension where extname not in ('plpgsql', 'pgtap')
    union all
    select 'rls ' || c.oid::regclass::text
      from pg_class c join user_ns n on n.oid = c.relnamespace where c.relrowsecurity
    order by 1`);
  return rows.map((r) => r.item);
}

/** Postgres arrays arrive as arrays (postgres.js, PGlite) or, for some types, as `{a,b}` text. */
function textArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value.map(String);
  const inner = value.replace(/^\{|\}$/g, "");
  if (inner === "") return [];
  return inner.split(",").map((s) => s.replace(/^"|"$/g, ""));
}
