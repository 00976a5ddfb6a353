/**
 * The schema as this folder understands it after reading DDL: tables with their columns, keys,
 * policies, indexes, triggers and grants, plus enums and function signatures. It keeps parse-tree
 * fragments for expressions so only what ends up in a summary is ever printed.
 */
import type { PgNode } from "../pg_ast/mod.ts";

/** Where a foreign key points. */
export interface ForeignKey {
  /** Constraint name when the DDL gave one. */
  name: string | null;
  columns: string[];
  /** `schema.table` of the referenced table. */
  table: string;
  /** Referenced columns; empty means the referenced table's primary key. */
  refColumns: string[];
  onDelete: string | null;
}

/** A column. */
export interface ColumnModel {
  name: string;
  type: string;
  notNull: boolean;
  primaryKey: boolean;
  unique: boolean;
  /** `always` / `by default` for identity columns. */
  identity: string | null;
  defaultExpr: PgNode | null;
  generatedExpr: PgNode | null;
  comment: string | null;
}

/** A table-level constraint other than a foreign key (primary key, unique, check, exclude). */
export interface TableConstraint {
  name: string | null;
  kind: "primary key" | "unique" | "check" | "exclude";
  columns: string[];
  expr: PgNode | null;
}

/** A row level security policy. */
export interface PolicyModel {
  name: string;
  command: string;
  permissive: boolean;
  roles: string[];
  using: PgNode | null;
  withCheck: PgNode | null;
}

/** An index, kept as its statement node. */
export interface IndexModel {
  name: string | null;
  statement: PgNode;
}

/** A trigger. */
export interface TriggerModel {
  name: string;
  timing: string;
  events: string[];
  forEachRow: boolean;
  /** `schema.name` of the trigger function. */
  function: string;
}

/** A table and everything attached to it. */
export interface TableModel {
  /** `schema.name`. */
  key: string;
  schema: string;
  name: string;
  columns: ColumnModel[];
  constraints: TableConstraint[];
  foreignKeys: ForeignKey[];
  rls: boolean;
  policies: PolicyModel[];
  indexes: IndexModel[];
  triggers: TriggerModel[];
  /** role → privileges granted on this table. */
  grants: Map<string, Set<string>>;
  comment: string | null;
}

/** An enum type. */
export interface EnumModel {
  key: string;
  values: string[];
}

/** A function's signature and the attributes agents must get right; never its body. */
export interface FunctionModel {
  key: string;
  signature: string;
  returns: string;
  language: string;
  securityDefiner: boolean;
  /** The `set search_path` value, or null when the function does not pin it. */
  searchPath: string | null;
}

/** Everything read so far. */
export interface SchemaModel {
  tables: Map<string, TableModel>;
  enums: Map<string, EnumModel>;
  functions: Map<string, FunctionModel>;
  /** Statement kinds that are not modelled, with their counts (e.g. `GrantStmt` on functions). */
  unmodelled: Map<string, number>;
  /** Statements read, modelled or not. */
  statementCount: number;
  /** Statements that did not parse. */
  skipped: { text: string; error: string }[];
}

/** A schema with nothing in it. */
export function emptySchema(): SchemaModel {
  return {
    tables: new Map(),
    enums: new Map(),
    functions: new Map(),
    unmodelled: new Map(),
    statementCount: 0,
    skipped: [],
  };
}
