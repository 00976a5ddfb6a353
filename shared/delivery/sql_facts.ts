/**
 * Facts the deliverable documents that are read off migration SQL: the indexes a migration creates
 * (name, table, the statement) and the policies it creates (name, table, command, roles). A lexer
 * splits statements (quotes, dollar quotes and comments honoured); each statement is matched by its
 * leading words only, so an odd statement is simply not listed — the catalog of the shadow
 * database remains the authority for the tests.
 *
 * @example
 * ```ts
 * indexesIn("create index trades_user_id_idx on public.trades (user_id);")[0].name; // "trades_user_id_idx"
 * ```
 */
import { splitStatements } from "../sql/split.ts";

/** An index a migration creates. */
export interface IndexStatement {
  name: string;
  table: string;
  statement: string;
}

/** A policy a migration creates. */
export interface PolicyStatement {
  name: string;
  table: string;
  command: string;
  roles: string[];
}

const NAME = String.raw`("(?:[^"]|"")+"|[a-zA-Z_][\w$]*)`;
const QUALIFIED = String.raw`(${NAME}(?:\s*\.\s*${NAME})?)`;

/** The `create index` statements of `sql`. */
export function indexesIn(sql: string): IndexStatement[] {
  const re = new RegExp(
    String
      .raw`^create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?${NAME}\s+on\s+(?:only\s+)?${QUALIFIED}`,
    "i",
  );
  return splitStatements(sql).flatMap((s) => {
    const m = re.exec(s.text);
    return m
      ? [{ name: unquote(m[1]), table: unquoteQualified(m[2]), statement: `${s.text};` }]
      : [];
  });
}

/** The `create policy` statements of `sql`. */
export function policiesIn(sql: string): PolicyStatement[] {
  const re = new RegExp(String.raw`^create\s+policy\s+${NAME}\s+on\s+${QUALIFIED}`, "i");
  return splitStatements(sql).flatMap((s) => {
    const m = re.exec(s.text);
    if (!m) return [];
    const rest = s.text.slice(m[0].length);
    const command = /\bfor\s+(all|select|insert|update|delete)\b/i.exec(rest)?.[1].toLowerCase() ??
      "all";
    const roles = /\bto\s+([\w\s,"]+?)(?:\s+using\b|\s+with\s+check\b|$)/i.exec(rest)?.[1]
      .split(",").map((r) => unquote(r.trim())).filter((r) => r !== "") ?? ["public"];
    return [{ name: unquote(m[1]), table: unquoteQualified(m[2]), command, roles }];
  });
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
}

function unquoteQualified(text: string): string {
  const parts = text.match(new RegExp(NAME, "g")) ?? [text];
  return parts.map(unquote).join(".");
}
