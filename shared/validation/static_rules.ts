/**
 * Checks decided from the parse tree alone, before or without running anything: statements that
 * reach outside the database (refused before they run, on every backend), and migration-safety
 * warnings in the spirit of Squawk — locks on tables that already hold data, breaking renames and
 * drops, type choices. "Already existed" is a fact the caller supplies from the shadow's catalog
 * (tables present before the file), so a table created earlier in the same file is never
 * mistaken for one with data in it.
 *
 * @example
 * ```ts
 * const reason = unsafeStatementReason(statement); // "COPY … PROGRAM runs a program …" | undefined
 * const warnings = migrationSafetyFindings(parsedFile, new Set(["public.trades"]));
 * ```
 */
import {
  asNode,
  funcCallName,
  type PgNode,
  type PgNodeOf,
  qualifiedName,
  relationName,
  stringList,
  typeNameOf,
  walk,
} from "../pg_ast/mod.ts";
import { type Finding, finding, type RuleName } from "./finding.ts";
import type { ParsedFile, ParsedStatement } from "./parse.ts";

// Extensions whose purpose is reaching files, programs or other servers.
const SERVER_ACCESS_EXTENSIONS = new Set([
  "dblink",
  "postgres_fdw",
  "file_fdw",
  "adminpack",
  "plpython3u",
  "plperlu",
  "pltclu",
  "plsh",
]);
const UNTRUSTED_LANGUAGES = new Set(["c", "internal", "plpython3u", "plperlu", "pltclu", "plsh"]);
const SERVER_FUNCTIONS = new Set([
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_stat_file",
  "pg_file_write",
  "lo_import",
  "lo_export",
  "pg_reload_conf",
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_promote",
]);

/**
 * Why a statement must not run in the shadow (it acts on the server, not on a schema), or
 * undefined. The backends would refuse these too; refusing first gives a clear finding and keeps
 * PGlite, which runs as its own superuser, from even trying.
 */
export function unsafeStatementReason(statement: ParsedStatement): string | undefined {
  const node = statement.node;
  const copy = asNode(node, "CopyStmt");
  if (copy?.is_program) return "COPY … PROGRAM runs a program on the database server";
  if (copy?.filename) return "COPY to or from a server file reads or writes the server's disk";
  if (asNode(node, "AlterSystemStmt")) return "ALTER SYSTEM changes the server's configuration";
  if (asNode(node, "LoadStmt")) return "LOAD loads a shared library into the server";
  for (
    const type of [
      "CreatedbStmt",
      "DropdbStmt",
      "AlterDatabaseStmt",
      "AlterDatabaseSetStmt",
    ] as const
  ) {
    if (asNode(node, type)) return "statements on whole databases are not part of a migration";
  }
  for (
    const type of ["CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt"] as const
  ) {
    if (asNode(node, type)) {
      return "roles are server-wide; a migration must not create or change them";
    }
  }
  if (asNode(node, "CreateTableSpaceStmt") || asNode(node, "DropTableSpaceStmt")) {
    return "tablespaces live on the server's disk";
  }
  const ext = asNode(node, "CreateExtensionStmt");
  if (ext?.extname && SERVER_ACCESS_EXTENSIONS.has(ext.extname.toLowerCase())) {
    return `extension ${ext.extname} reaches files, programs or other servers`;
  }
  const fn = asNode(node, "CreateFunctionStmt");
  if (fn) {
    for (const option of fn.options ?? []) {
      const def = asNode(option, "DefElem");
      const lang = def?.defname === "language" ? asNode(def.arg, "String")?.sval : undefined;
      if (lang && UNTRUSTED_LANGUAGES.has(lang.toLowerCase())) {
        return `functions in language ${lang} run outside the database's sandbox`;
      }
    }
  }
  const set = asNode(node, "VariableSetStmt");
  if (set?.name === "session_authorization" || set?.name === "role") {
    return "migrations run as the migration role; switching roles is not part of a migration";
  }
  let called: string | undefined;
  walk(node, ({ node: n }) => {
    const call = asNode(n, "FuncCall");
    const name = call ? funcCallName(call).replace(/^pg_catalog\./, "") : undefined;
    if (name && SERVER_FUNCTIONS.has(name)) called ??= name;
  });
  if (called) return `${called}() acts on the server, not on the schema`;
  return undefined;
}

/** Context of {@link migrationSafetyFindings}. */
export interface SafetyContext {
  /** `schema.table` of every table that existed before the file. */
  existingTables: ReadonlySet<string>;
}

/** Migration-safety warnings of an up migration (drops are expected in down migrations). */
export function migrationSafetyFindings(file: ParsedFile, context: SafetyContext): Finding[] {
  const out: Finding[] = [];
  const createdHere = new Set<string>();
  const existing = (table: string) => context.existingTables.has(table) && !createdHere.has(table);
  const add = (rule: RuleName, s: ParsedStatement, message: string, object?: string) =>
    out.push(finding(rule, message, { file: file.name, line: s.line, statement: s.text, object }));
  let openTransaction: ParsedStatement | undefined;

  for (const s of file.statements) {
    const create = asNode(s.node, "CreateStmt");
    if (create) {
      const table = relationName(create.relation);
      createdHere.add(table);
      checkColumnTypes(
        create.tableElts ?? [],
        table,
        (rule, message, object) => add(rule, s, message, object),
      );
      checkPrimaryKey(create, table, (rule, message, object) => add(rule, s, message, object));
    }
    const index = asNode(s.node, "IndexStmt");
    if (index && !index.concurrent) {
      const table = relationName(index.relation);
      if (existing(table)) {
        add(
          "require_concurrent_index_creation",
          s,
          `index ${index.idxname ?? "(unnamed)"} on existing table ${table} is built without ` +
            "CONCURRENTLY, which blocks writes while it builds; use create index concurrently, " +
            "alone in a migration file of its own (Supabase runs each file in one transaction)",
          table,
        );
      }
    }
    const alter = asNode(s.node, "AlterTableStmt");
    if (alter && (alter.objtype ?? "OBJECT_TABLE") === "OBJECT_TABLE") {
      const table = relationName(alter.relation);
      for (const c of alter.cmds ?? []) {
        const cmd = asNode(c, "AlterTableCmd");
        if (!cmd) continue;
        if (cmd.subtype === "AT_AddColumn") {
          const col = asNode(cmd.def, "ColumnDef");
          if (!col) continue;
          checkColumnTypes(
            [cmd.def as PgNode],
            table,
            (rule, message, object) => add(rule, s, message, object),
          );
          if (existing(table) && isRequiredWithoutDefault(col)) {
            add(
              "adding_required_field",
              s,
              `column ${col.colname} is added to existing table ${table} as NOT NULL without a ` +
                "default: it fails on a table with rows; add a default or backfill first",
              `${table}.${col.colname}`,
            );
          }
        } else if (cmd.subtype === "AT_DropColumn" && existing(table)) {
          add(
            "ban_drop_column",
            s,
            `column ${cmd.name} of existing table ${table} is dropped: its data is lost and ` +
              "clients using it break",
            `${table}.${cmd.name}`,
          );
        } else if (cmd.subtype === "AT_AlterColumnType") {
          const col = asNode(cmd.def, "ColumnDef");
          if (col && isTimestampWithoutZone(col.typeName)) {
            add(
              "prefer_timestamptz",
              s,
              `column ${table}.${cmd.name} becomes timestamp without time zone; use timestamptz`,
              `${table}.${cmd.name}`,
            );
          }
        }
      }
    }
    const drop = asNode(s.node, "DropStmt");
    if (drop?.removeType === "OBJECT_TABLE") {
      for (const obj of drop.objects ?? []) {
        const table = qualifiedName(stringList(asNode(obj, "List")?.items));
        if (existing(table)) {
          add("ban_drop_table", s, `existing table ${table} is dropped with its data`, table);
        }
      }
    }
    const rename = asNode(s.node, "RenameStmt");
    if (rename) {
      const table = relationName(rename.relation);
      if (rename.renameType === "OBJECT_TABLE" && existing(table)) {
        add(
          "renaming_table",
          s,
          `existing table ${table} is renamed to ${rename.newname}: clients using the old name break`,
          table,
        );
      } else if (rename.renameType === "OBJECT_COLUMN" && existing(table)) {
        add(
          "renaming_column",
          s,
          `column ${rename.subname} of existing table ${table} is renamed to ${rename.newname}: ` +
            "clients using the old name break",
          `${table}.${rename.subname}`,
        );
      }
    }
    const tx = asNode(s.node, "TransactionStmt");
    if (tx?.kind === "TRANS_STMT_BEGIN" || tx?.kind === "TRANS_STMT_START") openTransaction = s;
    if (tx?.kind === "TRANS_STMT_COMMIT" || tx?.kind === "TRANS_STMT_ROLLBACK") {
      openTransaction = undefined;
    }
  }
  if (openTransaction) {
    add("ban_uncommitted_transaction", openTransaction, "BEGIN without a matching COMMIT");
  }
  return out;
}

function isRequiredWithoutDefault(col: PgNodeOf<"ColumnDef">): boolean {
  const types = (col.constraints ?? []).map((c) => asNode(c, "Constraint")?.contype);
  const notNull = col.is_not_null || types.includes("CONSTR_NOTNULL") ||
    types.includes("CONSTR_PRIMARY");
  const filled = types.includes("CONSTR_DEFAULT") || types.includes("CONSTR_IDENTITY") ||
    types.includes("CONSTR_GENERATED") || !!col.raw_default || !!col.identity ||
    /serial$/.test(typeNameOf(col.typeName));
  return notNull && !filled;
}

function isTimestampWithoutZone(type: PgNodeOf<"TypeName"> | undefined): boolean {
  return typeNameOf(type) === "timestamp";
}

function checkColumnTypes(
  elements: readonly PgNode[],
  table: string,
  add: (rule: RuleName, message: string, object: string) => void,
): void {
  for (const el of elements) {
    const col = asNode(el, "ColumnDef");
    if (col && isTimestampWithoutZone(col.typeName)) {
      add(
        "prefer_timestamptz",
        `column ${table}.${col.colname} is timestamp without time zone, which drops the offset ` +
          "and misreads times across zones; use timestamptz",
        `${table}.${col.colname}`,
      );
    }
  }
}

function checkPrimaryKey(
  create: PgNodeOf<"CreateStmt">,
  table: string,
  add: (rule: RuleName, message: string, object: string) => void,
): void {
  const columns = new Map<string, PgNodeOf<"ColumnDef">>();
  const keys: string[] = [];
  for (const el of create.tableElts ?? []) {
    const col = asNode(el, "ColumnDef");
    if (col?.colname) {
      columns.set(col.colname, col);
      if (
        (col.constraints ?? []).some((c) => asNode(c, "Constraint")?.contype === "CONSTR_PRIMARY")
      ) {
        keys.push(col.colname);
      }
    }
    const con = asNode(el, "Constraint");
    if (con?.contype === "CONSTR_PRIMARY") keys.push(...stringList(con.keys));
  }
  if (keys.length !== 1) return;
  const col = columns.get(keys[0]);
  const type = typeNameOf(col?.typeName);
  if (["serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"].includes(type)) {
    add(
      "prefer_identity",
      `primary key ${table}.${keys[0]} is ${type}; use bigint generated always as identity ` +
        "(or uuid): serial's sequence is a separate object with its own grants",
      `${table}.${keys[0]}`,
    );
  } else if (["int4", "int2", "int", "integer", "smallint"].includes(type)) {
    add(
      "prefer_bigint_over_int",
      `primary key ${table}.${keys[0]} is ${type === "int2" ? "smallint" : "integer"}, which ` +
        "can run out; use bigint generated always as identity (or uuid)",
      `${table}.${keys[0]}`,
    );
  }
}
