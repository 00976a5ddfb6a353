/**
 * Turns parse-tree fragments (a policy's `using`, a column default, an index predicate) back into
 * SQL text with the real deparser, in lowercase keywords like the house style. Going through the
 * deparser rather than slicing source text makes the output independent of how the original was
 * formatted, so long multi-line expressions become one normalised line.
 */
import { asNode, type PgNode, type PgRawStmt, type PgTree } from "../pg_ast/mod.ts";
import { pgParser } from "./parse.ts";

let template: Promise<PgTree> | undefined;

/** SQL text of an expression node, e.g. `(select auth.uid()) = user_id`. */
export async function expressionText(expr: PgNode): Promise<string> {
  template ??= pgParser().parse("select 1").then((r) => {
    if (!r.tree) throw r.error;
    return r.tree;
  });
  const base = await template;
  const select = asNode(base.stmts?.[0]?.stmt, "SelectStmt");
  const stmt = {
    SelectStmt: { ...select, targetList: [{ ResTarget: { val: expr } }] },
  } as unknown as PgNode;
  const text = await statementText(stmt, base.version);
  return text.replace(/^select\s+/i, "");
}

/** SQL text of a whole statement node, in lowercase keywords. */
export async function statementText(stmt: PgNode, version?: number): Promise<string> {
  const raw: PgRawStmt = { stmt };
  const tree = { version: version ?? (await versionOfParser()), stmts: [raw] } as PgTree;
  const out = await pgParser().deparse(tree);
  if (out.error !== undefined) return "(unprintable)";
  return await lowercaseKeywords(out.sql.trim());
}

async function versionOfParser(): Promise<number> {
  const r = await pgParser().parse("select 1");
  return r.tree?.version ?? 170000;
}

/** Lowercases keyword tokens, leaving literals and quoted identifiers as they are. */
export async function lowercaseKeywords(sql: string): Promise<string> {
  const scanned = await pgParser().scan(sql);
  if (!scanned.tokens) return sql;
  const bytes = new TextEncoder().encode(sql);
  const decoder = new TextDecoder();
  let out = "";
  let at = 0;
  for (const token of scanned.tokens) {
    out += decoder.decode(bytes.subarray(at, token.start));
    const text = decoder.decode(bytes.subarray(token.start, token.end));
    out += token.keywordKind === "none" ? text : text.toLowerCase();
    at = token.end;
  }
  return out + decoder.decode(bytes.subarray(at));
}
