/**
 * Where in the submitted files an object came from. Catalog findings are about objects (a table,
 * a policy, an index); people and agents fix statements. This index maps anchors such as
 * `table:public.trades` or `policy:public.trades.owners select` to the statement that created or
 * changed the object, so a catalog finding gets a file, a line and the statement text.
 *
 * @example
 * ```ts
 * const index = indexStatements(parsedFiles);
 * const where = index.locate(["policy:public.notes.read", "table:public.notes"]);
 * ```
 */
import { asNode, qualifiedName, relationName, stringList } from "../pg_ast/mod.ts";
import type { ParsedFile, ParsedStatement } from "./parse.ts";

/** A place in a file. */
export interface Location {
  file: string;
  line: number;
  statement: string;
}

/** Anchors → the statements that created or changed them. */
export interface StatementIndex {
  /** The first anchor found, at the statement that created it (RLS: the last change). */
  locate(anchors: readonly string[]): Location | undefined;
}

/** The anchors a statement defines. */
export function statementAnchors(s: ParsedStatement): string[] {
  const out: string[] = [];
  const create = asNode(s.node, "CreateStmt");
  if (create) {
    const t = relationName(create.relation);
    out.push(`table:${t}`);
    for (const el of create.tableElts ?? []) {
      const col = asNode(el, "ColumnDef");
      if (col?.colname) out.push(`column:${t}.${col.colname}`);
    }
  }
  const alter = asNode(s.node, "AlterTableStmt");
  if (alter) {
    const t = relationName(alter.relation);
    for (const c of alter.cmds ?? []) {
      const cmd = asNode(c, "AlterTableCmd");
      if (!cmd) continue;
      if (cmd.subtype?.endsWith("RowSecurity")) out.push(`rls:${t}`);
      const col = asNode(cmd.def, "ColumnDef");
      if (col?.colname) out.push(`column:${t}.${col.colname}`);
      const con = asNode(cmd.def, "Constraint");
      for (const name of stringList(con?.fk_attrs)) out.push(`column:${t}.${name}`);
    }
    if (alter.objtype === "OBJECT_VIEW") out.push(`view:${t}`);
  }
  const policy = asNode(s.node, "CreatePolicyStmt") ?? asNode(s.node, "AlterPolicyStmt");
  if (policy) out.push(`policy:${relationName(policy.table)}.${policy.policy_name}`);
  const index = asNode(s.node, "IndexStmt");
  if (index?.idxname) {
    out.push(`index:${relationName(index.relation).split(".")[0]}.${index.idxname}`);
  }
  const view = asNode(s.node, "ViewStmt");
  if (view) out.push(`view:${relationName(view.view)}`);
  const ctas = asNode(s.node, "CreateTableAsStmt");
  if (ctas) {
    const t = relationName(ctas.into?.rel);
    out.push(ctas.objtype === "OBJECT_MATVIEW" ? `view:${t}` : `table:${t}`);
  }
  const fn = asNode(s.node, "CreateFunctionStmt");
  if (fn) out.push(`function:${qualifiedName(stringList(fn.funcname))}`);
  const ext = asNode(s.node, "CreateExtensionStmt");
  if (ext?.extname) out.push(`extension:${ext.extname}`);
  const trigger = asNode(s.node, "CreateTrigStmt");
  if (trigger) out.push(`trigger:${relationName(trigger.relation)}.${trigger.trigname}`);
  return out;
}

/** Indexes the statements of `files` (later files and statements override only RLS changes). */
export function indexStatements(files: readonly ParsedFile[]): StatementIndex {
  const at = new Map<string, Location>();
  for (const file of files) {
    for (const s of file.statements) {
      const where = { file: file.name, line: s.line, statement: s.text };
      for (const anchor of statementAnchors(s)) {
        if (!at.has(anchor) || anchor.startsWith("rls:")) at.set(anchor, where);
      }
    }
  }
  return {
    locate(anchors) {
      for (const a of anchors) {
        const found = at.get(a);
        if (found) return found;
      }
      return undefined;
    },
  };
}
