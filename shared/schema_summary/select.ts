/**
 * Decides which tables a task needs to see: the ones it names, the ones its text mentions, and the
 * ones those reference through a foreign key (one hop, so a new column can point at the right key).
 * Everything else stays out of the agent's context, which is what keeps a large prior schema from
 * crowding out the task.
 */
import type { SchemaModel } from "./model.ts";

/** The tables chosen for one task. */
export interface TableSelection {
  /** Known tables the task works on: named in `tables` or mentioned in its text. */
  focus: string[];
  /** The subset of `focus` found only by mention in the text. */
  mentioned: string[];
  /** Known tables that `focus` tables reference by foreign key, not already in `focus`. */
  neighbours: string[];
  /** Tables the task names that the schema does not have yet (usually: it creates them). */
  unknown: string[];
  /** Referenced tables outside the schema read (e.g. `auth.users`, provided by the platform). */
  external: string[];
}

/** `Tasks` → `public.tasks`; `auth.users` stays. Unquoted SQL identifiers are case-insensitive. */
export function tableKey(name: string): string {
  const clean = name.trim().replaceAll('"', "").toLowerCase();
  return clean.includes(".") ? clean : `public.${clean}`;
}

/** Known tables whose name occurs as a word in `text` (`tasks`, `public.tasks`, `auth.users`). */
export function tablesMentioned(model: SchemaModel, text: string): string[] {
  const found: string[] = [];
  for (const key of model.tables.keys()) {
    if (mentionPattern(key).test(text)) found.push(key);
  }
  return found;
}

/** A case-insensitive word pattern for a table key; `public.` is optional, other schemas are not. */
export function mentionPattern(key: string): RegExp {
  const [schema, name] = key.split(".");
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const qualified = `${escape(schema)}\\s*\\.\\s*"?${escape(name)}"?`;
  const body = schema === "public" ? `(?:${qualified}|"?${escape(name)}"?)` : qualified;
  return new RegExp(`(?<![\\w.$])${body}(?![\\w$])`, "i");
}

/** Selects the tables for a task from its named `tables` and its free `text` (title + input). */
export function selectTables(
  model: SchemaModel,
  request: { tables: readonly string[]; text: string },
): TableSelection {
  const named = [...new Set(request.tables.map(tableKey))];
  const focus = named.filter((k) => model.tables.has(k));
  const unknown = named.filter((k) => !model.tables.has(k));
  const mentioned = tablesMentioned(model, request.text).filter((k) => !focus.includes(k));
  focus.push(...mentioned);
  const neighbours: string[] = [];
  const external: string[] = [];
  for (const key of focus) {
    for (const fk of model.tables.get(key)!.foreignKeys) {
      if (
        focus.includes(fk.table) || neighbours.includes(fk.table) || external.includes(fk.table)
      ) {
        continue;
      }
      (model.tables.has(fk.table) ? neighbours : external).push(fk.table);
    }
  }
  return { focus, mentioned, neighbours, unknown, external };
}
