/**
 * SQL text into statements with the real Postgres parser (`@supabase/pg-parser`, libpg_query in
 * WASM, PG 17 grammar). The parser reports statement positions and error positions in UTF-8 bytes;
 * they are turned into character offsets and 1-based lines here, once, so every finding can name
 * the line a person would look at.
 *
 * @example
 * ```ts
 * const parsed = await parseSqlFile({ name: "001_init.sql", sql });
 * if (parsed.syntaxError) console.log(parsed.syntaxError.line, parsed.syntaxError.message);
 * for (const s of parsed.statements) console.log(s.line, s.type);
 * ```
 */
import { PgParser } from "@supabase/pg-parser";
import { lineAt, splitStatements } from "../sql/split.ts";
import { nodeType, type PgNode, type PgNodeType } from "../pg_ast/mod.ts";

/** A named SQL script. */
export interface SqlFile {
  name: string;
  sql: string;
}

/** One statement of a file. */
export interface ParsedStatement {
  /** Position in the file (0-based). */
  index: number;
  /** The statement's source text, from its first token, without the semicolon. */
  text: string;
  /** Character offset of `text` in the file. */
  offset: number;
  /** 1-based line of the statement's first token. */
  line: number;
  type: PgNodeType;
  node: PgNode;
}

/** Where a file stopped parsing. */
export interface SyntaxErrorFacts {
  message: string;
  line: number;
  /** The statement (as the lexer splits the file) holding the error. */
  statement: string;
}

/** A file and its statements (none when it does not parse). */
export interface ParsedFile extends SqlFile {
  statements: ParsedStatement[];
  syntaxError?: SyntaxErrorFacts;
}

let shared: PgParser<17> | undefined;

/** The process-wide parser (the WASM module loads on first use). */
export function pgParser(): PgParser<17> {
  shared ??= new PgParser({ version: 17 });
  return shared;
}

/** Character offset of a UTF-8 byte offset in `text` (whose bytes are `bytes`). */
function charOffset(bytes: Uint8Array, byteOffset: number): number {
  return new TextDecoder().decode(bytes.subarray(0, Math.max(0, byteOffset))).length;
}

/** Parses a file into statements with their lines, or reports where it stops parsing. */
export async function parseSqlFile(file: SqlFile): Promise<ParsedFile> {
  const result = await pgParser().parse(file.sql);
  const bytes = new TextEncoder().encode(file.sql);
  if (result.error) {
    const offset = charOffset(bytes, result.error.position);
    const holding = splitStatements(file.sql).filter((s) => s.offset <= offset).at(-1);
    return {
      ...file,
      statements: [],
      syntaxError: {
        message: result.error.message,
        line: lineAt(file.sql, offset),
        statement: holding?.text ?? file.sql.trim().slice(0, 500),
      },
    };
  }
  const statements: ParsedStatement[] = [];
  for (const raw of result.tree.stmts ?? []) {
    if (!raw.stmt) continue;
    const startByte = raw.stmt_location ?? 0;
    const endByte = raw.stmt_len ? startByte + raw.stmt_len : bytes.length;
    const start = charOffset(bytes, startByte);
    const end = charOffset(bytes, endByte);
    // The raw span starts right after the previous semicolon: skip comments and blanks.
    const [piece] = splitStatements(file.sql.slice(start, end));
    const text = piece?.text ?? file.sql.slice(start, end).trim();
    const offset = start + (piece?.offset ?? 0);
    statements.push({
      index: statements.length,
      text,
      offset,
      line: lineAt(file.sql, offset),
      type: nodeType(raw.stmt),
      node: raw.stmt,
    });
  }
  return { ...file, statements };
}

// Policy and check expressions repeat across validations (same baseline, same platform).
const expressions = new Map<string, Promise<PgNode | undefined>>();
const MAX_CACHED_EXPRESSIONS = 5000;

/** Parses one SQL expression (as Postgres deparses policy and check expressions); memoised. */
export function parseExpression(expression: string): Promise<PgNode | undefined> {
  let parsed = expressions.get(expression);
  if (!parsed) {
    if (expressions.size >= MAX_CACHED_EXPRESSIONS) expressions.clear();
    parsed = parseExpressionNow(expression);
    expressions.set(expression, parsed);
  }
  return parsed;
}

async function parseExpressionNow(expression: string): Promise<PgNode | undefined> {
  const result = await pgParser().parse(`select ${expression}`);
  const stmt = result.tree?.stmts?.[0]?.stmt;
  if (!stmt || !("SelectStmt" in stmt)) return undefined;
  const target = stmt.SelectStmt.targetList?.[0];
  return target && "ResTarget" in target ? target.ResTarget.val : undefined;
}

/** The 1-based line of a character position inside a statement (Postgres' `position`). */
export function lineOfPosition(statement: ParsedStatement, position: number | undefined): number {
  if (!position || position < 1) return statement.line;
  return statement.line + (statement.text.slice(0, position - 1).split("\n").length - 1);
}
