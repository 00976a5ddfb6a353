/**
 * Where a finished run's time went, read from the database clock: wall time (run created →
 * completed), time inside the agents' LLM calls (`task_attempts.llm_ms`, as the worker timed the
 * call), the phases around execution (submit → first tasks queued: wake-up, understand, plan;
 * last task done → completed: delivery) and, per task, dispatch, the worker's own time and the
 * shadow validation inside it. Runs the scripted LLM answered instantly, so nearly everything
 * here is the product's own overhead.
 *
 * @example
 * ```ts
 * const m = await runMetrics(db.sql, runId);
 * m.perTaskOverheadMs; // (wall − LLM) / tasks
 * ```
 */
import type { Sql } from "../../shared/db/mod.ts";

/** One task of a finished run. */
export interface TaskTiming {
  key: string;
  dependsOn: string[];
  llmMs: number;
  /** Commit that queued it → `start_attempt` reached the server. */
  dispatchMs: number | null;
  /** `start_attempt` → the attempt finished (its completing transaction began). */
  workMs: number;
  /** Shadow validation inside `workMs` (0 when there was no SQL). */
  validationMs: number;
  /** Migrations the run had accepted when this attempt started (what validation re-applies). */
  acceptedBefore: number;
}

/** A finished run's time, in ms. */
export interface RunMetrics {
  runId: string;
  status: string;
  tasks: number;
  wallMs: number;
  /** Σ llm_ms of the agents' attempts. */
  llmMs: number;
  /** (wall − Σ llm_ms) / tasks: the brief's per-task overhead. */
  perTaskOverheadMs: number;
  /** Run created → the commit queueing its first tasks (wake-up, understand, plan, persist). */
  planningMs: number;
  /** That commit → the last task's completion. */
  executionMs: number;
  /** Last task's completion → run completed (integration validation, assembly, storing). */
  deliveryMs: number;
  /** LLM time on the DAG's longest path (what parallel branches cannot hide). */
  criticalLlmMs: number;
  /** (execution − critical-path LLM) / tasks: the orchestration's per-step cost. */
  perStepMs: number;
  /** Events in the run's log (every one a client sees on the channel and in `GET …/events`). */
  events: number;
  taskTimings: TaskTiming[];
}

/** Reads the metrics of a completed run. */
export async function runMetrics(sql: Sql, runId: string): Promise<RunMetrics> {
  const [run] = await sql<{ status: string; created_at: Date; completed_at: Date }[]>`
    select status, created_at, completed_at from backend_team.runs where id = ${runId}`;
  const tasks = await sql<{
    key: string;
    depends_on: string[];
    llm_ms: string | null;
    dispatch_ms: number | null;
    work_ms: number;
    validation_ms: number | null;
    queued_at: Date | null;
    finished_at: Date;
    accepted_before: number;
  }[]>`
    select t.key, t.depends_on, a.llm_ms,
           (select count(*)::int from backend_team.artifacts m
              join backend_team.tasks d on d.id = m.task_id
             where m.run_id = t.run_id and m.kind = 'migration' and d.id <> t.id
               and d.finished_at <= a.started_at) as accepted_before,
           extract(epoch from a.started_at - q.committed_at) * 1000 as dispatch_ms,
           extract(epoch from a.finished_at - a.started_at) * 1000 as work_ms,
           (a.validation ->> 'durationMs')::float8 as validation_ms,
           q.committed_at as queued_at, t.finished_at
      from backend_team.tasks t
      join backend_team.task_attempts a on a.task_id = t.id and a.attempt = t.attempt
      left join lateral (
        select min(committed_at) as committed_at from bench.commit_clock c
         where c.kind = 'queued' and c.key = t.id::text
      ) q on true
     where t.run_id = ${runId}`;
  const [{ events }] = await sql<{ events: number }[]>`
    select count(*)::int as events from backend_team.run_events where run_id = ${runId}`;
  const taskTimings: TaskTiming[] = tasks.map((t) => ({
    key: t.key,
    dependsOn: t.depends_on,
    llmMs: Number(t.llm_ms ?? 0),
    dispatchMs: t.dispatch_ms === null ? null : Number(t.dispatch_ms),
    workMs: Number(t.work_ms),
    validationMs: Number(t.validation_ms ?? 0),
    acceptedBefore: t.accepted_before,
  }));
  const ms = (a: Date, b: Date) => b.getTime() - a.getTime();
  const firstQueued = new Date(Math.min(...tasks.map((t) => t.queued_at?.getTime() ?? Infinity)));
  const lastDone = new Date(Math.max(...tasks.map((t) => t.finished_at.getTime())));
  const wallMs = ms(run.created_at, run.completed_at);
  const llmMs = taskTimings.reduce((s, t) => s + t.llmMs, 0);
  const executionMs = ms(firstQueued, lastDone);
  const criticalLlmMs = longestPath(taskTimings);
  return {
    runId,
    status: run.status,
    tasks: tasks.length,
    wallMs,
    llmMs,
    perTaskOverheadMs: (wallMs - llmMs) / tasks.length,
    planningMs: ms(run.created_at, firstQueued),
    executionMs,
    deliveryMs: ms(lastDone, run.completed_at),
    criticalLlmMs,
    perStepMs: (executionMs - criticalLlmMs) / tasks.length,
    events,
    taskTimings,
  };
}

// The largest sum of llm_ms along any dependency path.
function longestPath(tasks: readonly TaskTiming[]): number {
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  const memo = new Map<string, number>();
  const upTo = (key: string): number => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    const t = byKey.get(key)!;
    const value = t.llmMs + Math.max(0, ...t.dependsOn.map(upTo));
    memo.set(key, value);
    return value;
  };
  return Math.max(0, ...tasks.map((t) => upTo(t.key)));
}
