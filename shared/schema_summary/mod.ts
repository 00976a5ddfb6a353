/**
 * DDL summaries for agent prompts. Reads real DDL (CREATE/ALTER TABLE, indexes, policies, triggers,
 * grants, comments, enums, functions) with the Postgres parser into a model, picks the tables a task
 * needs (named, mentioned, and one foreign-key hop away), and prints only those in a compact form.
 *
 * @example
 * ```ts
 * const model = emptySchema();
 * await readSql(model, priorSchemaSql);
 * const selection = selectTables(model, { tables: ["tasks"], text: task.input });
 * const text = await renderSchemaSummary(model, selection);
 * ```
 */
export { emptySchema } from "./model.ts";
export type {
  ColumnModel,
  EnumModel,
  ForeignKey,
  FunctionModel,
  IndexModel,
  PolicyModel,
  SchemaModel,
  TableConstraint,
  TableModel,
  TriggerModel,
} from "./model.ts";
export { type ParsedScript, parseScript, type SkippedStatement } from "./parse.ts";
export { type ReadResult, readSql } from "./read.ts";
export {
  mentionPattern,
  selectTables,
  tableKey,
  type TableSelection,
  tablesMentioned,
} from "./select.ts";
export { type RenderOptions, renderSchemaSummary } from "./render.ts";
export { lowercaseKeywords } from "./expression.ts";

import { emptySchema, type SchemaModel } from "./model.ts";
import { readSql } from "./read.ts";
import { selectTables, type TableSelection } from "./select.ts";
import { renderSchemaSummary } from "./render.ts";

/** One-call form: read `scripts` in order, select for `tables` + `text`, render. */
export async function summarizeSchema(
  scripts: readonly string[],
  request: { tables: readonly string[]; text: string },
): Promise<{ text: string; selection: TableSelection; model: SchemaModel }> {
  const model = emptySchema();
  for (const sql of scripts) await readSql(model, sql);
  const selection = selectTables(model, request);
  return { text: await renderSchemaSummary(model, selection), selection, model };
}
