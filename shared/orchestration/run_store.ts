/**
 * The orchestrator worker's SQL: it runs as the service side (a direct connection that bypasses
 * row level security, as Supabase's service role does) and changes state only through the state
 * machine's functions. Each phase ends in one transaction that both records the phase's result
 * and archives the queue message, so a crash either redoes the phase or finds it done.
 *
 * @example
 * ```ts
 * await finishMessage(sql, msgId, (tx) => transitionRun(tx, runId, "planning", patch));
 * ```
 */
import type { Sql, TransactionSql } from "../db/mod.ts";
import type { RunStatus } from "../runs/mod.ts";
import type { WorkerName } from "../dispatch/mod.ts";

/** A SQL handle: the pool or a transaction. */
export type SqlLike = Sql | TransactionSql;

/** Moves the run along its state machine (see `backend_team.transition_run`). */
export async function transitionRun(
  sql: SqlLike,
  runId: string,
  to: RunStatus,
  patch: Record<string, unknown> = {},
): Promise<void> {
  await sql`select backend_team.transition_run(${runId}::uuid, ${to}, ${
    sql.json(patch as never)
  }::jsonb)`;
}

/** Fails the run with a code and message (its unfinished tasks are cancelled). */
export async function failRun(
  sql: SqlLike,
  runId: string,
  code: string,
  message: string,
): Promise<void> {
  await sql`
    select backend_team.fail_run(${runId}::uuid, ${code}, ${message})
     where not backend_team.is_terminal_run_status(
       (select status from backend_team.runs where id = ${runId}::uuid))`;
}

/** Persists a valid plan as tasks and queues the ready ones; returns the agents to wake. */
export async function persistPlan(
  sql: SqlLike,
  runId: string,
  plan: unknown,
  patch: Record<string, unknown>,
): Promise<WorkerName[]> {
  const rows = await sql<{ agent: WorkerName }[]>`
    select agent from backend_team.persist_plan(
      ${runId}::uuid, ${sql.json(plan as never)}::jsonb, ${
    sql.json(patch as never)
  }::jsonb) as agent`;
  return rows.map((r) => r.agent);
}

/** Queues a run's escalated tasks again after the user answered; returns the agents to wake. */
export async function resumeEscalatedTasks(sql: SqlLike, runId: string): Promise<WorkerName[]> {
  const rows = await sql<{ agent: WorkerName }[]>`
    select agent from backend_team.resume_escalated_tasks(${runId}::uuid) as agent`;
  return rows.map((r) => r.agent);
}

/** Runs `fn` and archives the orchestrator queue message in the same transaction. */
export async function finishMessage<T>(
  sql: Sql,
  msgId: number,
  fn: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  const result = await sql.begin(async (tx) => {
    const value = await fn(tx);
    await tx`select pgmq.archive('bt_orchestrator', ${msgId}::bigint)`;
    return value;
  });
  return result as T;
}
