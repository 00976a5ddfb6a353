/**
 * Reads a SQL script into a {@link SchemaModel}: parse, then apply each statement in order. Used
 * for the run's prior schema and for each accepted migration after it, so the model always reflects
 * "what the database looks like before this task".
 */
import { applyStatement } from "./apply.ts";
import type { SchemaModel } from "./model.ts";
import { parseScript } from "./parse.ts";

/** What reading one script did. */
export interface ReadResult {
  /** `schema.table` keys the script created or changed, in first-touched order. */
  touched: string[];
  /** Statements that parsed. */
  statements: number;
  /** Statements that did not parse (also appended to `model.skipped`). */
  skipped: { text: string; error: string }[];
}

/** Applies `sql` to `model` (mutating it) and reports which tables it touched. */
export async function readSql(model: SchemaModel, sql: string): Promise<ReadResult> {
  const parsed = await parseScript(sql);
  const touched = new Set<string>();
  for (const statement of parsed.statements) {
    for (const key of applyStatement(model, statement.node)) touched.add(key);
  }
  model.skipped.push(...parsed.skipped);
  return { touched: [...touched], statements: parsed.statements.length, skipped: parsed.skipped };
}
