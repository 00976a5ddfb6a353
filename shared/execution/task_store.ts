/**
 * The agent worker's SQL, as the service side: start an attempt for a delivered message, read
 * what the task needs (its input, the run's context and answers, its dependencies' outputs, the
 * migrations the run has accepted so far), and finish the attempt — accepted, rejected by
 * validation, or failed — through the state machine's conditional functions, which archive or
 * re-time the message in the same transaction.
 *
 * @example
 * ```ts
 * const started = await startAttempt(sql, taskId, message);
 * if (started.applied) { const work = await loadTaskWork(sql, taskId); … }
 * ```
 */
import type { Sql, TransactionSql } from "../db/mod.ts";
import type { WorkerName } from "../dispatch/mod.ts";
import type { QueueMessage } from "../queue/mod.ts";
import { loadRunRecord, type RunRecord } from "../runs/mod.ts";

/** Outcome of {@link startAttempt}. */
export interface StartedAttempt {
  applied: boolean;
  attempt: number;
  /** Why nothing started (stale message, task finished, dead-lettered, …). */
  reason: string | null;
}

/** Starts the next attempt of the message's task, or says why not (the message is then handled). */
export async function startAttempt(
  sql: Sql,
  taskId: string,
  message: QueueMessage,
  maxDeliveries: number,
): Promise<StartedAttempt> {
  const [row] = await sql<StartedAttempt[]>`
    select * from backend_team.start_attempt(
      ${taskId}::uuid, ${message.msg_id}::bigint, ${message.read_ct}::integer, ${maxDeliveries}::integer)`;
  return row;
}

/** An earlier task's accepted output. */
export interface DependencyOutput {
  key: string;
  agent: string;
  output: unknown;
}

/** A migration the run has already accepted (the base new SQL is validated on). */
export interface AcceptedMigration {
  path: string;
  up: string;
  down: string | null;
}

/** Everything an attempt works from. */
export interface TaskWork {
  task: {
    id: string;
    run_id: string;
    key: string;
    agent: string;
    title: string;
    input: { text?: string; tables?: string[] };
    expected_output: unknown;
    depends_on: string[];
    attempt: number;
    validation: unknown;
    error: { code?: string; message?: string } | null;
  };
  /** The task's run (its request, context, answers, options with `agent_models`, amended plan). */
  run: RunRecord;
  dependencies: DependencyOutput[];
  acceptedMigrations: AcceptedMigration[];
  /** The task's latest finished attempt before this one (a retry learns from it), if any. */
  previous: {
    attempt: number;
    status: string;
    validation: unknown;
    error: { code?: string; message?: string } | null;
  } | null;
}

/** Reads the task, its run and what came before it. */
export async function loadTaskWork(sql: Sql, taskId: string): Promise<TaskWork> {
  const [task] = await sql<TaskWork["task"][]>`
    select id, run_id, key, agent, title, input, expected_output, depends_on, attempt, validation, error
      from backend_team.tasks where id = ${taskId}`;
  const run = await loadRunRecord(sql, task.run_id);
  if (!run) throw new Error(`task ${taskId} has no run ${task.run_id}`);
  const dependencies = await sql<DependencyOutput[]>`
    select key, agent, output from backend_team.tasks
     where run_id = ${task.run_id} and key = any(${task.depends_on}::text[]) and status = 'succeeded'
     order by length(key), key`;
  // Only migration rows hold runnable SQL (policy and index rows document what they create).
  const migrations = await acceptedArtifacts(sql, task.run_id, taskId, ["migration"]);
  const [previous] = await sql<NonNullable<TaskWork["previous"]>[]>`
    select attempt, status, validation, error from backend_team.task_attempts
     where task_id = ${taskId} and attempt < ${task.attempt} and finished_at is not null
     order by attempt desc limit 1`;
  return {
    task,
    run,
    previous: previous ?? null,
    dependencies: [...dependencies],
    acceptedMigrations: migrations.map((m) => ({
      path: m.path,
      up: m.content,
      down: typeof m.meta?.down_sql === "string" ? m.meta.down_sql : null,
    })),
  };
}

/** An accepted artifact of a run's task, with the task's key. */
export interface AcceptedArtifact {
  kind: string;
  path: string;
  content: string;
  meta: Record<string, unknown> | null;
  key: string;
}

/**
 * The run's accepted artifacts of `kinds` (those of succeeded tasks other than `exceptTaskId`), in
 * the order the tasks finished: what a validation builds on.
 */
export async function acceptedArtifacts(
  sql: Sql,
  runId: string,
  exceptTaskId: string,
  kinds: readonly string[],
): Promise<AcceptedArtifact[]> {
  return [
    ...await sql<AcceptedArtifact[]>`
    select a.kind, a.path, a.content, a.meta, t.key
      from backend_team.artifacts a
      join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${runId} and t.status = 'succeeded' and t.id <> ${exceptTaskId}
       and a.kind = any(${kinds as string[]}::text[])
     order by t.finished_at, a.ordinal, a.path`,
  ];
}

/** Marks the attempt's output as under validation; false when the attempt is no longer current. */
export async function beginValidation(
  sql: Sql | TransactionSql,
  taskId: string,
  attempt: number,
): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`
    select backend_team.begin_validation(${taskId}::uuid, ${attempt}::integer) as ok`;
  return row.ok;
}

/** What an attempt produced, as stored. */
export interface AttemptResult {
  output?: unknown;
  artifacts?: { kind: string; path: string; content: string; meta: Record<string, unknown> }[];
  prompt_tokens?: number;
  completion_tokens?: number;
  /** US dollars of the attempt's LLM answers; null when the model has no price. */
  cost_usd?: number | null;
  context_tokens?: number;
  context_tokens_uncompressed?: number;
  duration_ms?: number;
  llm_ms?: number;
  validation?: unknown;
  error?: { code: string; message: string };
  retryable?: boolean;
  /** A failed attempt's recovery: the decision and, when escalating, the questions to ask. */
  recovery?: { decision: unknown; clarification?: unknown };
}

/** Accepts the attempt; returns whether it applied and whom to wake. */
export async function completeAttempt(
  sql: Sql | TransactionSql,
  taskId: string,
  attempt: number,
  result: AttemptResult,
): Promise<{ applied: boolean; wake: WorkerName[] }> {
  const [row] = await sql<{ applied: boolean; wake: WorkerName[] }[]>`
    select * from backend_team.complete_attempt(
      ${taskId}::uuid, ${attempt}::integer, ${sql.json(result as never)}::jsonb)`;
  return row;
}

/** Rejects the attempt after validation: retried with the findings, or escalated. */
export async function rejectAttempt(
  sql: Sql,
  taskId: string,
  attempt: number,
  result: AttemptResult,
  maxRetries: number,
): Promise<{ applied: boolean; outcome: string | null; wake: WorkerName[] }> {
  const [row] = await sql<{ applied: boolean; outcome: string | null; wake: WorkerName[] }[]>`
    select * from backend_team.reject_attempt(
      ${taskId}::uuid, ${attempt}::integer, ${
    sql.json(result as never)
  }::jsonb, ${maxRetries}::integer)`;
  return row;
}

/** Records a failed attempt: retried after `retryDelaySeconds` while deliveries remain. */
export async function failAttempt(
  sql: Sql,
  taskId: string,
  attempt: number,
  result: AttemptResult,
  message: QueueMessage,
  options: { maxDeliveries: number; retryDelaySeconds: number },
): Promise<{ applied: boolean; outcome: string | null }> {
  const [row] = await sql<{ applied: boolean; outcome: string | null }[]>`
    select * from backend_team.fail_attempt(
      ${taskId}::uuid, ${attempt}::integer, ${sql.json(result as never)}::jsonb,
      ${message.read_ct}::integer, ${options.maxDeliveries}::integer,
      ${options.retryDelaySeconds}::integer)`;
  return row;
}

/** What recovery has done for a task so far, and for its run. */
export interface RecoveryHistory {
  /** Invalid attempts since the task was last escalated (answers reset the count). */
  invalidAttempts: number;
  /** Classes the task was rerouted for. */
  reroutes: string[];
  /** Tasks recovery added to the run. */
  recoveryTasks: number;
  /** Tokens used so far by the run, and its budget (read after this attempt's usage). */
  used: number;
  budget: number;
}

/** Reads the task's recovery history (see {@link RecoveryHistory}). */
export async function loadRecoveryHistory(sql: Sql, taskId: string): Promise<RecoveryHistory> {
  const [row] = await sql<
    { invalid: number; reroutes: string[]; recovery_tasks: number; used: number; budget: number }[]
  >`
    select
      (select count(*)::int from backend_team.task_attempts a
        where a.task_id = t.id and a.status = 'invalid'
          and a.started_at > coalesce(t.finished_at, '-infinity'::timestamptz)) as invalid,
      array(select d.class from backend_team.recovery_decisions d
             where d.task_id = t.id and d.strategy = 'reroute') as reroutes,
      (select count(*)::int from backend_team.recovery_decisions d
        where d.run_id = t.run_id and d.strategy = 'reroute') as recovery_tasks,
      (r.prompt_tokens + r.completion_tokens)::float8 as used,
      r.token_budget::float8 as budget
      from backend_team.tasks t join backend_team.run_view r on r.id = t.run_id
     where t.id = ${taskId}`;
  return {
    invalidAttempts: row.invalid,
    reroutes: row.reroutes,
    recoveryTasks: row.recovery_tasks,
    used: row.used,
    budget: row.budget,
  };
}

/** Applies a recovery decision after a failed validation (`backend_team.recover_attempt`). */
export async function recoverAttempt(
  sql: Sql | TransactionSql,
  taskId: string,
  attempt: number,
  result: AttemptResult,
  decision: unknown,
  amendment: unknown | null,
  clarification: unknown | null,
): Promise<{ applied: boolean; outcome: string | null; wake: WorkerName[] }> {
  const [row] = await sql<{ applied: boolean; outcome: string | null; wake: WorkerName[] }[]>`
    select * from backend_team.recover_attempt(
      ${taskId}::uuid, ${attempt}::integer, ${sql.json(result as never)}::jsonb,
      ${sql.json(decision as never)}::jsonb,
      ${amendment === null ? null : sql.json(amendment as never)}::jsonb,
      ${clarification === null ? null : sql.json(clarification as never)}::jsonb)`;
  return row;
}
