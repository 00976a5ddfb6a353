/**
 * What the shadow's catalog says about the schema, read with a handful of queries that work on
 * PostgreSQL 15 and on PGlite's 18 alike, into plain data. Lints, probes and the rollback
 * comparison all work from this one model, so they agree on what a table, a policy or an index
 * is. System schemas are left out; the platform's own schemas (`auth`, `realtime`, …) are kept,
 * since user SQL may add triggers or policies there.
 *
 * @example
 * ```ts
 * const catalog = await readCatalog(session);
 * const unprotected = catalog.tables.filter((t) => t.kind === "r" && !t.rls);
 * ```
 */
import { ShadowClosedError, type ShadowSession } from "../shadow/mod.ts";

/**
 * Time allowed to the validator's own statements (catalog reads, probe batches): they run no
 * migration SQL directly, but a fresh instance's first catalog read can be slow on a busy machine,
 * and a probe batch runs the migration's policies and triggers many times over. The shadow's
 * statement timeout, meant for migration statements, would be too short.
 */
export const CHECK_TIMEOUT_MS = 20_000;

/** A table, view, materialized view or foreign table. */
export interface CatalogTable {
  schema: string;
  name: string;
  /** `r` table, `p` partitioned table, `v` view, `m` materialized view, `f` foreign table. */
  kind: string;
  rls: boolean;
  forceRls: boolean;
  options: string[];
  acl: string | null;
  /**
   * Whether `anon` / `authenticated` hold any of select, insert, update, delete on the table or
   * on any of its columns.
   */
  anonAccess: boolean;
  authenticatedAccess: boolean;
  anonSelect: boolean;
  authenticatedSelect: boolean;
  fromExtension: boolean;
  /** Views: whether the definition reads `auth.users`. */
  readsAuthUsers: boolean;
  /** Views: the definition (normalised by Postgres). */
  definition: string | null;
}

/** A column. */
export interface CatalogColumn {
  schema: string;
  table: string;
  name: string;
  num: number;
  /** As `format_type` prints it, e.g. `character varying(20)`, `timestamp with time zone`. */
  type: string;
  /** The type's own name, e.g. `varchar`, `timestamptz`, `_text`, or an enum's name. */
  typeName: string;
  /** The schema of the column's type (`pg_catalog` for built-in types). */
  typeSchema: string;
  /** For domains, the base type's name; otherwise `typeName`. */
  baseTypeName: string;
  /** `e` enum, `d` domain, `b` base, `c` composite, … */
  typeKind: string;
  /** Element type name for arrays. */
  elementType: string | null;
  enumLabels: string[] | null;
  notNull: boolean;
  default: string | null;
  /** `a` always, `d` by default, '' none. */
  identity: string;
  /** `s` stored generated column, '' none. */
  generated: string;
  /** Declared length for varchar/char (from the type modifier), else null. */
  maxLength: number | null;
}

/** A constraint (not-null constraints of PG 18 are left out, as PG 15 has none). */
export interface CatalogConstraint {
  schema: string;
  table: string;
  name: string;
  /** `p` primary key, `u` unique, `f` foreign key, `c` check, `x` exclusion, `t` trigger. */
  type: string;
  definition: string;
  columns: string[];
  columnNums: number[];
  refSchema: string | null;
  refTable: string | null;
  refColumns: string[] | null;
  /** Check constraints: the expression as Postgres prints it. */
  checkExpression: string | null;
  /**
   * Foreign keys: whether the referenced key is the referenced table's primary key (false for a
   * unique constraint or index); null for other constraints.
   */
  refPrimary: boolean | null;
}

/** An index. */
export interface CatalogIndex {
  schema: string;
  table: string;
  name: string;
  definition: string;
  /** Key column numbers in order (0 for an expression). */
  keyNums: number[];
  /** Non-key (`include (...)`) column numbers in order. */
  includeNums: number[];
  /** Per key column sort options (`indoption`: 1 desc, 2 nulls first), space separated. */
  sortOptions: string;
  /** `unique nulls not distinct` (PostgreSQL 15+). */
  nullsNotDistinct: boolean;
  unique: boolean;
  primary: boolean;
  expressions: string | null;
  predicate: string | null;
  opclasses: string;
  collations: string;
  method: string;
}

/** A row level security policy. */
export interface CatalogPolicy {
  schema: string;
  table: string;
  name: string;
  /** `r` select, `a` insert, `w` update, `d` delete, `*` all. */
  command: string;
  permissive: boolean;
  /** Role names; `public` for every role. */
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

/** A function or procedure. */
export interface CatalogFunction {
  schema: string;
  name: string;
  args: string;
  kind: string;
  language: string;
  securityDefiner: boolean;
  config: string[];
  fromExtension: boolean;
  /**
   * Hash of the full definition, for comparisons — only for functions the migrations' role owns
   * (the platform's cannot be replaced by it, and hashing them all is most of a catalog read).
   */
  definitionHash: string | null;
  acl: string | null;
  /** Whether it returns `trigger` or `event_trigger` (callable only as a trigger, never by RPC). */
  returnsTrigger: boolean;
  /** Whether `anon` / `authenticated` may execute it (directly or through PUBLIC). */
  anonExecute: boolean;
  authenticatedExecute: boolean;
  /** SQL-language body, for following helper functions called from policies. */
  body: string | null;
}

/** A trigger. */
export interface CatalogTrigger {
  schema: string;
  table: string;
  name: string;
  definition: string;
}

/** An extension. */
export interface CatalogExtension {
  name: string;
  schema: string;
}

/** A user-defined type (enum, domain, composite). */
export interface CatalogType {
  schema: string;
  name: string;
  kind: string;
  detail: string;
}

/** The schema as the catalog describes it. */
export interface Catalog {
  schemas: string[];
  /** Schemas `anon` or `authenticated` hold USAGE on. */
  apiSchemas: string[];
  tables: CatalogTable[];
  columns: CatalogColumn[];
  constraints: CatalogConstraint[];
  indexes: CatalogIndex[];
  policies: CatalogPolicy[];
  functions: CatalogFunction[];
  triggers: CatalogTrigger[];
  extensions: CatalogExtension[];
  types: CatalogType[];
  sequences: string[];
}

const USER_SCHEMA = (alias: string) =>
  `${alias}.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
   and ${alias}.nspname not like 'pg\\_temp\\_%' and ${alias}.nspname not like 'pg\\_toast\\_temp\\_%'`;

const TABLES = `
select n.nspname as schema, c.relname as name, c.relkind::text as kind,
       c.relrowsecurity as rls, c.relforcerowsecurity as "forceRls",
       coalesce(c.reloptions, '{}')::text[] as options, c.relacl::text as acl,
       (has_table_privilege('anon', c.oid, 'select,insert,update,delete') or
        has_any_column_privilege('anon', c.oid, 'select,insert,update')) as "anonAccess",
       (has_table_privilege('authenticated', c.oid, 'select,insert,update,delete') or
        has_any_column_privilege('authenticated', c.oid, 'select,insert,update'))
         as "authenticatedAccess",
       has_table_privilege('anon', c.oid, 'select') as "anonSelect",
       has_table_privilege('authenticated', c.oid, 'select') as "authenticatedSelect",
       exists (select 1 from pg_depend d
               where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
         as "fromExtension",
       (c.relkind in ('v', 'm') and exists (
          select 1 from pg_rewrite r join pg_depend d
            on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
          where r.ev_class = c.oid and d.refobjid = to_regclass('auth.users'))) as "readsAuthUsers",
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and ${USER_SCHEMA("n")}
order by 1, 2`;

const COLUMNS = `
select n.nspname as schema, c.relname as table, a.attname as name, a.attnum::int as num,
       format_type(a.atttypid, a.atttypmod) as type, t.typname as "typeName",
       tn.nspname as "typeSchema",
       coalesce(bt.typname, t.typname) as "baseTypeName", t.typtype::text as "typeKind",
       et.typname as "elementType",
       case when t.typtype = 'e' then (
         select array_agg(e.enumlabel::text order by e.enumsortorder)
         from pg_enum e where e.enumtypid = t.oid) end as "enumLabels",
       a.attnotnull as "notNull", pg_get_expr(ad.adbin, ad.adrelid) as default,
       a.attidentity::text as identity, a.attgenerated::text as generated,
       case when coalesce(bt.typname, t.typname) in ('varchar', 'bpchar') and
                 coalesce(nullif(a.atttypmod, -1), t.typtypmod) > 4
            then coalesce(nullif(a.atttypmod, -1), t.typtypmod) - 4 end as "maxLength"
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
join pg_namespace tn on tn.oid = t.typnamespace
left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and ${USER_SCHEMA("n")}
order by 1, 2, 4`;

const CONSTRAINTS = `
select n.nspname as schema, c.relname as table, co.conname as name, co.contype::text as type,
       pg_get_constraintdef(co.oid) as definition,
       coalesce((select array_agg(a.attname::text order by k.ord)
                 from unnest(co.conkey) with ordinality k(num, ord)
                 join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.num), '{}')
         as columns,
       coalesce(co.conkey::int[], '{}') as "columnNums",
       fn.nspname as "refSchema", fc.relname as "refTable",
       (select array_agg(a.attname::text order by k.ord)
        from unnest(co.confkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = co.confrelid and a.attnum = k.num) as "refColumns",
       case when co.contype = 'c' then pg_get_expr(co.conbin, co.conrelid) end
         as "checkExpression",
       case when co.contype = 'f' then coalesce(
         (select ri.indisprimary from pg_index ri where ri.indexrelid = co.conindid), false)
       end as "refPrimary"
from pg_constraint co
join pg_class c on c.oid = co.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = co.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where co.contype in ('p', 'u', 'f', 'c', 'x', 't') and ${USER_SCHEMA("n")}
order by 1, 2, 3`;

const INDEXES = `
select n.nspname as schema, t.relname as table, i.relname as name,
       pg_get_indexdef(i.oid) as definition,
       (string_to_array(x.indkey::text, ' ')::int[])[1:x.indnkeyatts] as "keyNums",
       coalesce((string_to_array(x.indkey::text, ' ')::int[])[x.indnkeyatts + 1:x.indnatts],
                '{}') as "includeNums",
       x.indoption::text as "sortOptions", x.indnullsnotdistinct as "nullsNotDistinct",
       x.indisunique as unique, x.indisprimary as primary,
       pg_get_expr(x.indexprs, x.indrelid) as expressions,
       pg_get_expr(x.indpred, x.indrelid) as predicate,
       x.indclass::text as opclasses, x.indcollation::text as collations, am.amname as method
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class t on t.oid = x.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_am am on am.oid = i.relam
where ${USER_SCHEMA("n")}
order by 1, 2, 3`;

const POLICIES = `
select n.nspname as schema, c.relname as table, p.polname as name, p.polcmd::text as command,
       p.polpermissive as permissive,
       case when p.polroles = '{0}'::oid[] then array['public']
            else (select array_agg(r.rolname::text order by r.rolname)
                  from pg_roles r where r.oid = any (p.polroles)) end as roles,
       pg_get_expr(p.polqual, p.polrelid) as using,
       pg_get_expr(p.polwithcheck, p.polrelid) as "withCheck"
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace n on n.oid = c.relnamespace
order by 1, 2, 3`;

const FUNCTIONS = `
select n.nspname as schema, p.proname as name,
       pg_get_function_identity_arguments(p.oid) as args, p.prokind::text as kind,
       l.lanname as language, p.prosecdef as "securityDefiner",
       coalesce(p.proconfig, '{}')::text[] as config,
       exists (select 1 from pg_depend d
               where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
         as "fromExtension",
       case when p.prokind in ('f', 'p') and p.proowner = current_user::regrole
            then md5(pg_get_functiondef(p.oid)) end as "definitionHash",
       p.proacl::text as acl,
       p.prorettype in ('trigger'::regtype, 'event_trigger'::regtype) as "returnsTrigger",
       has_function_privilege('anon', p.oid, 'execute') as "anonExecute",
       has_function_privilege('authenticated', p.oid, 'execute') as "authenticatedExecute",
       case when l.lanname = 'sql' and p.proowner = current_user::regrole then p.prosrc end
         as body
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where ${USER_SCHEMA("n")}
order by 1, 2, 3`;

const TRIGGERS = `
select n.nspname as schema, c.relname as table, t.tgname as name,
       pg_get_triggerdef(t.oid) as definition
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
where not t.tgisinternal and ${USER_SCHEMA("n")}
order by 1, 2, 3`;

const EXTENSIONS = `
select e.extname as name, n.nspname as schema
from pg_extension e join pg_namespace n on n.oid = e.extnamespace
order by 1`;

const TYPES = `
select n.nspname as schema, t.typname as name, t.typtype::text as kind,
       case t.typtype
         when 'e' then (select string_agg(e.enumlabel, ',' order by e.enumsortorder)
                        from pg_enum e where e.enumtypid = t.oid)
         when 'd' then format_type(t.typbasetype, t.typtypmod) || coalesce(
           (select ' ' || string_agg(pg_get_constraintdef(co.oid), ' ' order by co.conname)
            from pg_constraint co where co.contypid = t.oid), '')
         else (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
                                 order by a.attnum)
               from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0)
       end as detail
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
where (t.typtype in ('e', 'd')
       or (t.typtype = 'c' and (select relkind from pg_class where oid = t.typrelid) = 'c'))
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
  and ${USER_SCHEMA("n")}
order by 1, 2`;

const SCHEMAS = `
select n.nspname as name from pg_namespace n where ${USER_SCHEMA("n")} order by 1`;

const API_SCHEMAS = `
select n.nspname as name from pg_namespace n
where ${USER_SCHEMA("n")} and (has_schema_privilege('anon', n.oid, 'usage') or
                               has_schema_privilege('authenticated', n.oid, 'usage'))
order by 1`;

const SEQUENCES = `
select n.nspname || '.' || c.relname as name
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'S' and ${USER_SCHEMA("n")}
order by 1`;

// The whole model in one round trip: each part as a JSON array of its rows.
const PARTS = {
  schemas: SCHEMAS,
  apiSchemas: API_SCHEMAS,
  tables: TABLES,
  columns: COLUMNS,
  constraints: CONSTRAINTS,
  indexes: INDEXES,
  policies: POLICIES,
  functions: FUNCTIONS,
  triggers: TRIGGERS,
  extensions: EXTENSIONS,
  types: TYPES,
  sequences: SEQUENCES,
};
const CATALOG = `select json_build_object(${
  Object.entries(PARTS).map(([name, sql]) =>
    `'${name}', (select coalesce(json_agg(p), '[]'::json) from (${sql}) p)`
  ).join(",\n")
}) as catalog`;

/** Reads the whole catalog model (one query). */
export async function readCatalog(session: ShadowSession): Promise<Catalog> {
  // Prepared: planning this query costs more than running it on a fresh database.
  const [row] = await session.query<{ catalog: unknown }>(CATALOG, [], {
    timeoutMs: CHECK_TIMEOUT_MS,
    prepare: true,
  });
  if (!row) throw new ShadowClosedError("the shadow database stopped answering");
  const raw = (typeof row.catalog === "string" ? JSON.parse(row.catalog) : row.catalog) as
    & Omit<Catalog, "schemas" | "apiSchemas" | "sequences">
    & {
      schemas: { name: string }[];
      apiSchemas: { name: string }[];
      sequences: { name: string }[];
    };
  return {
    ...raw,
    schemas: raw.schemas.map((r) => r.name),
    apiSchemas: raw.apiSchemas.map((r) => r.name),
    sequences: raw.sequences.map((r) => r.name),
  };
}

/** `schema.name` of a catalog object. */
export function qualified(o: { schema: string; name: string }): string {
  return `${o.schema}.${o.name}`;
}
