/**
 * Writes the part of a schema a task needs as compact text: one line per column
 * (`name type [pk|fk→table.col|not null]`), one line per constraint, policy, index, trigger and
 * grant of the tables in focus; referenced tables as a single line each; and only the signatures of
 * the enums and functions those tables use. Nothing about other tables is printed, which is both the
 * point (a smaller prompt) and a guarantee tests rely on.
 */
import { asNode, type PgNode, qualifiedName, stringList, walk } from "../pg_ast/mod.ts";
import { expressionText, statementText } from "./expression.ts";
import type { ColumnModel, ForeignKey, SchemaModel, TableModel } from "./model.ts";
import type { TableSelection } from "./select.ts";

/** Rendering limits. */
export interface RenderOptions {
  /** Expressions longer than this are cut with `…` (default 240 characters). */
  maxExpressionChars?: number;
  /** Table comments longer than this are cut (default 160 characters). */
  maxCommentChars?: number;
}

/** The summary text for `selection` of `model`. */
export async function renderSchemaSummary(
  model: SchemaModel,
  selection: TableSelection,
  options: RenderOptions = {},
): Promise<string> {
  const maxExpr = options.maxExpressionChars ?? 240;
  const maxComment = options.maxCommentChars ?? 160;
  const expr = async (node: PgNode | null) => node ? cut(await expressionText(node), maxExpr) : "";
  const shown = new Set([...selection.focus, ...selection.neighbours]);
  const lines: string[] = [];
  const omitted = model.tables.size - shown.size;
  lines.push(
    `-- prior schema: ${model.tables.size} tables; ${selection.focus.length} in focus, ` +
      `${selection.neighbours.length} referenced by them, ${omitted} omitted`,
  );
  if (model.skipped.length > 0) {
    lines.push(`-- ${model.skipped.length} statement(s) did not parse and were ignored`);
  }
  for (const key of selection.focus) {
    lines.push(...await focusTable(model, model.tables.get(key)!, expr, maxComment));
  }
  if (selection.neighbours.length > 0) {
    lines.push("-- referenced tables (columns only):");
    for (const key of selection.neighbours) {
      const table = model.tables.get(key)!;
      const cols = await Promise.all(table.columns.map((c) => columnText(model, table, c, expr)));
      lines.push(`table ${key}: ${cols.join(", ")}`);
    }
  }
  if (selection.external.length > 0) {
    lines.push(`-- referenced, provided by the platform: ${selection.external.join(", ")}`);
  }
  if (selection.unknown.length > 0) {
    lines.push(
      `-- named by the task, not defined in the prior schema: ${selection.unknown.join(", ")}`,
    );
  }
  const shownTables = [...shown].map((k) => model.tables.get(k)!);
  for (const e of enumsUsed(model, shownTables)) {
    lines.push(`type ${short(e.key)} as enum (${e.values.map((v) => `'${v}'`).join(", ")})`);
  }
  const focusTables = selection.focus.map((k) => model.tables.get(k)!);
  for (const f of functionsUsed(model, focusTables)) {
    const attrs = [
      `language ${f.language}`,
      f.securityDefiner ? "security definer" : null,
      f.searchPath === null ? "search_path not set" : `set search_path = ${f.searchPath}`,
    ].filter((a) => a !== null);
    lines.push(`function ${f.signature} returns ${f.returns} ${attrs.join(" ")}`);
  }
  return lines.join("\n");
}

type Expr = (node: PgNode | null) => Promise<string>;

async function focusTable(
  model: SchemaModel,
  table: TableModel,
  expr: Expr,
  maxComment: number,
): Promise<string[]> {
  const head = `table ${table.key}${table.comment ? ` -- ${cut(table.comment, maxComment)}` : ""}`;
  const lines = [head, `  rls ${table.rls ? "enabled" : "NOT enabled"}`];
  for (const column of table.columns) {
    lines.push(`  ${await columnText(model, table, column, expr)}`);
  }
  for (const c of table.constraints) {
    const name = c.name ? `${c.name} ` : "";
    if (c.kind === "check") lines.push(`  ${name}check (${await expr(c.expr)})`);
    else lines.push(`  ${name}${c.kind}${c.columns.length ? ` (${c.columns.join(", ")})` : ""}`);
  }
  for (const fk of table.foreignKeys.filter((f) => f.columns.length > 1)) {
    lines.push(`  fk (${fk.columns.join(", ")}) → ${fkTarget(model, fk)}${onDelete(fk)}`);
  }
  for (const p of table.policies) {
    const parts = [
      `  policy "${p.name}"`,
      p.permissive ? null : "restrictive",
      `for ${p.command}`,
      `to ${p.roles.length ? p.roles.join(", ") : "public"}`,
      p.using ? `using (${await expr(p.using)})` : null,
      p.withCheck ? `with check (${await expr(p.withCheck)})` : null,
    ];
    lines.push(parts.filter((x) => x !== null).join(" "));
  }
  for (const index of table.indexes) {
    const text = await statementText(index.statement);
    const unique = /^create unique/i.test(text) ? "unique " : "";
    const tail = / using (.*)$/is.exec(text)?.[1] ?? text;
    lines.push(`  ${unique}index ${index.name ?? "(unnamed)"} ${cut(tail, 300)}`);
  }
  for (const t of table.triggers) {
    lines.push(
      `  trigger ${t.name} ${t.timing} ${t.events.join(" or ")}` +
        `${t.forEachRow ? " for each row" : ""} → ${t.function}()`,
    );
  }
  for (const [role, privileges] of table.grants) {
    lines.push(`  grant ${[...privileges].join(", ")} to ${role}`);
  }
  return lines;
}

async function columnText(
  model: SchemaModel,
  table: TableModel,
  c: ColumnModel,
  expr: Expr,
): Promise<string> {
  const parts = [c.name, c.type];
  if (c.primaryKey) parts.push("pk");
  if (c.identity) parts.push(`identity ${c.identity}`);
  const fk = table.foreignKeys.find((f) => f.columns.length === 1 && f.columns[0] === c.name);
  if (fk) parts.push(`fk→${fkTarget(model, fk)}${onDelete(fk)}`);
  if (c.notNull && !c.primaryKey && !c.identity) parts.push("not null");
  if (c.unique) parts.push("unique");
  if (c.defaultExpr) parts.push(`default ${await expr(c.defaultExpr)}`);
  if (c.generatedExpr) parts.push(`generated (${await expr(c.generatedExpr)})`);
  return parts.join(" ");
}

function fkTarget(model: SchemaModel, fk: ForeignKey): string {
  const target = model.tables.get(fk.table);
  const cols = fk.refColumns.length > 0
    ? fk.refColumns
    : target?.columns.filter((c) => c.primaryKey).map((c) => c.name) ?? [];
  const name = short(fk.table);
  if (cols.length === 0) return name;
  return cols.length === 1 ? `${name}.${cols[0]}` : `${name}(${cols.join(", ")})`;
}

function onDelete(fk: ForeignKey): string {
  return fk.onDelete ? ` on delete ${fk.onDelete}` : "";
}

/** `public.tasks` → `tasks`; other schemas stay qualified. */
function short(key: string): string {
  return key.startsWith("public.") ? key.slice("public.".length) : key;
}

function cut(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function enumsUsed(model: SchemaModel, tables: TableModel[]) {
  const out = new Map<string, { key: string; values: string[] }>();
  for (const t of tables) {
    for (const c of t.columns) {
      const base = c.type.replace(/(\[\])+$/, "");
      const key = base.includes(".") ? base : `public.${base}`;
      const e = model.enums.get(key);
      if (e) out.set(key, e);
    }
  }
  return [...out.values()];
}

function functionsUsed(model: SchemaModel, tables: TableModel[]) {
  const keys = new Set<string>();
  const collect = (root: unknown) =>
    walk(root, ({ node }) => {
      const call = asNode(node, "FuncCall");
      if (call) keys.add(qualifiedName(stringList(call.funcname)));
    });
  for (const t of tables) {
    for (const p of t.policies) collect([p.using, p.withCheck]);
    for (const c of t.columns) collect(c.defaultExpr);
    for (const c of t.constraints) collect(c.expr);
    for (const trigger of t.triggers) keys.add(trigger.function);
  }
  return [...keys].map((k) => model.functions.get(k)).filter((f) => f !== undefined);
}
