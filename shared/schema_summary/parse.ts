/**
 * Turns SQL text into parse-tree statements with the real Postgres parser (`@supabase/pg-parser`,
 * WASM, PG 17 grammar). A script that does not parse as a whole is retried statement by statement,
 * so one broken statement from an LLM answer costs only that statement, which is reported as
 * skipped rather than silently lost.
 */
import { pgParser } from "../validation/parse.ts";
import { splitStatements } from "../sql/split.ts";
import type { PgNode, PgTree } from "../pg_ast/mod.ts";

/** A statement that parsed. */
export interface ParsedStatement {
  node: PgNode;
  /** The statement's source text (trimmed, without the semicolon). */
  text: string;
}

/** A statement the parser rejected. */
export interface SkippedStatement {
  text: string;
  error: string;
}

/** The statements of a script. */
export interface ParsedScript {
  statements: ParsedStatement[];
  skipped: SkippedStatement[];
}

/**
 * The process-wide parser, shared with shared/validation: one WASM instance (and one linear
 * memory, which never shrinks) per process instead of two.
 */
export { pgParser };

/** Parses `sql` into statements, skipping (and reporting) the ones that are not valid SQL. */
export async function parseScript(sql: string): Promise<ParsedScript> {
  if (sql.trim() === "") return { statements: [], skipped: [] };
  const whole = await pgParser().parse(sql);
  if (whole.tree) return { statements: statementsOf(whole.tree, sql), skipped: [] };
  const out: ParsedScript = { statements: [], skipped: [] };
  for (const piece of splitStatements(sql)) {
    const one = await pgParser().parse(piece.text);
    if (one.tree) out.statements.push(...statementsOf(one.tree, piece.text));
    else out.skipped.push({ text: piece.text, error: one.error.message });
  }
  return out;
}

function statementsOf(tree: PgTree, sql: string): ParsedStatement[] {
  // Positions are byte offsets into the UTF-8 text.
  const bytes = new TextEncoder().encode(sql);
  const decoder = new TextDecoder();
  const out: ParsedStatement[] = [];
  for (const raw of tree.stmts ?? []) {
    if (!raw.stmt) continue;
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    out.push({ node: raw.stmt, text: decoder.decode(bytes.subarray(start, end)).trim() });
  }
  return out;
}
