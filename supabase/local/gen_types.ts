/**
 * `deno task gen:types`: writes `shared/db/database.types.ts`, the TypeScript types of the product's
 * database in the shape `supabase gen types typescript --schema backend_team` produces (a `Json`
 * type, `Database[schema]["Tables"][table]["Row" | "Insert" | "Update" | "Relationships"]`, `Views`,
 * `Functions` with `Args`/`Returns`, `Enums`, `CompositeTypes`, and the `Tables<…>` helpers). The
 * Supabase CLI needs Docker, which these machines lack, so the catalog is read here directly: from a
 * throw-away database built from the platform SQL and `migrations/` (on `DATABASE_URL`'s server or
 * the local cluster), so the file depends on the migrations alone. `--db-url=<url>` reads an
 * existing database instead; `--check` only reports whether the committed file is up to date.
 *
 * @example
 * ```sh
 * deno task gen:types            # regenerate shared/db/database.types.ts
 * deno task gen:types --check    # exit 1 when it is out of date (CI)
 * ```
 */
import { fileURLToPath } from "node:url";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { pushProductMigrations } from "./supabase_cli.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { ensureCluster } from "./postgres_cluster.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Where the generated types are committed. */
export const TYPES_FILE = fileURLToPath(
  new URL("../../shared/db/database.types.ts", import.meta.url),
);

/** The schemas the product owns (what `--schema` would name for the Supabase CLI). */
export const PRODUCT_SCHEMAS: readonly string[] = ["backend_team"];

// Catalog ------------------------------------------------------------------------------------------

interface PgType {
  id: number;
  schema: string;
  name: string;
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  kind: string;
  category: string;
  elementId: number;
  baseId: number;
  relationId: number;
}

interface Column {
  name: string;
  typeId: number;
  nullable: boolean;
  hasDefault: boolean;
  /** Identity `GENERATED ALWAYS` or a generated column: never written. */
  neverWritten: boolean;
}

interface Relation {
  id: number;
  schema: string;
  name: string;
  kind: "table" | "view";
  columns: Column[];
}

interface ForeignKey {
  name: string;
  tableId: number;
  columns: string[];
  referencedSchema: string;
  referencedRelation: string;
  referencedColumns: string[];
  oneToOne: boolean;
}

interface FunctionArg {
  name: string;
  typeId: number;
  /** i in, o out, b inout, v variadic, t table column. */
  mode: string;
  hasDefault: boolean;
}

interface PgFunction {
  schema: string;
  name: string;
  signature: string;
  args: FunctionArg[];
  returnTypeId: number;
  returnsSet: boolean;
}

/** What the generator reads from the catalog. */
export interface Catalog {
  schemas: string[];
  types: Map<number, PgType>;
  enumLabels: Map<number, string[]>;
  relations: Relation[];
  compositeAttributes: Map<number, Column[]>;
  foreignKeys: ForeignKey[];
  functions: PgFunction[];
}

/** Reads tables, views, columns, foreign keys, functions, enums and composite types of `schemas`. */
export async function readCatalog(sql: Sql, schemas: readonly string[]): Promise<Catalog> {
  const types = await sql`
    select t.oid::int as id, n.nspname as schema, t.typname as name, t.typtype as kind,
           t.typcategory as category, t.typelem::int as element_id,
           t.typbasetype::int as base_id, t.typrelid::int as relation_id
    from pg_type t join pg_namespace n on n.oid = t.typnamespace`;
  const labels = await sql`
    select enumtypid::int as type_id, enumlabel as label from pg_enum
    order by enumtypid, enumsortorder`;
  const relations = await sql`
    select c.oid::int as id, n.nspname as schema, c.relname as name,
           case when c.relkind in ('v', 'm') then 'view' else 'table' end as kind
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}) and c.relkind in ('r', 'p', 'f', 'v', 'm')
      and not c.relispartition`;
  const composites = await sql`
    select c.oid::int as id from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}) and c.relkind = 'c'`;
  const relationIds = [...relations, ...composites].map((r) => r.id as number);
  const columns = await sql`
    select a.attrelid::int as relation_id, a.attname as name, a.atttypid::int as type_id,
           not a.attnotnull as nullable, a.atthasdef or a.attidentity <> '' as has_default,
           a.attidentity = 'a' or a.attgenerated <> '' as never_written
    from pg_attribute a
    where a.attrelid = any(${relationIds}::oid[]) and a.attnum > 0 and not a.attisdropped`;
  const foreignKeys = await sql`
    select k.conname as name, k.conrelid::int as table_id,
           array(select a.attname::text from unnest(k.conkey) with ordinality u(num, i)
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.num
                 order by u.i) as columns,
           rn.nspname as referenced_schema, rc.relname as referenced_relation,
           array(select a.attname::text from unnest(k.confkey) with ordinality u(num, i)
                 join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.num
                 order by u.i) as referenced_columns,
           exists (select 1 from pg_index i
                   where i.indrelid = k.conrelid and i.indisunique and i.indpred is null
                     and i.indnkeyatts = cardinality(k.conkey)
                     and (i.indkey::int2[])[0:cardinality(k.conkey) - 1] @> k.conkey
                     and (i.indkey::int2[])[0:cardinality(k.conkey) - 1] <@ k.conkey)
             as one_to_one
    from pg_constraint k
    join pg_class rc on rc.oid = k.confrelid
    join pg_namespace rn on rn.oid = rc.relnamespace
    where k.contype = 'f' and k.conrelid = any(${relationIds}::oid[])`;
  const functions = await sql`
    select n.nspname as schema, p.proname as name, p.oid::regprocedure::text as signature,
           -- proargtypes is an oidvector, whose array form starts at index 0; unnest re-bases it.
           array(select t::int
                 from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                   with ordinality u(t, i)
                 order by u.i) as arg_types,
           coalesce(p.proargmodes::text[], array_fill('i'::text, array[p.pronargs::int]))
             as arg_modes,
           coalesce(p.proargnames, '{}') as arg_names,
           p.pronargs::int as input_count, p.pronargdefaults::int as default_count,
           p.prorettype::int as return_type_id, p.proretset as returns_set
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = any(${schemas as string[]}) and p.prokind = 'f'
      and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)`;

  const columnsOf = new Map<number, Column[]>();
  for (const c of columns) {
    const list = columnsOf.get(c.relation_id) ?? [];
    list.push({
      name: c.name,
      typeId: c.type_id,
      nullable: c.nullable,
      hasDefault: c.has_default,
      neverWritten: c.never_written,
    });
    columnsOf.set(c.relation_id, list);
  }
  const enumLabels = new Map<number, string[]>();
  for (const l of labels) {
    enumLabels.set(l.type_id, [...(enumLabels.get(l.type_id) ?? []), l.label]);
  }

  return {
    schemas: [...schemas],
    types: new Map(types.map((t) => [t.id, {
      id: t.id,
      schema: t.schema,
      name: t.name,
      kind: t.kind,
      category: t.category,
      elementId: t.element_id,
      baseId: t.base_id,
      relationId: t.relation_id,
    }])),
    enumLabels,
    relations: relations.map((r) => ({
      id: r.id,
      schema: r.schema,
      name: r.name,
      kind: r.kind,
      columns: columnsOf.get(r.id) ?? [],
    })),
    compositeAttributes: new Map(composites.map((c) => [c.id, columnsOf.get(c.id) ?? []])),
    foreignKeys: foreignKeys.map((k) => ({
      name: k.name,
      tableId: k.table_id,
      columns: k.columns,
      referencedSchema: k.referenced_schema,
      referencedRelation: k.referenced_relation,
      referencedColumns: k.referenced_columns,
      oneToOne: k.one_to_one,
    })),
    functions: functions.map((f) => {
      // The last `default_count` input arguments have defaults.
      let inputIndex = 0;
      return {
        schema: f.schema,
        name: f.name,
        signature: f.signature,
        returnTypeId: f.return_type_id,
        returnsSet: f.returns_set,
        args: (f.arg_types as number[]).map((typeId, i) => {
          const mode = f.arg_modes[i] as string;
          const isInput = mode === "i" || mode === "b" || mode === "v";
          const hasDefault = isInput && inputIndex++ >= f.input_count - f.default_count;
          return { name: f.arg_names[i] ?? "", typeId, mode, hasDefault };
        }),
      };
    }),
  };
}

// Rendering --------------------------------------------------------------------------------------

const BASE_TYPES: Record<string, string> = {
  bool: "boolean",
  int2: "number",
  int4: "number",
  int8: "number",
  float4: "number",
  float8: "number",
  numeric: "number",
  oid: "number",
  json: "Json",
  jsonb: "Json",
  void: "undefined",
  record: "Record<string, unknown>",
};
const STRING_TYPES = new Set([
  "text",
  "varchar",
  "bpchar",
  "char",
  "name",
  "citext",
  "uuid",
  "date",
  "time",
  "timetz",
  "timestamp",
  "timestamptz",
  "interval",
  "bytea",
  "inet",
  "cidr",
  "macaddr",
  "tsvector",
]);

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function key(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

function path(...parts: string[]): string {
  return `Database${parts.map((p) => `[${JSON.stringify(p)}]`).join("")}`;
}

/** The TypeScript type of a Postgres type, as the Supabase generator maps it. */
function tsType(catalog: Catalog, typeId: number): string {
  const type = catalog.types.get(typeId);
  if (!type) return "unknown";
  const generated = catalog.schemas.includes(type.schema);
  switch (type.kind) {
    case "d":
      return tsType(catalog, type.baseId);
    case "e":
      return generated
        ? path(type.schema, "Enums", type.name)
        : (catalog.enumLabels.get(type.id) ?? []).map((l) => JSON.stringify(l)).join(" | ") ||
          "never";
    case "c": {
      const relation = catalog.relations.find((r) => r.id === type.relationId);
      if (relation) {
        return path(
          relation.schema,
          relation.kind === "view" ? "Views" : "Tables",
          relation.name,
          "Row",
        );
      }
      return generated ? path(type.schema, "CompositeTypes", type.name) : "unknown";
    }
  }
  if (type.category === "A" && type.elementId !== 0) {
    const element = tsType(catalog, type.elementId);
    return /^[\w.$"[\]]+$/.test(element) ? `${element}[]` : `(${element})[]`;
  }
  if (STRING_TYPES.has(type.name)) return "string";
  return BASE_TYPES[type.name] ?? "unknown";
}

function orNull(type: string, nullable: boolean): string {
  return nullable ? `${type} | null` : type;
}

function renderRow(catalog: Catalog, columns: Column[]): string {
  return `{\n${
    [...columns].sort(byName).map((c) =>
      `${key(c.name)}: ${orNull(tsType(catalog, c.typeId), c.nullable)};`
    ).join("\n")
  }\n}`;
}

function renderWrite(catalog: Catalog, columns: Column[], mode: "Insert" | "Update"): string {
  return `{\n${
    [...columns].sort(byName).map((c) => {
      if (c.neverWritten) return `${key(c.name)}?: never;`;
      const optional = mode === "Update" || c.nullable || c.hasDefault ? "?" : "";
      return `${key(c.name)}${optional}: ${orNull(tsType(catalog, c.typeId), c.nullable)};`;
    }).join("\n")
  }\n}`;
}

function renderRelationships(catalog: Catalog, relation: Relation): string {
  // Like Supabase: only keys to relations of the same schema (PostgREST cannot embed others).
  const keys = catalog.foreignKeys
    .filter((k) => k.tableId === relation.id && k.referencedSchema === relation.schema)
    .sort((a, b) => byName(a, b) || (a.referencedRelation < b.referencedRelation ? -1 : 1));
  if (keys.length === 0) return "[]";
  return `[\n${
    keys.map((k) =>
      `{
        foreignKeyName: ${JSON.stringify(k.name)};
        columns: ${JSON.stringify(k.columns)};
        isOneToOne: ${k.oneToOne};
        referencedRelation: ${JSON.stringify(k.referencedRelation)};
        referencedColumns: ${JSON.stringify(k.referencedColumns)};
      },`
    ).join("\n")
  }\n]`;
}

function renderRelations(catalog: Catalog, schema: string, kind: Relation["kind"]): string {
  const relations = catalog.relations.filter((r) => r.schema === schema && r.kind === kind)
    .sort(byName);
  if (relations.length === 0) return "{\n[_ in never]: never;\n}";
  return `{\n${
    relations.map((r) => {
      const members = [`Row: ${renderRow(catalog, r.columns)};`];
      if (kind === "table") {
        members.push(`Insert: ${renderWrite(catalog, r.columns, "Insert")};`);
        members.push(`Update: ${renderWrite(catalog, r.columns, "Update")};`);
      }
      members.push(`Relationships: ${renderRelationships(catalog, r)};`);
      return `${key(r.name)}: {\n${members.join("\n")}\n};`;
    }).join("\n")
  }\n}`;
}

function renderArgs(catalog: Catalog, fn: PgFunction): string {
  const inputs = fn.args.filter((a) => a.mode === "i" || a.mode === "b" || a.mode === "v");
  if (inputs.length === 0) return "never";
  return `{ ${
    inputs.map((a) => `${key(a.name)}${a.hasDefault ? "?" : ""}: ${tsType(catalog, a.typeId)};`)
      .join(" ")
  } }`;
}

function renderReturns(catalog: Catalog, fn: PgFunction): string {
  const set = fn.returnsSet ? "[]" : "";
  const tableColumns = fn.args.filter((a) => a.mode === "t");
  if (tableColumns.length > 0) {
    return `{\n${
      tableColumns.map((a) => `${key(a.name)}: ${tsType(catalog, a.typeId)};`).join("\n")
    }\n}${set}`;
  }
  const type = catalog.types.get(fn.returnTypeId);
  const relation = type && catalog.relations.find((r) => r.id === type.relationId);
  if (relation) return `${renderRow(catalog, relation.columns)}${set}`;
  const scalar = tsType(catalog, fn.returnTypeId);
  return set && !/^[\w.$"[\]]+$/.test(scalar) ? `(${scalar})[]` : `${scalar}${set}`;
}

function renderFunctions(catalog: Catalog, schema: string): string {
  const byFunctionName = new Map<string, PgFunction[]>();
  for (const fn of catalog.functions.filter((f) => f.schema === schema)) {
    // Like Supabase: functions whose inputs are all named (or a single unnamed one).
    const inputs = fn.args.filter((a) => a.mode !== "o" && a.mode !== "t");
    if (inputs.length > 1 && inputs.some((a) => a.name === "")) continue;
    byFunctionName.set(fn.name, [...(byFunctionName.get(fn.name) ?? []), fn]);
  }
  if (byFunctionName.size === 0) return "{\n[_ in never]: never;\n}";
  const names = [...byFunctionName.keys()].sort();
  return `{\n${
    names.map((name) => {
      const overloads = byFunctionName.get(name)!.sort((a, b) =>
        a.signature < b.signature ? -1 : 1
      );
      return `${key(name)}: {
        Args: ${overloads.map((fn) => renderArgs(catalog, fn)).join(" | ")};
        Returns: ${renderReturns(catalog, overloads[0])};
      };`;
    }).join("\n")
  }\n}`;
}

function schemaTypes(catalog: Catalog, schema: string): PgType[] {
  return [...catalog.types.values()].filter((t) => t.schema === schema).sort(byName);
}

function renderEnums(catalog: Catalog, schema: string): string {
  const enums = schemaTypes(catalog, schema).filter((t) => t.kind === "e");
  if (enums.length === 0) return "{\n[_ in never]: never;\n}";
  return `{\n${
    enums.map((t) =>
      `${key(t.name)}: ${
        (catalog.enumLabels.get(t.id) ?? []).map((l) => JSON.stringify(l)).join(" | ")
      };`
    ).join("\n")
  }\n}`;
}

function renderCompositeTypes(catalog: Catalog, schema: string): string {
  const composites = schemaTypes(catalog, schema).filter((t) =>
    t.kind === "c" && catalog.compositeAttributes.has(t.relationId)
  );
  if (composites.length === 0) return "{\n[_ in never]: never;\n}";
  return `{\n${
    composites.map((t) =>
      `${key(t.name)}: {\n${
        catalog.compositeAttributes.get(t.relationId)!.map((a) =>
          `${key(a.name)}: ${tsType(catalog, a.typeId)} | null;`
        ).join("\n")
      }\n};`
    ).join("\n")
  }\n}`;
}

const HEADER =
  `// Generated by \`deno task gen:types\` (supabase/local/gen_types.ts) from migrations/, in the
// shape of \`supabase gen types typescript\`. Do not edit: change a migration and regenerate.`;

/** The types file for `catalog`, not yet formatted. */
export function renderTypes(catalog: Catalog): string {
  const schemas = [...catalog.schemas].sort();
  const defaultSchema = JSON.stringify(schemas[0]);
  const constants = schemas.map((s) =>
    `${key(s)}: {\nEnums: {\n${
      schemaTypes(catalog, s).filter((t) => t.kind === "e").map((t) =>
        `${key(t.name)}: ${JSON.stringify(catalog.enumLabels.get(t.id) ?? [])},`
      ).join("\n")
    }\n},\n},`
  ).join("\n");
  return `${HEADER}

export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[];

export type Database = {
${
    schemas.map((s) =>
      `${key(s)}: {
        Tables: ${renderRelations(catalog, s, "table")};
        Views: ${renderRelations(catalog, s, "view")};
        Functions: ${renderFunctions(catalog, s)};
        Enums: ${renderEnums(catalog, s)};
        CompositeTypes: ${renderCompositeTypes(catalog, s)};
      };`
    ).join("\n")
  }
};

type Schema<S extends keyof Database> = Database[S];
type DefaultSchema = ${defaultSchema};

/** A table's or view's row: \`Tables<"runs">\`, or \`Tables<"name", "schema">\`. */
export type Tables<
  Name extends keyof (Schema<S>["Tables"] & Schema<S>["Views"]),
  S extends keyof Database = DefaultSchema,
> = (Schema<S>["Tables"] & Schema<S>["Views"])[Name] extends { Row: infer R } ? R : never;

/** What an insert into a table takes. */
export type TablesInsert<
  Name extends keyof Schema<S>["Tables"],
  S extends keyof Database = DefaultSchema,
> = Schema<S>["Tables"][Name] extends { Insert: infer I } ? I : never;

/** What an update of a table takes. */
export type TablesUpdate<
  Name extends keyof Schema<S>["Tables"],
  S extends keyof Database = DefaultSchema,
> = Schema<S>["Tables"][Name] extends { Update: infer U } ? U : never;

/** The values of an enum type. */
export type Enums<
  Name extends keyof Schema<S>["Enums"],
  S extends keyof Database = DefaultSchema,
> = Schema<S>["Enums"][Name];

/** A composite type's fields. */
export type CompositeTypes<
  Name extends keyof Schema<S>["CompositeTypes"],
  S extends keyof Database = DefaultSchema,
> = Schema<S>["CompositeTypes"][Name];

/** Enum values at run time. */
export const Constants = {
${constants}
} as const;
`;
}

/** Formats TypeScript source with `deno fmt` and the repository's settings. */
export async function formatTypeScript(source: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ts", "-"],
    cwd: REPO_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success) {
    throw new Error(`deno fmt failed on the generated types: ${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout);
}

/** The formatted types file of the database `sql` is connected to. */
export async function generateTypes(
  sql: Sql,
  schemas: readonly string[] = PRODUCT_SCHEMAS,
): Promise<string> {
  return await formatTypeScript(renderTypes(await readCatalog(sql, schemas)));
}

/**
 * The types of the migrations as they stand: a throw-away database on `DATABASE_URL`'s server (or
 * the local cluster) gets the platform SQL and every migration, is read, and is dropped.
 */
export async function generateTypesFromMigrations(
  schemas: readonly string[] = PRODUCT_SCHEMAS,
): Promise<string> {
  const admin = Deno.env.get("DATABASE_URL") ?? (await ensureCluster()).url;
  const name = `bt_types_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const server = connect(admin, { max: 1 });
  try {
    await server.unsafe(`create database ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    const sql = connect(url.toString(), { max: 1 });
    try {
      await applyPlatformSql(sql);
      await pushProductMigrations(url.toString());
      return await generateTypes(sql, schemas);
    } finally {
      await sql.end();
    }
  } finally {
    await server.unsafe(`drop database if exists ${name} with (force)`);
    await server.end();
  }
}

async function main(args: string[]): Promise<number> {
  const dbUrl = args.find((a) => a.startsWith("--db-url="))?.slice("--db-url=".length);
  const unknown = args.filter((a) => a !== "--check" && !a.startsWith("--db-url="));
  if (unknown.length > 0) {
    console.error("usage: deno task gen:types [--check] [--db-url=<postgres url>]");
    return 2;
  }
  let types: string;
  if (dbUrl) {
    const sql = connect(dbUrl, { max: 1 });
    try {
      types = await generateTypes(sql);
    } finally {
      await sql.end();
    }
  } else {
    types = await generateTypesFromMigrations();
  }
  const relative = TYPES_FILE.slice(REPO_ROOT.length);
  if (args.includes("--check")) {
    const committed = await Deno.readTextFile(TYPES_FILE).catch(() => "");
    if (committed === types) return 0;
    console.error(`${relative} is out of date: run deno task gen:types`);
    return 1;
  }
  await Deno.writeTextFile(TYPES_FILE, types);
  console.log(`wrote ${relative}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
