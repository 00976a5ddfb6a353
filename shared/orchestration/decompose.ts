/**
 * "Decompose further" (the seed's Phase 6.2), the orchestrator worker's side: a task that still
 * fails validation after its retries waits (in `retrying`, without a queue message) while the
 * planner splits it. This module asks the planner (`prompts/orchestrator-split.md`, on the same LLM
 * port as planning) for two to four smaller tasks, turns its answer into a plan amendment
 * (shared/recovery `amendPlan`: the same DAG validation as the planner's plan, the limits of 30
 * tasks, 8 per agent and 6 added by recovery), re-asks with the exact problems while the amendment
 * is refused (at most {@link MAX_SPLIT_FIXES} times), and has the state machine store it
 * (`backend_team.apply_split`: new tasks, dependents re-wired, the failing task superseded). A
 * split that cannot be made — the planner's model failing, or still no valid split — escalates the
 * task (as a validation failure: guidance first) with the typed recovery questions (`backend_team.escalate_split`), so the run is never lost.
 *
 * @example
 * ```ts
 * const agents = await splitFailingTask(deps, runId, taskId, msgId, signal);
 * ```
 */
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { isAppError, publicError } from "../errors/mod.ts";
import type { ChatMessage, LlmPort } from "../llm/mod.ts";
import { AgentName, Plan, type PlanTask } from "../plan/schema.ts";
import { loadPrompt, type Prompt } from "../prompts/mod.ts";
import {
  type Amendment,
  amendPlan,
  type AmendResult,
  escalationClarification,
  FAILURE_CLASSES,
  type FailureClass,
  nextTaskKey,
} from "../recovery/mod.ts";
import type { WorkerName } from "../dispatch/mod.ts";
import { finishMessage } from "./run_store.ts";

/** How many times a refused split is sent back before the task escalates. */
export const MAX_SPLIT_FIXES = 2;

/** One smaller task as the planner proposes it (ids `S1`, `S2`, …; renumbered when stored). */
export const SplitTask = z.object({
  id: z.string().regex(/^S[0-9]{1,2}$/, "new task ids look like S1, S2, …"),
  agent: AgentName,
  title: z.string().min(1).max(200),
  input: z.string().min(1).max(4000),
  output: z.array(z.string().min(1).max(200)).min(1).max(20),
  depends_on: z.array(z.string().regex(/^[ST][0-9]{1,3}$/)).max(30),
  tables: z.array(z.string().max(63)).max(50),
});
/** A proposed smaller task. */
export type SplitTask = z.infer<typeof SplitTask>;

/** The planner's answer to a split request. */
export const TaskSplit = z.object({
  reason: z.string().min(1).max(1000),
  tasks: z.array(SplitTask).min(2).max(4),
});
/** The planner's answer to a split request. */
export type TaskSplit = z.infer<typeof TaskSplit>;

/**
 * The amendment a split makes: the `S` ids become the plan's next free `T` ids (in the order given),
 * and dependencies on them follow. Pure.
 */
export function splitAmendment(
  plan: Pick<Plan, "tasks">,
  from: string,
  split: TaskSplit,
): Amendment {
  const ids = new Map(split.tasks.map((t, i) => [t.id, nextTaskKey(plan, i)]));
  const tasks: PlanTask[] = split.tasks.map((t) => ({
    ...t,
    id: ids.get(t.id)!,
    depends_on: t.depends_on.map((d) => ids.get(d) ?? d),
  }));
  return { kind: "decompose", from, tasks };
}

/** What the planner is told about the plan, the failing task and its findings. */
export interface SplitBrief {
  request: string;
  plan: Plan;
  /** Status of each task of the run, by key. */
  statuses: Record<string, string>;
  task: { key: string; agent: string; title: string; input: string };
  /** Error findings of the task's last attempt. */
  findings: { rule?: string; message?: string; statement?: string | null }[];
}

/** The split conversation: the prompt's preamble and `## Split` section, then the brief. Pure. */
export function splitMessages(prompt: Prompt, brief: SplitBrief): ChatMessage[] {
  const section = prompt.sections["Split"];
  if (!section) throw new Error(`prompt ${prompt.name} has no "## Split" section`);
  const preamble = prompt.body.split(/^## /m, 1)[0].trim();
  const tasks = brief.plan.tasks.map((t) =>
    `- ${t.id} (${t.agent}, ${brief.statuses[t.id] ?? "pending"}) "${t.title}"` +
    (t.depends_on.length > 0 ? `, needs ${t.depends_on.join(", ")}` : "")
  ).join("\n");
  const findings = brief.findings.slice(0, 12).map((f) =>
    `- [${f.rule ?? "error"}] ${String(f.message ?? "").slice(0, 400)}` +
    (f.statement ? `\n  statement: ${String(f.statement).slice(0, 300)}` : "")
  ).join("\n");
  return [
    { role: "system", content: `${preamble}\n\n## Split\n\n${section}` },
    {
      role: "user",
      content:
        `Request:\n${brief.request.slice(0, 4000)}\n\nThe plan (goal: ${brief.plan.goal}):\n` +
        `${tasks}\n\nThe failing task: ${brief.task.key} (${brief.task.agent}) ` +
        `"${brief.task.title}"\nIts input:\n${brief.task.input.slice(0, 4000)}\n\n` +
        `Findings of its last attempt:\n${findings || "- (none recorded)"}`,
    },
  ];
}

/** The outcome of asking the planner: an amendment that validates, or why there is none. */
export type SplitOutcome =
  | { ok: true; split: TaskSplit; amended: Extract<AmendResult, { ok: true }> }
  | { ok: false; problems: string[] };

/**
 * Asks the planner for a split of `brief.task` and validates it as a plan amendment; a refused
 * amendment is sent back with its problems, at most {@link MAX_SPLIT_FIXES} times. LLM errors
 * propagate (the caller escalates).
 */
export async function askSplit(
  llm: LlmPort,
  prompt: Prompt,
  brief: SplitBrief,
  options: { runId: string; recoveryTasksSoFar: number; model?: string; signal?: AbortSignal },
): Promise<SplitOutcome> {
  const messages = splitMessages(prompt, brief);
  let problems: string[] = [];
  for (let fix = 0; fix <= MAX_SPLIT_FIXES; fix++) {
    const { value } = await llm.complete({
      schema: TaskSplit,
      schemaName: "task_split",
      messages,
      agent: "orchestrator",
      phase: fix === 0 ? "split" : "split-fix",
      runId: options.runId,
      model: options.model,
      signal: options.signal,
    });
    const amended = amendPlan(brief.plan, splitAmendment(brief.plan, brief.task.key, value), {
      recoveryTasksSoFar: options.recoveryTasksSoFar,
    });
    if (amended.ok) return { ok: true, split: value, amended };
    problems = amended.problems;
    messages.push(
      { role: "assistant", content: JSON.stringify(value) },
      {
        role: "user",
        content: `That split cannot run. Fix exactly these problems (task ids are shown as they ` +
          `would be stored: your S1 is ${nextTaskKey(brief.plan)}) and answer with the whole ` +
          `corrected split:\n${problems.map((p) => `- ${p}`).join("\n")}`,
      },
    );
  }
  return { ok: false, problems };
}

/** What {@link splitFailingTask} needs. */
export interface SplitDeps {
  sql: Sql;
  llm: LlmPort;
  /** The split prompt; by default the bundled `prompts/orchestrator-split.md`. */
  splitPrompt?: Prompt;
}

interface SplitRow {
  id: string;
  run_id: string;
  key: string;
  agent: string;
  title: string;
  input: { text?: string };
  validation: { findings?: { rule?: string; level?: string; message?: string }[] } | null;
  waiting: boolean;
  request: string;
  plan: unknown;
  run_status: string;
  options: { agent_models?: Record<string, string> } | null;
  token_budget: number;
  used: number;
  class: string | null;
}

async function loadSplitRow(sql: Sql, taskId: string): Promise<SplitRow | undefined> {
  const [row] = await sql<SplitRow[]>`
    select t.id, t.run_id, t.key, t.agent, t.title, t.input, t.validation,
           backend_team.awaiting_split(t) as waiting, r.request, r.plan, r.status as run_status,
           r.options, r.token_budget::float8 as token_budget,
           (r.prompt_tokens + r.completion_tokens)::float8 as used,
           (select d.class from backend_team.recovery_decisions d where d.task_id = t.id
             order by d.created_at desc, d.id limit 1) as class
      from backend_team.tasks t join backend_team.run_view r on r.id = t.run_id
     where t.id = ${taskId}::uuid`;
  return row;
}

function errorFindings(row: SplitRow) {
  return (row.validation?.findings ?? []).filter((f) => f.level === "error");
}

/**
 * Escalates the waiting task instead of splitting it, archiving `msgId` in the same transaction.
 * The task's failure is what the user answers (guidance first), whatever stopped the split.
 */
function escalateSplit(sql: Sql, row: SplitRow, msgId: number, reason: string) {
  return finishMessage(sql, msgId, async (tx) => {
    const decision = {
      class: (FAILURE_CLASSES as readonly string[]).includes(row.class ?? "")
        ? row.class as FailureClass
        : "schema",
      strategy: "escalate",
      toAgent: null,
      mode: null,
      cost: 0,
      escalation: "validation",
      reason,
    };
    const clarification = escalationClarification({
      reason: "validation",
      taskKey: row.key,
      agent: row.agent,
      message: `Task ${row.key} (${row.agent}): ${reason}.`,
      budget: { limit: row.token_budget, used: row.used },
      findings: errorFindings(row),
    });
    await tx`select backend_team.escalate_split(${row.id}::uuid, ${
      tx.json(decision as never)
    }::jsonb, ${tx.json(clarification as never)}::jsonb)`;
    return [] as WorkerName[];
  });
}

function isWaiting(row: SplitRow | undefined): row is SplitRow {
  return !!row && row.waiting && !["completed", "failed", "cancelled"].includes(row.run_status);
}

/**
 * A split message that keeps coming back without finishing (a worker that dies on it every time):
 * the task escalates instead of being split, so the run asks rather than retrying forever.
 */
export async function abandonSplit(
  sql: Sql,
  taskId: string,
  msgId: number,
  reason: string,
): Promise<void> {
  const row = await loadSplitRow(sql, taskId);
  if (!isWaiting(row)) {
    await finishMessage(sql, msgId, async () => {});
    return;
  }
  await escalateSplit(sql, row, msgId, reason);
}

/**
 * Splits the task `taskId` (waiting for it) and stores the result, archiving the orchestrator
 * message `msgId` in the same transaction; returns the agents to wake. A task no longer waiting
 * (a duplicate message) only archives the message.
 */
export async function splitFailingTask(
  deps: SplitDeps,
  taskId: string,
  msgId: number,
  signal?: AbortSignal,
): Promise<WorkerName[]> {
  const { sql } = deps;
  const row = await loadSplitRow(sql, taskId);
  if (!isWaiting(row)) {
    await finishMessage(sql, msgId, async () => {});
    return [];
  }
  const cls: FailureClass = (FAILURE_CLASSES as readonly string[]).includes(row.class ?? "")
    ? row.class as FailureClass
    : "schema";
  const findings = errorFindings(row);
  const statuses = Object.fromEntries(
    (await sql<{ key: string; status: string }[]>`
      select key, status from backend_team.tasks where run_id = ${row.run_id}::uuid`)
      .map((t) => [t.key, t.status]),
  );
  const [{ count: recoveryTasks }] = await sql<{ count: number }[]>`
    select count(*)::int as count from backend_team.tasks
     where run_id = ${row.run_id}::uuid and (input ? 'recovery_of' or input ? 'split_of')`;
  const escalate = (reason: string) => escalateSplit(sql, row, msgId, reason);

  const plan = Plan.safeParse(row.plan);
  if (!plan.success) {
    return await escalate("the run's plan cannot be read, so the task cannot be split");
  }
  const prompt = deps.splitPrompt ?? await loadPrompt("orchestrator-split");
  let outcome: SplitOutcome;
  try {
    outcome = await askSplit(deps.llm, prompt, {
      request: row.request,
      plan: plan.data,
      statuses,
      task: { key: row.key, agent: row.agent, title: row.title, input: row.input.text ?? "" },
      findings,
    }, {
      runId: row.run_id,
      recoveryTasksSoFar: recoveryTasks,
      model: row.options?.agent_models?.orchestrator,
      signal,
    });
  } catch (e) {
    if (signal?.aborted) throw e; // the lease is gone: the message comes back
    if (isAppError(e, "budget_exceeded")) {
      await finishMessage(sql, msgId, async () => {});
      return []; // the usage recorder has failed the run
    }
    // Whatever failed (the planner's model, its endpoint), the task is what the user decides on.
    const error = publicError(e);
    console.error(`[orchestrator] run ${row.run_id}: splitting ${row.key} failed:`, e);
    return await escalate(
      `it still failed after its retries, and the planner could not split it ` +
        `(${error.code}: ${error.message})`,
    );
  }
  if (!outcome.ok) {
    return await escalate(
      `it still failed after its retries, and the planner's split was refused after ` +
        `${MAX_SPLIT_FIXES} corrections: ${outcome.problems.join("; ")}`,
    );
  }
  const { split, amended } = outcome;
  const keys = amended.added.map((t) => `${t.id} (${t.agent})`).join(", ");
  const decision = {
    class: cls,
    strategy: "decompose",
    toAgent: null,
    mode: null,
    cost: 0,
    escalation: null,
    reason: `the planner split ${row.key} into ${keys}: ${split.reason}`.slice(0, 4000),
  };
  const amendment = {
    plan: amended.plan,
    added: amended.added,
    rewired: amended.rewired,
  };
  const agents = await finishMessage(
    sql,
    msgId,
    (tx) =>
      tx<{ agent: WorkerName }[]>`
      select agent from backend_team.apply_split(${taskId}::uuid, ${
        tx.json(amendment as never)
      }::jsonb, ${tx.json(decision as never)}::jsonb) as agent`,
  );
  return agents.map((a) => a.agent);
}
