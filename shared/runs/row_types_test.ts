/**
 * Type-level tests of the row-schema check: `deno test` type-checks this file, and each
 * `@ts-expect-error` line must fail to compile, so a check that stopped catching a renamed or
 * nullable column would fail here.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import type {
  AssertRowSchemaFits,
  NullabilityMismatch,
  RowSchemaMismatch,
  TableRow,
  ViewRow,
  ViewSchemaMismatch,
} from "./row_types.ts";
import { Artifact } from "./artifact.ts";
import { RunEvent } from "./event.ts";
import { Run } from "./run.ts";
import { Task } from "./task.ts";

function keysOf<S extends z.ZodObject>(schema: S): (keyof z.output<S> & string)[] {
  return Object.keys(schema.shape) as (keyof z.output<S> & string)[];
}

Deno.test("every key the API's row schemas read is a column of their table", () => {
  // Each assignment compiles only while the schema's keys are columns of the table.
  // A run is read from run_view: its row, its usage and its latest seq.
  const run: (keyof ViewRow<"run_view">)[] = keysOf(Run);
  const task: (keyof TableRow<"tasks">)[] = keysOf(Task);
  const event: (keyof TableRow<"run_events">)[] = keysOf(RunEvent);
  const artifact: (keyof TableRow<"artifacts">)[] = keysOf(Artifact);
  for (const keys of [run, task, event, artifact]) assert.ok(keys.length > 0);
  assert.ok(run.includes("status") && task.includes("depends_on") && event.includes("seq"));
  assert.ok(artifact.includes("ordinal"));
});

Deno.test("a schema key that is no longer a column does not compile", () => {
  const Renamed = z.object({ id: z.string(), run_status: z.string() });
  // @ts-expect-error: run_status is not a column of runs
  type _Renamed = AssertRowSchemaFits<RowSchemaMismatch<typeof Renamed, "runs">>;
  const mismatch: RowSchemaMismatch<typeof Renamed, "runs"> = "run_status";
  assert.equal(mismatch, "run_status");
});

Deno.test("a schema refusing null for a nullable column does not compile", () => {
  const Strict = z.object({ id: z.string(), completed_at: z.string() });
  // @ts-expect-error: runs.completed_at is nullable
  type _Strict = AssertRowSchemaFits<RowSchemaMismatch<typeof Strict, "runs">>;
  const Lenient = z.object({ id: z.string(), completed_at: z.string().nullable() });
  type _Lenient = AssertRowSchemaFits<RowSchemaMismatch<typeof Lenient, "runs">>;
  const none: RowSchemaMismatch<typeof Lenient, "runs">[] = [];
  assert.deepEqual(none, []);
});

Deno.test("a view's schema is held to the view's columns and to its table's nullability", () => {
  const Usage = z.object({ id: z.string(), prompt_tokens: z.number(), tokens_left: z.number() });
  // @ts-expect-error: tokens_left is not a column of run_view
  type _Missing = AssertRowSchemaFits<ViewSchemaMismatch<typeof Usage, "run_view">>;
  const missing: ViewSchemaMismatch<typeof Usage, "run_view"> = "tokens_left";
  assert.equal(missing, "tokens_left");
  const Strict = z.object({ id: z.string(), cost_usd: z.number() });
  // @ts-expect-error: run_usage.cost_usd is nullable (unknown cost)
  type _Strict = AssertRowSchemaFits<NullabilityMismatch<typeof Strict, "run_usage">>;
  type _Fits = AssertRowSchemaFits<ViewSchemaMismatch<typeof Strict, "run_view">>;
  const strict: NullabilityMismatch<typeof Strict, "run_usage"> = "cost_usd";
  assert.equal(strict, "cost_usd");
});
