/**
 * The run as the service side reads it: one zod-typed record the orchestrator worker (understand,
 * plan, resume, deliver), the agent workers (a task's run: its request, context, answers, options,
 * plan) and delivery (request, understanding, usage, creation time, owner) all work from. The
 * API's {@link Run} is what a user is shown; this record adds the owner and keeps what the state
 * machine writes that no request schema knows (a recovery question's `task_key`, a question's
 * `resume_to`, the `agent_models` a recovery answer chose). Stored documents are read leniently
 * (loose objects, no request limits), since a row that fails to parse stops a worker; a row that
 * still does not fit is a server bug and fails loudly (see {@link parseRow}).
 *
 * @example
 * ```ts
 * const run = await loadRunRecord(sql, runId);
 * if (run?.status === "delivering") await deliverRun(deps, run, msgId);
 * ```
 */
import { z } from "zod";
import type { Sql, TransactionSql } from "../db/mod.ts";
import { parseRow } from "./rows.ts";
import { Count, Dollars, Id, JsonObject, Timestamp } from "./scalars.ts";
import { RunStatus } from "./status.ts";

/** The run's `context` as stored (what the user said about their project). */
export const RunRecordContext = z.looseObject({
  schema_sql: z.string().optional(),
  conventions: z.string().optional(),
  stack: z.string().optional(),
});

/** The run's `options` as stored: the user's limits, and the models recovery answers chose. */
export const RunRecordOptions = z.looseObject({
  token_budget: z.number().optional(),
  max_parallel: z.number().optional(),
  cost_budget_usd: z.number().optional(),
  agent_models: z.record(z.string(), z.string()).optional().meta({
    description: "Set when the user answered a recovery question with another model for an agent.",
  }),
});

/** The run's `clarification` as stored: questions, answers, and where an answer resumes. */
export const RunRecordClarification = z.looseObject({
  kind: z.string().optional(),
  questions: z.array(z.unknown()).optional(),
  answers: JsonObject.nullish(),
  reason: z.string().nullish(),
  resume_to: z.string().nullish().meta({ description: "The status an answer resumes to." }),
  task_key: z.string().nullish().meta({
    description: "The escalated task(s) of a recovery question.",
  }),
});

/** A run as orchestration, execution and delivery read it. */
export const RunRecord = z.object({
  id: Id,
  owner_id: Id,
  status: RunStatus,
  request: z.string(),
  context: RunRecordContext,
  options: RunRecordOptions,
  understanding: JsonObject.nullable(),
  plan: JsonObject.nullable(),
  clarification: RunRecordClarification.nullable(),
  token_budget: Count,
  prompt_tokens: Count,
  completion_tokens: Count,
  cost_usd: Dollars,
  created_at: Timestamp.meta({
    description: "When the run was created (migration versions count from here).",
  }),
}).meta({ id: "RunRecord" });
export type RunRecord = z.infer<typeof RunRecord>;

/** The `backend_team.run_view` columns a {@link RunRecord} is read from (the run and its usage). */
export const RUN_RECORD_COLUMNS: readonly string[] = Object.keys(RunRecord.shape);

/** The run as the service side (bypassing row level security) reads it; undefined if none. */
export async function loadRunRecord(
  sql: Sql | TransactionSql,
  runId: string,
): Promise<RunRecord | undefined> {
  const [row] = await sql`
    select ${sql(RUN_RECORD_COLUMNS as string[])} from backend_team.run_view where id = ${runId}`;
  return row ? parseRow(RunRecord, row) : undefined;
}
