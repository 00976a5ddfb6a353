/**
 * The runs domain's zod row schemas held against the generated database types
 * (`shared/db/database.types.ts`, from `deno task gen:types`). A schema key that is not a column of
 * its table, or a nullable column whose schema refuses null, fails `deno check` here: renaming a
 * column in a migration and regenerating the types points at each schema to change, before any
 * request fails at run time with "a row does not match its schema".
 *
 * @example
 * ```ts
 * import type { TableRow } from "../runs/mod.ts";
 * type RunRow = TableRow<"runs">; // { id: string; status: string; ... }
 * ```
 */
import type { z } from "zod";
import type { Database, Json } from "../db/database.types.ts";
import type { Artifact } from "./artifact.ts";
import type { RunEvent } from "./event.ts";
import type { RunRecord } from "./record.ts";
import type { Run } from "./run.ts";
import type { Task } from "./task.ts";

type Tables = Database["backend_team"]["Tables"];
type Views = Database["backend_team"]["Views"];

/** A row of a `backend_team` table, as the generated types describe it. */
export type TableRow<T extends keyof Tables> = Tables[T]["Row"];

/** A row of a `backend_team` view, as the generated types describe it (every column nullable). */
export type ViewRow<V extends keyof Views> = Views[V]["Row"];

/**
 * The keys of row schema `S` that do not fit table `T`: not a column, or a nullable column the
 * schema does not accept null for. `never` when every key fits. (A `jsonb` column's `Json` type
 * holds null either way, so for those only the column's existence is checked.)
 */
export type RowSchemaMismatch<S extends z.ZodType, T extends keyof Tables> = {
  [K in keyof z.output<S>]-?: K extends keyof TableRow<T>
    ? RefusesNull<TableRow<T>[K], z.output<S>[K]> extends true ? K : never
    : K;
}[keyof z.output<S>];

/**
 * The keys of row schema `S` that are not columns of view `V`. Postgres reports every column of a
 * view as nullable, so only existence is checked here; hold the schema to the nullability of the
 * table the columns come from with {@link NullabilityMismatch}.
 */
export type ViewSchemaMismatch<S extends z.ZodType, V extends keyof Views> = {
  [K in keyof z.output<S>]-?: K extends keyof ViewRow<V> ? never : K;
}[keyof z.output<S>];

/** The keys of row schema `S` that are nullable columns of table `T` the schema refuses null for. */
export type NullabilityMismatch<S extends z.ZodType, T extends keyof Tables> = {
  [K in keyof z.output<S>]-?: K extends keyof TableRow<T>
    ? RefusesNull<TableRow<T>[K], z.output<S>[K]> extends true ? K : never
    : never;
}[keyof z.output<S>];

/** Whether a nullable column's schema value type leaves null out. */
type RefusesNull<Column, Value> = Json extends Column ? false
  : null extends Column ? null extends Value ? false : true
  : false;

/** Compiles only when `Mismatch` is `never`; otherwise the error names the keys that do not fit. */
export type AssertRowSchemaFits<Mismatch extends never> = Mismatch;

/**
 * The API's row schemas, each against its table (checked by `deno check`). A run is read from
 * `run_view` (its row, its usage, its latest seq), with the columns of `runs` as nullable as there.
 */
export type RowSchemasFit = [
  AssertRowSchemaFits<ViewSchemaMismatch<typeof Run, "run_view">>,
  AssertRowSchemaFits<NullabilityMismatch<typeof Run, "runs">>,
  AssertRowSchemaFits<NullabilityMismatch<typeof Run, "run_usage">>,
  AssertRowSchemaFits<ViewSchemaMismatch<typeof RunRecord, "run_view">>,
  AssertRowSchemaFits<NullabilityMismatch<typeof RunRecord, "runs">>,
  AssertRowSchemaFits<NullabilityMismatch<typeof RunRecord, "run_usage">>,
  AssertRowSchemaFits<RowSchemaMismatch<typeof Task, "tasks">>,
  AssertRowSchemaFits<RowSchemaMismatch<typeof RunEvent, "run_events">>,
  AssertRowSchemaFits<RowSchemaMismatch<typeof Artifact, "artifacts">>,
];
