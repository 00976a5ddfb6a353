/**
 * Applies parsed DDL statements to a {@link SchemaModel} in order, the way Postgres would: later
 * `alter table`, `drop` and `comment on` statements change what earlier ones created. Each call
 * reports which tables a statement touched, so a migration can be related to the tables it changes.
 * Statements it does not model are counted, never fatal.
 */
import {
  asNode,
  nodeType,
  type PgNode,
  type PgNodeOf,
  qualifiedName,
  relationName,
  stringList,
} from "../pg_ast/mod.ts";
import type { ColumnModel, SchemaModel, TableModel } from "./model.ts";
import { formatTypeName } from "./type_name.ts";

const FK_ACTIONS: Record<string, string> = {
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};

/** Applies one statement; returns the `schema.table` keys it touched. */
export function applyStatement(model: SchemaModel, node: PgNode): string[] {
  model.statementCount++;
  const type = nodeType(node);
  switch (type) {
    case "CreateStmt":
      return createTable(model, asNode(node, "CreateStmt")!);
    case "AlterTableStmt":
      return alterTable(model, asNode(node, "AlterTableStmt")!);
    case "IndexStmt":
      return createIndex(model, node, asNode(node, "IndexStmt")!);
    case "CreatePolicyStmt":
      return createPolicy(model, asNode(node, "CreatePolicyStmt")!);
    case "AlterPolicyStmt":
      return alterPolicy(model, asNode(node, "AlterPolicyStmt")!);
    case "CreateTrigStmt":
      return createTrigger(model, asNode(node, "CreateTrigStmt")!);
    case "CommentStmt":
      return comment(model, asNode(node, "CommentStmt")!);
    case "GrantStmt":
      return grant(model, asNode(node, "GrantStmt")!);
    case "DropStmt":
      return drop(model, asNode(node, "DropStmt")!);
    case "RenameStmt":
      return rename(model, asNode(node, "RenameStmt")!);
    case "CreateEnumStmt":
      return createEnum(model, asNode(node, "CreateEnumStmt")!);
    case "AlterEnumStmt":
      return alterEnum(model, asNode(node, "AlterEnumStmt")!);
    case "CreateFunctionStmt":
      return createFunction(model, asNode(node, "CreateFunctionStmt")!);
    default:
      model.unmodelled.set(type, (model.unmodelled.get(type) ?? 0) + 1);
      return [];
  }
}

function newTable(key: string): TableModel {
  const [schema, name] = key.split(".");
  return {
    key,
    schema,
    name,
    columns: [],
    constraints: [],
    foreignKeys: [],
    rls: false,
    policies: [],
    indexes: [],
    triggers: [],
    grants: new Map(),
    comment: null,
  };
}

function createTable(model: SchemaModel, stmt: PgNodeOf<"CreateStmt">): string[] {
  const key = relationName(stmt.relation);
  if (model.tables.has(key) && stmt.if_not_exists) return [key];
  const table = newTable(key);
  model.tables.set(key, table);
  for (const element of stmt.tableElts ?? []) {
    const column = asNode(element, "ColumnDef");
    if (column) addColumn(table, column);
    const constraint = asNode(element, "Constraint");
    if (constraint) addConstraint(table, constraint);
  }
  return [key];
}

function addColumn(table: TableModel, def: PgNodeOf<"ColumnDef">): void {
  const column: ColumnModel = {
    name: def.colname ?? "?",
    type: formatTypeName(def.typeName),
    notNull: def.is_not_null ?? false,
    primaryKey: false,
    unique: false,
    identity: null,
    defaultExpr: def.raw_default ?? null,
    generatedExpr: null,
    comment: null,
  };
  table.columns = table.columns.filter((c) => c.name !== column.name);
  table.columns.push(column);
  for (const node of def.constraints ?? []) {
    const c = asNode(node, "Constraint");
    if (!c) continue;
    switch (c.contype) {
      case "CONSTR_NOTNULL":
        column.notNull = true;
        break;
      case "CONSTR_NULL":
        column.notNull = false;
        break;
      case "CONSTR_DEFAULT":
        column.defaultExpr = c.raw_expr ?? null;
        break;
      case "CONSTR_IDENTITY":
        column.identity = c.generated_when === "a" ? "always" : "by default";
        column.notNull = true;
        break;
      case "CONSTR_GENERATED":
        column.generatedExpr = c.raw_expr ?? null;
        break;
      case "CONSTR_PRIMARY":
        column.primaryKey = true;
        column.notNull = true;
        break;
      case "CONSTR_UNIQUE":
        column.unique = true;
        break;
      case "CONSTR_FOREIGN":
        table.foreignKeys.push({
          name: c.conname || null,
          columns: [column.name],
          table: relationName(c.pktable),
          refColumns: stringList(c.pk_attrs),
          onDelete: FK_ACTIONS[c.fk_del_action ?? ""] ?? null,
        });
        break;
      case "CONSTR_CHECK":
        table.constraints.push({
          name: c.conname || null,
          kind: "check",
          columns: [column.name],
          expr: c.raw_expr ?? null,
        });
        break;
    }
  }
}

function addConstraint(table: TableModel, c: PgNodeOf<"Constraint">): void {
  const keys = stringList(c.keys);
  switch (c.contype) {
    case "CONSTR_PRIMARY":
      for (const col of table.columns) {
        if (keys.includes(col.name)) {
          col.notNull = true;
          if (keys.length === 1) col.primaryKey = true;
        }
      }
      if (keys.length > 1) {
        table.constraints.push({
          name: c.conname || null,
          kind: "primary key",
          columns: keys,
          expr: null,
        });
      }
      break;
    case "CONSTR_UNIQUE":
      if (keys.length === 1) {
        const col = table.columns.find((x) => x.name === keys[0]);
        if (col) col.unique = true;
      } else {
        table.constraints.push({
          name: c.conname || null,
          kind: "unique",
          columns: keys,
          expr: null,
        });
      }
      break;
    case "CONSTR_CHECK":
      table.constraints.push({
        name: c.conname || null,
        kind: "check",
        columns: [],
        expr: c.raw_expr ?? null,
      });
      break;
    case "CONSTR_EXCLUSION":
      table.constraints.push({ name: c.conname || null, kind: "exclude", columns: [], expr: null });
      break;
    case "CONSTR_FOREIGN":
      table.foreignKeys.push({
        name: c.conname || null,
        columns: stringList(c.fk_attrs),
        table: relationName(c.pktable),
        refColumns: stringList(c.pk_attrs),
        onDelete: FK_ACTIONS[c.fk_del_action ?? ""] ?? null,
      });
      break;
  }
}

function alterTable(model: SchemaModel, stmt: PgNodeOf<"AlterTableStmt">): string[] {
  if (stmt.objtype !== "OBJECT_TABLE") return [];
  const key = relationName(stmt.relation);
  const table = model.tables.get(key);
  if (!table) return [key];
  for (const node of stmt.cmds ?? []) {
    const cmd = asNode(node, "AlterTableCmd");
    if (!cmd) continue;
    const column = table.columns.find((c) => c.name === cmd.name);
    switch (cmd.subtype) {
      case "AT_AddColumn": {
        const def = asNode(cmd.def, "ColumnDef");
        if (def && !(cmd.missing_ok && table.columns.some((c) => c.name === def.colname))) {
          addColumn(table, def);
        }
        break;
      }
      case "AT_DropColumn":
        table.columns = table.columns.filter((c) => c.name !== cmd.name);
        table.foreignKeys = table.foreignKeys.filter((fk) => !fk.columns.includes(cmd.name ?? ""));
        break;
      case "AT_AddConstraint": {
        const c = asNode(cmd.def, "Constraint");
        if (c) addConstraint(table, c);
        break;
      }
      case "AT_DropConstraint":
        table.constraints = table.constraints.filter((c) => c.name !== cmd.name);
        table.foreignKeys = table.foreignKeys.filter((fk) => fk.name !== cmd.name);
        break;
      case "AT_SetNotNull":
        if (column) column.notNull = true;
        break;
      case "AT_DropNotNull":
        if (column) column.notNull = false;
        break;
      case "AT_ColumnDefault":
        if (column) column.defaultExpr = cmd.def ?? null;
        break;
      case "AT_AlterColumnType": {
        const def = asNode(cmd.def, "ColumnDef");
        if (column && def?.typeName) column.type = formatTypeName(def.typeName);
        break;
      }
      case "AT_EnableRowSecurity":
      case "AT_ForceRowSecurity":
        table.rls = true;
        break;
      case "AT_DisableRowSecurity":
        table.rls = false;
        break;
    }
  }
  return [key];
}

function createIndex(model: SchemaModel, node: PgNode, stmt: PgNodeOf<"IndexStmt">): string[] {
  const key = relationName(stmt.relation);
  const table = model.tables.get(key);
  if (table) {
    const name = stmt.idxname || null;
    if (name && table.indexes.some((i) => i.name === name)) {
      // Postgres would refuse a second index of that name; re-reading a migration must not list
      // it twice.
      if (stmt.if_not_exists) return [key];
      table.indexes = table.indexes.filter((i) => i.name !== name);
    }
    table.indexes.push({ name, statement: node });
  }
  return [key];
}

function createPolicy(model: SchemaModel, stmt: PgNodeOf<"CreatePolicyStmt">): string[] {
  const key = relationName(stmt.table);
  const table = model.tables.get(key);
  if (table) {
    table.policies = table.policies.filter((p) => p.name !== stmt.policy_name);
    table.policies.push({
      name: stmt.policy_name ?? "?",
      command: stmt.cmd_name ?? "all",
      permissive: stmt.permissive ?? true,
      roles: roleNames(stmt.roles),
      using: stmt.qual ?? null,
      withCheck: stmt.with_check ?? null,
    });
  }
  return [key];
}

function alterPolicy(model: SchemaModel, stmt: PgNodeOf<"AlterPolicyStmt">): string[] {
  const key = relationName(stmt.table);
  const policy = model.tables.get(key)?.policies.find((p) => p.name === stmt.policy_name);
  if (policy) {
    if (stmt.roles?.length) policy.roles = roleNames(stmt.roles);
    if (stmt.qual) policy.using = stmt.qual;
    if (stmt.with_check) policy.withCheck = stmt.with_check;
  }
  return [key];
}

function roleNames(nodes: readonly PgNode[] | undefined): string[] {
  return (nodes ?? []).map((n) => {
    const r = asNode(n, "RoleSpec");
    if (r?.roletype === "ROLESPEC_PUBLIC") return "public";
    return r?.rolename ?? "?";
  });
}

// Trigger timing and event bits, from Postgres' pg_trigger.h.
const TRIGGER_BEFORE = 1 << 1;
const TRIGGER_INSTEAD = 1 << 6;
const TRIGGER_EVENTS: [number, string][] = [
  [1 << 2, "insert"],
  [1 << 3, "delete"],
  [1 << 4, "update"],
  [1 << 5, "truncate"],
];

function createTrigger(model: SchemaModel, stmt: PgNodeOf<"CreateTrigStmt">): string[] {
  const key = relationName(stmt.relation);
  const table = model.tables.get(key);
  if (table) {
    const timing = stmt.timing ?? 0;
    table.triggers = table.triggers.filter((t) => t.name !== stmt.trigname);
    table.triggers.push({
      name: stmt.trigname ?? "?",
      timing: timing & TRIGGER_BEFORE
        ? "before"
        : timing & TRIGGER_INSTEAD
        ? "instead of"
        : "after",
      events: TRIGGER_EVENTS.filter(([bit]) => (stmt.events ?? 0) & bit).map(([, name]) => name),
      forEachRow: stmt.row ?? false,
      function: qualifiedName(stringList(stmt.funcname)),
    });
  }
  return [key];
}

function comment(model: SchemaModel, stmt: PgNodeOf<"CommentStmt">): string[] {
  const names = stringList(asNode(stmt.object, "List")?.items);
  if (stmt.objtype === "OBJECT_TABLE") {
    const key = qualifiedName(names);
    const table = model.tables.get(key);
    if (table) table.comment = stmt.comment ?? null;
    return [key];
  }
  if (stmt.objtype === "OBJECT_COLUMN" && names.length >= 2) {
    const key = qualifiedName(names.slice(0, -1));
    const column = model.tables.get(key)?.columns.find((c) => c.name === names.at(-1));
    if (column) column.comment = stmt.comment ?? null;
    return [key];
  }
  return [];
}

function grant(model: SchemaModel, stmt: PgNodeOf<"GrantStmt">): string[] {
  if (stmt.objtype !== "OBJECT_TABLE" || stmt.targtype !== "ACL_TARGET_OBJECT") {
    model.unmodelled.set("GrantStmt", (model.unmodelled.get("GrantStmt") ?? 0) + 1);
    return [];
  }
  const privileges = (stmt.privileges ?? []).map((p) => asNode(p, "AccessPriv")?.priv_name ?? "")
    .filter((p) => p !== "");
  if (privileges.length === 0) privileges.push("all");
  const touched: string[] = [];
  for (const object of stmt.objects ?? []) {
    const key = relationName(asNode(object, "RangeVar"));
    touched.push(key);
    const table = model.tables.get(key);
    if (!table) continue;
    for (const role of roleNames(stmt.grantees)) {
      const held = table.grants.get(role) ?? new Set<string>();
      for (const p of privileges) {
        if (stmt.is_grant) held.add(p);
        else if (p === "all") held.clear();
        else held.delete(p);
      }
      if (held.size > 0) table.grants.set(role, held);
      else table.grants.delete(role);
    }
  }
  return touched;
}

function drop(model: SchemaModel, stmt: PgNodeOf<"DropStmt">): string[] {
  const touched: string[] = [];
  for (const object of stmt.objects ?? []) {
    const names = stringList(asNode(object, "List")?.items);
    switch (stmt.removeType) {
      case "OBJECT_TABLE": {
        const key = qualifiedName(names);
        model.tables.delete(key);
        touched.push(key);
        break;
      }
      case "OBJECT_INDEX": {
        const name = names.at(-1);
        for (const table of model.tables.values()) {
          const before = table.indexes.length;
          table.indexes = table.indexes.filter((i) => i.name !== name);
          if (table.indexes.length !== before) touched.push(table.key);
        }
        break;
      }
      case "OBJECT_POLICY":
      case "OBJECT_TRIGGER": {
        const key = qualifiedName(names.slice(0, -1));
        const table = model.tables.get(key);
        if (table && stmt.removeType === "OBJECT_POLICY") {
          table.policies = table.policies.filter((p) => p.name !== names.at(-1));
        } else if (table) {
          table.triggers = table.triggers.filter((t) => t.name !== names.at(-1));
        }
        touched.push(key);
        break;
      }
      case "OBJECT_TYPE": {
        const type = asNode(object, "TypeName");
        model.enums.delete(qualifiedName(stringList(type?.names)));
        break;
      }
      case "OBJECT_FUNCTION": {
        const fn = asNode(object, "ObjectWithArgs");
        model.functions.delete(qualifiedName(stringList(fn?.objname)));
        break;
      }
    }
  }
  return touched;
}

function rename(model: SchemaModel, stmt: PgNodeOf<"RenameStmt">): string[] {
  const key = relationName(stmt.relation);
  const table = model.tables.get(key);
  if (!table || !stmt.newname) return stmt.relation ? [key] : [];
  if (stmt.renameType === "OBJECT_TABLE") {
    model.tables.delete(key);
    table.name = stmt.newname;
    table.key = `${table.schema}.${stmt.newname}`;
    model.tables.set(table.key, table);
    for (const other of model.tables.values()) {
      for (const fk of other.foreignKeys) if (fk.table === key) fk.table = table.key;
    }
    return [key, table.key];
  }
  if (stmt.renameType === "OBJECT_COLUMN") {
    const column = table.columns.find((c) => c.name === stmt.subname);
    if (column) column.name = stmt.newname;
  }
  return [key];
}

function createEnum(model: SchemaModel, stmt: PgNodeOf<"CreateEnumStmt">): string[] {
  const key = qualifiedName(stringList(stmt.typeName));
  model.enums.set(key, { key, values: stringList(stmt.vals) });
  return [];
}

function alterEnum(model: SchemaModel, stmt: PgNodeOf<"AlterEnumStmt">): string[] {
  const e = model.enums.get(qualifiedName(stringList(stmt.typeName)));
  if (e && stmt.newVal && !e.values.includes(stmt.newVal)) e.values.push(stmt.newVal);
  return [];
}

function createFunction(model: SchemaModel, stmt: PgNodeOf<"CreateFunctionStmt">): string[] {
  const key = qualifiedName(stringList(stmt.funcname));
  const params = (stmt.parameters ?? []).map((n) => asNode(n, "FunctionParameter")).filter((p) =>
    p !== undefined
  );
  const inputs = params.filter((p) => p.mode !== "FUNC_PARAM_TABLE" && p.mode !== "FUNC_PARAM_OUT");
  const tableCols = params.filter((p) => p.mode === "FUNC_PARAM_TABLE");
  const args = inputs.map((p) => `${p.name ? p.name + " " : ""}${formatTypeName(p.argType)}`);
  const returns = tableCols.length > 0
    ? `table(${tableCols.map((p) => `${p.name} ${formatTypeName(p.argType)}`).join(", ")})`
    : stmt.is_procedure
    ? "void"
    : formatTypeName(stmt.returnType);
  let language = "sql";
  let securityDefiner = false;
  let searchPath: string | null = null;
  for (const option of stmt.options ?? []) {
    const def = asNode(option, "DefElem");
    if (def?.defname === "language") language = asNode(def.arg, "String")?.sval ?? language;
    if (def?.defname === "security") securityDefiner = asNode(def.arg, "Boolean")?.boolval ?? false;
    if (def?.defname === "set") {
      const set = asNode(def.arg, "VariableSetStmt");
      if (set?.name === "search_path") {
        searchPath = (set.args ?? []).map((a) => {
          const c = asNode(a, "A_Const");
          return c?.sval?.sval ?? "";
        }).map((v) => `'${v}'`).join(", ") || "''";
      }
    }
  }
  model.functions.set(key, {
    key,
    signature: `${key}(${args.join(", ")})`,
    returns,
    language,
    securityDefiner,
    searchPath,
  });
  return [];
}
