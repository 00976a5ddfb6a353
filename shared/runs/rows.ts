/**
 * Rows from postgres.js into API objects, in one place: `timestamptz` columns arrive as `Date` and
 * leave as ISO strings, then the row is parsed with the concept's zod schema (which also drops
 * columns the API does not show). A row that does not fit its schema is a server bug, so it fails
 * as an internal error, never as the client's 400.
 *
 * @example
 * ```ts
 * const run = parseRow(Run, row);
 * ```
 */
import type { z } from "zod";

/** The row with every `Date` value turned into its ISO 8601 string. */
export function rowToJson(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = value instanceof Date ? value.toISOString() : value;
  }
  return out;
}

/** Parses a database row with `schema`; a mismatch throws a plain (500) error naming the schema. */
export function parseRow<S extends z.ZodType>(
  schema: S,
  row: Record<string, unknown>,
): z.output<S> {
  const parsed = schema.safeParse(rowToJson(row));
  if (parsed.success) return parsed.data;
  const name = (schema.meta()?.id as string | undefined) ?? "row";
  throw new Error(`a ${name} row does not match its schema: ${parsed.error.message}`, {
    cause: parsed.error,
  });
}
