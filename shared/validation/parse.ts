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
import { splitStatements } from "../sql/split.ts";
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

/**
 * Byte offsets to character offsets and character offsets to lines, each in O(log n) after one
 * pass over the text: a file of many statements must not cost the square of their number (a body
 * padded with `select 1;` would otherwise stall the process before any limit applies).
 */
class TextPositions {
  readonly #text: string;
  readonly #lineStarts: number[] = [0];
  // Character offset of each UTF-8 byte offset; absent when the text is ASCII (they are equal).
  readonly #charOfByte: Uint32Array | undefined;

  constructor(text: string) {
    this.#text = text;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.#lineStarts.push(i + 1);
    }
    const bytes = new TextEncoder().encode(text);
    if (bytes.length === text.length) return;
    this.#charOfByte = new Uint32Array(bytes.length + 1);
    let b = 0;
    for (let c = 0; c < text.length; c++) {
      const code = text.codePointAt(c)!;
      const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      for (let k = 0; k < size; k++) this.#charOfByte[b + k] = c;
      b += size;
      if (code >= 0x10000) c++; // a surrogate pair is two UTF-16 units
    }
    this.#charOfByte[b] = text.length;
  }

  /** Character offset of a UTF-8 byte offset. */
  charOffset(byteOffset: number): number {
    const at = Math.max(0, byteOffset);
    if (!this.#charOfByte) return Math.min(at, this.#text.length);
    return this.#charOfByte[Math.min(at, this.#charOfByte.length - 1)];
  }

  /** 1-based line of a character offset. */
  lineAt(offset: number): number {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/** Parses a file into statements with their lines, or reports where it stops parsing. */
export async function parseSqlFile(file: SqlFile): Promise<ParsedFile> {
  const result = await pgParser().parse(file.sql);
  const at = new TextPositions(file.sql);
  if (result.error) {
    const offset = at.charOffset(result.error.position);
    const holding = splitStatements(file.sql).filter((s) => s.offset <= offset).at(-1);
    return {
      ...file,
      statements: [],
      syntaxError: {
        message: result.error.message,
        line: at.lineAt(offset),
        statement: holding?.text ?? file.sql.trim().slice(0, 500),
      },
    };
  }
  const statements: ParsedStatement[] = [];
  for (const raw of result.tree.stmts ?? []) {
    if (!raw.stmt) continue;
    const startByte = raw.stmt_location ?? 0;
    const start = at.charOffset(startByte);
    const end = raw.stmt_len ? at.charOffset(startByte + raw.stmt_len) : file.sql.length;
    // The raw span starts right after the previous semicolon: skip comments and blanks.
    const [piece] = splitStatements(file.sql.slice(start, end));
    const text = piece?.text ?? file.sql.slice(start, end).trim();
    const offset = start + (piece?.offset ?? 0);
    statements.push({
      index: statements.length,
      text,
      offset,
      line: at.lineAt(offset),
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
