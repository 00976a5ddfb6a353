/**
 * The validator's contracts, defined once and shared by the library call, `POST /validate` and the
 * CLI: the migrations to check (each with an optional rollback), the earlier accepted migrations
 * they build on, queries that must use an index, edge function sources, and the report.
 *
 * @example
 * ```ts
 * const request = ValidateRequest.parse(await req.json());
 * ```
 */
import { z } from "zod";
import { ChannelCase } from "./channel_probe.ts";
import { QueryCheck } from "./explain.ts";
import { Finding } from "./finding.ts";
import { FunctionFile } from "./typecheck.ts";

const MAX_SQL = 512 * 1024;

const PlanRun = z.object({
  executionMs: z.number(),
  buffers: z.number(),
  plan: z.string(),
  usesIndex: z.boolean(),
});

/** A migration to validate, with its rollback (`down`) when there is one. */
export const MigrationInput = z.object({
  /** File name as it should appear in findings, e.g. `20250101000000_trades.sql`. */
  name: z.string().min(1).max(200),
  sql: z.string().max(MAX_SQL),
  /** The rollback migration: applied after `sql`, it must restore the previous schema exactly. */
  down: z.string().max(MAX_SQL).optional(),
}).strict();
export type MigrationInput = z.infer<typeof MigrationInput>;

/** An earlier accepted migration, applied before the ones validated and not itself reported on. */
export const BaselineInput = z.object({
  name: z.string().min(1).max(200),
  sql: z.string().max(MAX_SQL),
}).strict();
export type BaselineInput = z.infer<typeof BaselineInput>;

function uniqueNames(list: readonly { name: string }[]): boolean {
  return new Set(list.map((f) => f.name)).size === list.length;
}

/** Functions started per request at most (each boots a process). */
const MAX_RUN_FUNCTIONS = 10;

// The functions of a submission: its `<name>/index.*` entry points.
function functionCount(files: readonly { name: string }[]): number {
  return files.filter((f) => /^[A-Za-z0-9][A-Za-z0-9_-]*\/index\.(ts|js|mjs|mts|tsx)$/.test(f.name))
    .length;
}

const MAX_SCHEMA = 64 * 1024;

/**
 * A documented endpoint to hold a function to: the parts of the api-data agent's `ApiEndpoint`
 * (shared/agents/artifact_schemas.ts) the contract checks read — an `ApiEndpoint` as the agent
 * wrote it is accepted as it is (its other keys are ignored).
 */
export const DocumentedEndpointInput = z.object({
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]),
  /** e.g. `/functions/v1/notes/{id}`; only paths under `/functions/v1/` are called. */
  path: z.string().min(1).max(500).startsWith("/"),
  /** JSON Schema (as text) of the request body; null or absent if none. */
  request: z.string().max(MAX_SCHEMA).nullable().default(null),
  /** JSON Schema (as text) of a successful response body. */
  response: z.string().max(MAX_SCHEMA),
  /** The documented error statuses. */
  errors: z.array(z.object({ status: z.int().min(100).max(599) }).loose()).max(30).default([]),
}).loose().meta({ id: "DocumentedEndpoint" });
export type DocumentedEndpointInput = z.infer<typeof DocumentedEndpointInput>;

/** A validation request (the body of `POST /validate`). */
export const ValidateRequest = z.object({
  /** Migrations applied in the given order, after the baseline. */
  files: z.array(MigrationInput).min(1).max(50).refine(uniqueNames, "file names must be unique"),
  baseline: z.array(BaselineInput).max(200).optional(),
  /** Queries that must use a given index (query-optimizer output). */
  queries: z.array(QueryCheck).max(50).optional(),
  /** Edge function sources to type-check. */
  functions: z.array(FunctionFile).max(50).refine(uniqueNames, "function names must be unique")
    .optional(),
  /**
   * Private Realtime channels to join as owner, another user and anon (where this server has a
   * shadow Realtime; elsewhere an info finding says they were not joined).
   */
  channels: z.array(ChannelCase).max(10).optional(),
  /**
   * Start each function (`<name>/index.ts`) in a sandboxed subprocess against this validation's
   * shadow database and call it: preflight, no token, malformed JSON (default false). Needs the
   * postgres shadow and a runtime that starts subprocesses; elsewhere an info finding
   * (`function_probe_not_run`) says they were not started. At most 10 functions.
   */
  runFunctions: z.boolean().optional(),
  /**
   * With `runFunctions`: the documented endpoints (`ApiEndpoint`s); each under
   * `/functions/v1/<function>` is called as a signed-in user and its answer judged against the
   * documented statuses and the response JSON Schema (ajv): `function_contract_mismatch`.
   */
  endpoints: z.array(DocumentedEndpointInput).max(50).optional(),
  /**
   * With `runFunctions`: `verify_jwt` per function name as deployed (default true); where false,
   * a call without a token need not answer 401.
   */
  verifyJwt: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/).max(100), z.boolean())
    .optional(),
  /**
   * Measure each query's index with `EXPLAIN (ANALYZE, BUFFERS)` before and after on synthetic
   * rows (default on with 50 000 rows per queried table; `false` skips it; `rows` from 1 000 to
   * 200 000).
   */
  benchmark: z.union([
    z.boolean(),
    z.object({ rows: z.int().min(1_000).max(200_000).optional() }).strict(),
  ]).optional(),
  /** Which shadow database runs the SQL (default pglite). */
  shadow: z.enum(["pglite", "postgres"]).optional(),
  /** Schemas the Data API exposes (default `["public"]`). */
  exposedSchemas: z.array(z.string().min(1).max(63)).max(20).optional(),
}).strict().refine(
  (r) => !r.runFunctions || functionCount(r.functions ?? []) <= MAX_RUN_FUNCTIONS,
  {
    path: ["runFunctions"],
    message: `at most ${MAX_RUN_FUNCTIONS} functions are started per request`,
  },
).meta({ id: "ValidateRequest" });
export type ValidateRequest = z.infer<typeof ValidateRequest>;

/** The outcome: `ok` when no finding is an error. */
export const ValidationReport = z.object({
  ok: z.boolean(),
  findings: z.array(Finding),
  durationMs: z.number().nonnegative(),
  /** Before/after `EXPLAIN (ANALYZE, BUFFERS)` of each index on synthetic rows, when measured. */
  benchmarks: z.array(z.object({
    query: z.string(),
    index: z.string(),
    sql: z.string(),
    rows: z.record(z.string(), z.number()),
    before: PlanRun,
    after: PlanRun,
    improved: z.boolean(),
    ms: z.number(),
  })).optional(),
  /** Time spent making synthetic rows for the benchmarks, in ms. */
  benchmarkFillMs: z.number().optional(),
  /**
   * The resulting schema's tables, views, columns and functions as snapshot keys (e.g.
   * `column:public.trades.price`), when everything applied; plan contracts are checked on it.
   */
  schema: z.array(z.string()).optional(),
}).meta({ id: "ValidationReport" });
export type ValidationReport = z.infer<typeof ValidationReport>;

/** Name of the rollback file of a migration: `x.sql`/`x.up.sql` → `x.down.sql`. */
export function downFileName(name: string): string {
  const stem = name.replace(/\.up\.sql$/i, "").replace(/\.sql$/i, "");
  return `${stem}.down.sql`;
}
