/**
 * The runs repository: every query a user's request makes, each run as the caller (`asCaller`), so
 * row level security decides what exists for them — another tenant's run is simply not found.
 * State changes go through the state machine's SECURITY DEFINER functions (`submit_run`,
 * `cancel_run`, `answer_clarification`); nothing here writes a table. Database errors leave as
 * {@link AppError}s (see `fromDatabaseError`).
 *
 * @example
 * ```ts
 * const run = await submitRun(sql, claims, { request: "A todo API" });
 * const { runs, next_cursor } = await listRuns(sql, claims, { limit: 20 });
 * ```
 */
import { asCaller, type Claims, type Sql, type TransactionSql } from "../db/mod.ts";
import { AppError } from "../errors/mod.ts";
import { answerIssues } from "./answers.ts";
import { recoveryAnswerIssues, RecoveryDecisionRecord } from "../recovery/mod.ts";
import { GATE_EVENTS, gateRecordOf } from "../checkpoints/record.ts";
import { expandEvent } from "../events/mod.ts";
import { Artifact, type Deliverable, DELIVERABLE_FOLDER } from "./artifact.ts";
import { RunEvent } from "./event.ts";
import { decodeCursor, encodeCursor } from "./pagination.ts";
import { type Answers, Clarification, type CreateRunRequest, Run, RunSummary } from "./run.ts";
import { parseRow } from "./rows.ts";
import { fromDatabaseError } from "./db_errors.ts";
import { Task, TaskAttempt, taskCost } from "./task.ts";
import type { EventPage, RunDetail, RunPage } from "./views.ts";

const GATE_TYPES: ReadonlySet<string> = new Set(GATE_EVENTS);

// Column lists come from the schemas, so the API shows exactly what they define.
const RUN_COLUMNS = Object.keys(Run.shape);
const SUMMARY_COLUMNS = Object.keys(RunSummary.shape);
const TASK_COLUMNS = Object.keys(Task.shape);
const EVENT_COLUMNS = Object.keys(RunEvent.shape);
const ARTIFACT_COLUMNS = Object.keys(Artifact.shape);
const ATTEMPT_COLUMNS = Object.keys(TaskAttempt.shape);

/** Runs `fn` as the caller and turns database errors into {@link AppError}s. */
async function asUser<T>(
  sql: Sql,
  claims: Claims,
  fn: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  try {
    return await asCaller(sql, claims, fn);
  } catch (e) {
    throw fromDatabaseError(e);
  }
}

function notFound(): AppError {
  return new AppError("not_found", "run not found");
}

/** Lists the caller's runs, newest first, `limit` at a time after `cursor`. */
export function listRuns(
  sql: Sql,
  claims: Claims,
  page: { cursor?: string; limit: number },
): Promise<RunPage> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  return asUser(sql, claims, async (tx) => {
    const rows = await tx`
      select ${tx(SUMMARY_COLUMNS)},
             to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at
      from backend_team.run_view
      where ${
      after ? tx`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)` : tx`true`
    }
      order by created_at desc, id desc
      limit ${page.limit + 1}`;
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const last = shown.at(-1);
    return {
      runs: shown.map((row) => parseRow(RunSummary, row)),
      next_cursor: more && last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
    };
  });
}

/** The caller's run `id` with its tasks in plan order; `not_found` if it is not theirs. */
export function getRun(sql: Sql, claims: Claims, id: string): Promise<RunDetail> {
  return asUser(sql, claims, async (tx) => {
    // Five reads in one round trip (pipelined on the transaction's connection), not five.
    const [[row], tasks, attempts, decisions, gates] = await Promise.all([
      tx`select ${tx(RUN_COLUMNS)} from backend_team.run_view where id = ${id}`,
      tx`
        select ${tx(TASK_COLUMNS)} from backend_team.tasks
         where run_id = ${id}
         order by created_at, length(key), key`,
      tx`
        select task_id, ${tx(ATTEMPT_COLUMNS)} from backend_team.task_attempts
         where run_id = ${id}
         order by task_id, attempt`,
      tx`
        select id, class, strategy, from_task, to_task, to_agent, reason, created_at
          from backend_team.recovery_decisions
         where run_id = ${id}
         order by created_at, length(from_task), from_task, id`,
      // A gate verdict is a row's first change or rides on it (`then`, expandEvent).
      tx<{ seq: string; type: string; payload: Record<string, unknown> }[]>`
        select seq, type, payload from backend_team.run_events
         where run_id = ${id} and (type = any(${[...GATE_EVENTS]}::text[]) or payload ? 'then')
         order by seq`,
    ]);
    if (!row) throw notFound();
    const attemptsOf = new Map<string, TaskAttempt[]>();
    for (const a of attempts) {
      const list = attemptsOf.get(a.task_id) ?? [];
      list.push(parseRow(TaskAttempt, a));
      attemptsOf.set(a.task_id, list);
    }
    return {
      run: parseRow(Run, row),
      tasks: tasks.map((t) => {
        const task = parseRow(Task, t);
        const tried = attemptsOf.get(task.id) ?? [];
        return { ...task, cost_usd: taskCost(tried), attempts: tried };
      }),
      recovery: decisions.map((d) => parseRow(RecoveryDecisionRecord, d)),
      gates: gates.flatMap((row) =>
        expandEvent({ ...row.payload, type: row.type })
          .filter((e) => GATE_TYPES.has(String(e.type)))
          .map((e) => gateRecordOf({ seq: row.seq, type: String(e.type), payload: e }))
      ),
    };
  });
}

/** Events of the caller's run `id` with `seq > after`, in order; `not_found` if not theirs. */
export function listEvents(
  sql: Sql,
  claims: Claims,
  id: string,
  page: { after: number; limit: number },
): Promise<EventPage> {
  return asUser(sql, claims, async (tx) => {
    // Reading the run first makes a run that is not the caller's a 404, not an empty list. One
    // event past the page says whether there are more (no stored last_seq to compare with).
    const [[run], rows] = await Promise.all([
      tx`select 1 from backend_team.runs where id = ${id}`,
      tx`
        select ${tx(EVENT_COLUMNS)} from backend_team.run_events
        where run_id = ${id} and seq > ${page.after}
        order by seq
        limit ${page.limit + 1}`,
    ]);
    if (!run) throw notFound();
    const events = rows.slice(0, page.limit).map((row) => parseRow(RunEvent, row));
    const nextAfter = events.at(-1)?.seq ?? page.after;
    return { events, next_after: nextAfter, has_more: rows.length > page.limit };
  });
}

/**
 * The run `id` as the API shows it (its row, usage and latest seq), read after a state machine
 * function changed it: a later statement of the same transaction sees what the function wrote.
 */
async function shownRun(tx: TransactionSql, id: string): Promise<Run> {
  const [row] = await tx`select ${tx(RUN_COLUMNS)} from backend_team.run_view where id = ${id}`;
  if (!row) throw notFound();
  return parseRow(Run, row);
}

/** Creates a run for the caller (status `received`). */
export function submitRun(sql: Sql, claims: Claims, body: CreateRunRequest): Promise<Run> {
  return asUser(sql, claims, async (tx) => {
    const [row] = await tx`
      select id from backend_team.submit_run(
        ${body.request}, ${tx.json(body.context ?? {})}::jsonb, ${
      tx.json(body.options ?? {})
    }::jsonb)`;
    return await shownRun(tx, row.id);
  });
}

/** Cancels the caller's run and its unfinished tasks; `illegal_transition` if already finished. */
export function cancelRun(sql: Sql, claims: Claims, id: string): Promise<Run> {
  return asUser(sql, claims, async (tx) => {
    const [row] = await tx`select id from backend_team.cancel_run(${id}::uuid)`;
    return await shownRun(tx, row.id);
  });
}

/**
 * Stores the caller's answers to their run's questions and lets the run continue. Answers that do
 * not fit the questions are a `validation_failed` listing each; a run not waiting for answers is an
 * `illegal_transition` (raised by the SQL function).
 */
export function answerClarification(
  sql: Sql,
  claims: Claims,
  id: string,
  answers: Answers,
): Promise<Run> {
  return asUser(sql, claims, async (tx) => {
    const [current] = await tx`
      select status, clarification from backend_team.runs where id = ${id}`;
    if (!current) throw notFound();
    const asked = Clarification.safeParse(current.clarification);
    if (current.status === "awaiting_clarification" && asked.success) {
      const issues = answerIssues(asked.data.questions ?? [], answers);
      // A recovery question's answers must also make sense together (a budget above what is used).
      if (asked.data.kind === "recovery") {
        issues.push(...recoveryAnswerIssues(asked.data as { budget?: { used?: number } }, answers));
      }
      if (issues.length > 0) {
        throw new AppError("validation_failed", "the answers do not fit the questions", issues);
      }
    }
    const [row] = await tx`
      select id from backend_team.answer_clarification(${id}::uuid, ${tx.json(answers)}::jsonb)`;
    return await shownRun(tx, row.id);
  });
}

/**
 * The deliverable of the caller's completed run: its `result`, the assembled project's files (the
 * artifact rows under `deliverable/`, paths without that folder) and the tasks' artifacts, each in
 * order. `not_found` if the run is not theirs, `conflict` while it is not completed.
 */
export function getDeliverable(sql: Sql, claims: Claims, id: string): Promise<Deliverable> {
  return asUser(sql, claims, async (tx) => {
    const [run] = await tx`select status, result from backend_team.runs where id = ${id}`;
    if (!run) throw notFound();
    if (run.status !== "completed") {
      throw new AppError(
        "conflict",
        `run is ${run.status}; its deliverable is available once it is completed`,
        { status: run.status },
      );
    }
    const rows = await tx`
      select ${tx(ARTIFACT_COLUMNS)} from backend_team.artifacts
      where run_id = ${id}
      order by ordinal, path`;
    const artifacts = rows.map((row) => parseRow(Artifact, row));
    const isFile = (a: Artifact) => a.task_id === null && a.path.startsWith(DELIVERABLE_FOLDER);
    return {
      run_id: id,
      status: "completed",
      result: run.result ?? null,
      files: artifacts.filter(isFile).map((a) => ({
        path: a.path.slice(DELIVERABLE_FOLDER.length),
        kind: a.kind,
        content: a.content,
        meta: a.meta,
      })),
      artifacts: artifacts.filter((a) => !isFile(a)),
    };
  });
}
