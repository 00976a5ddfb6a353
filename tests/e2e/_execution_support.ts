/**
 * What the execution acceptance tests share: waking every worker function before a run (so
 * timing assertions measure the queues, not process start-up), waiting for a run to settle,
 * reading its tasks, attempts, artifacts and events as stored, and the artifact rows an agent's
 * answer must become. Everything is read as the user would see it or straight from the product's
 * tables with the superuser pool; nothing here changes state.
 *
 * @example
 * ```ts
 * await using app = await startProduct({ scenarios, scenarioFiles });
 * await warmUp(app);
 * const run = await app.submit(token, request);
 * await untilSettled(app, token, run.id);
 * const attempts = await attemptsOf(app.db.sql, run.id);
 * ```
 */
import assert from "node:assert/strict";
import { type AgentOutputs, artifactsOf } from "../../shared/agents/mod.ts";
import type { Sql } from "../../shared/db/mod.ts";
import { functionOf, WORKERS } from "../../shared/dispatch/mod.ts";
import type { AgentName } from "../../shared/plan/schema.ts";
import type { Run, RunEvent, Task } from "../../shared/runs/mod.ts";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import type { Product } from "../_support/stack.ts";
import {
  dbArchitectAnswer,
  queryOptimizerAnswer,
  securityAnswer,
} from "../fixtures/trade_journal/scenario.ts";
import { expandEvent } from "../../shared/events/mod.ts";

/** The seed example's orchestrator answers: db-architect T1, then security T2 and query-optimizer T3. */
export const TRADE_JOURNAL_PLAN = new URL(
  "../fixtures/llm/trade_journal_plan.json",
  import.meta.url,
);

/** The seed example's request. */
export const SEED_REQUEST =
  "Design the schema for a trade journal with positions, trades, and tags";

/** The seed example's agent answers; security and query-optimizer take `latencyMs` to answer. */
export async function seedScenario(latencyMs = 0): Promise<ScenarioInput> {
  const slow = latencyMs > 0 ? { latency_ms: latencyMs } : {};
  return {
    description: "The seed example's agent answers",
    rules: [
      {
        name: "db-architect designs the trade journal",
        match: { agent: "db-architect", contains: "trade journal" },
        answers: [{ kind: "json", value: await dbArchitectAnswer() }],
      },
      {
        name: "security hardens the trade journal",
        match: { agent: "security", contains: "trade journal" },
        answers: [{ kind: "json", value: await securityAnswer(), ...slow }],
      },
      {
        name: "query-optimizer indexes the trade journal",
        match: { agent: "query-optimizer", contains: "trade journal" },
        answers: [{ kind: "json", value: await queryOptimizerAnswer(), ...slow }],
      },
    ],
  };
}

/** Statuses a run rests in once execution is over: delivered (or delivering), or ended. */
const SETTLED = new Set(["delivering", "completed", "failed", "cancelled"]);

/** Whether the run got through execution: it is being delivered or has been. */
export function reachedDelivery(run: Run): boolean {
  return run.status === "delivering" || run.status === "completed";
}

/** Starts every worker function and the API, waiting until each answered once. */
export async function warmUp(app: Product): Promise<void> {
  await Promise.all(WORKERS.map((worker) => wakeWorker(app, functionOf(worker))));
  const res = await fetch(`${app.stack.functionsUrl}/orchestrator/runs/not-a-uuid`);
  await res.body?.cancel();
}

/** `POST /functions/v1/<fn>/wake` with the worker secret, as the product's waker does. */
export async function wakeWorker(app: Product, fn: string): Promise<void> {
  const res = await fetch(`${app.stack.functionsUrl}/${fn}/wake`, {
    method: "POST",
    headers: {
      apikey: app.stack.workerSecret,
      authorization: `Bearer ${app.stack.workerSecret}`,
    },
  });
  const body = await res.text();
  assert.equal(res.status, 202, `${fn} did not wake: ${res.status} ${body}`);
}

/** Waits until the run is delivering, completed, failed or cancelled; returns it with its tasks. */
export function untilSettled(
  app: Product,
  token: string,
  runId: string,
  timeoutMs = 60_000,
): Promise<{ run: Run; tasks: Task[] }> {
  return app.waitForRun(token, runId, (d) => SETTLED.has(d.run.status), timeoutMs);
}

/** Polls `check` every 50 ms until it holds. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One try at a task, as stored. */
export interface AttemptRow {
  key: string;
  agent: string;
  task_id: string;
  attempt: number;
  status: string;
  prompt_tokens: number;
  completion_tokens: number;
  context_tokens: number | null;
  context_tokens_uncompressed: number | null;
  started_at: Date;
  finished_at: Date | null;
}

/** Every attempt of the run's tasks, by task key then attempt. */
export async function attemptsOf(sql: Sql, runId: string): Promise<AttemptRow[]> {
  const rows = await sql<AttemptRow[]>`
    select t.key, t.agent, a.task_id, a.attempt, a.status, a.prompt_tokens::int,
           a.completion_tokens::int, a.context_tokens::int, a.context_tokens_uncompressed::int,
           a.started_at, a.finished_at
      from backend_team.task_attempts a
      join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${runId}
     order by length(t.key), t.key, a.attempt`;
  return [...rows];
}

/** An artifact as compared: who made it, where it goes, what it holds. */
export interface ArtifactRow {
  key: string;
  kind: string;
  path: string;
  content: string;
  ordinal: number;
  meta: Record<string, unknown>;
}

/** The artifacts the run's tasks stored (not the assembled deliverable's), in task order. */
export async function taskArtifactsOf(sql: Sql, runId: string): Promise<ArtifactRow[]> {
  const rows = await sql<ArtifactRow[]>`
    select t.key, a.kind, a.path, a.content, a.ordinal, a.meta
      from backend_team.artifacts a
      join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${runId}
     order by length(t.key), t.key, a.ordinal, a.path`;
  return [...rows];
}

/** `[kind, path, content]` of each artifact an answer must become, in order. */
export function expectedArtifacts<A extends AgentName>(
  agent: A,
  answer: AgentOutputs[A],
): [string, string, string][] {
  return artifactsOf(agent, answer).map((a) => [a.kind, a.path, a.content]);
}

/** Asserts a task stored exactly the artifacts its answer makes, once, migrations with their rollback. */
export function assertArtifactsOf<A extends AgentName>(
  stored: ArtifactRow[],
  key: string,
  agent: A,
  answer: AgentOutputs[A],
): void {
  const mine = stored.filter((a) => a.key === key);
  assert.deepEqual(
    mine.map((a) => [a.kind, a.path, a.content]),
    expectedArtifacts(agent, answer),
    `${key} (${agent}) stored exactly its answer's artifacts, once`,
  );
  const downs = artifactsOf(agent, answer).filter((a) => a.kind === "migration")
    .map((a) => a.meta.down_sql);
  assert.deepEqual(
    mine.filter((a) => a.kind === "migration").map((a) => a.meta.down_sql),
    downs,
    `${key}'s migrations keep their rollback in meta.down_sql`,
  );
}

/**
 * Every change of the run through `GET /runs/:id/events`, in order: each row of the log expanded
 * (a row holds one transaction's changes, `expandEvent`), each change with its row's seq.
 */
export async function eventsOf(app: Product, token: string, runId: string): Promise<RunEvent[]> {
  return (await eventRowsOf(app, token, runId)).flatMap((row) =>
    expandEvent(row.payload).map((payload) => ({
      ...row,
      type: String(payload.type ?? row.type),
      payload,
    }))
  );
}

/** The run's whole event log (its rows) through `GET /runs/:id/events`, page by page. */
export async function eventRowsOf(
  app: Product,
  token: string,
  runId: string,
): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  let after = 0;
  for (;;) {
    const res = await app.api(token, `/runs/${runId}/events?after=${after}&limit=1000`);
    assert.equal(res.status, 200, await res.clone().text());
    const page = await res.json() as { events: RunEvent[]; next_after: number; has_more: boolean };
    events.push(...page.events);
    after = page.next_after;
    if (!page.has_more) return events;
  }
}

/** `type status key` of each event, e.g. `task.status running T2`. */
export function eventLine(event: RunEvent): string {
  const p = event.payload as { status?: string; key?: string };
  return [event.type, p.status, p.key].filter((x) => x !== undefined && x !== null).join(" ");
}
