/**
 * The orchestrator worker's handler for one `bt_orchestrator` message (`{ run_id }`): it looks at
 * where the run is and does the next run-level step — understand, ask, plan, resume escalated
 * tasks after answers, or deliver — or, for a `{ run_id, split, task_id }` message, has the planner
 * split a task that failed after its retries (decompose.ts). A plan still invalid after its
 * corrections (or a planner model that stays unavailable) does not fail the run: it asks its user
 * (retry with guidance, another model, cancel), and the answer resumes planning. Each step ends in a transaction that records it and archives
 * the message; a crash in the middle leaves the message to come back after its lease, and the
 * step is redone from the run's status (planning twice never creates tasks twice: `persist_plan`
 * only acts on a run still in `planning`). LLM failures end the run with a clear error — its safe
 * code and message (`publicError`); the raw error, endpoint and all, goes to the log. A run that
 * moved on while the LLM was thinking (cancelled, say) is looked at again instead of failing the
 * step, a lost lease cancels the LLM call and leaves the message alone, and a message that keeps
 * coming back without finishing (a worker that dies on it every time) ends the run after
 * `maxDeliveries` instead of spending tokens forever.
 *
 * @example
 * ```ts
 * const worker = new QueueWorker({ queue, vtSeconds: 60, concurrency: 4,
 *   handle: (m, lease) => handleRunMessage(deps, m, lease) });
 * ```
 */
import type { Sql } from "../db/mod.ts";
import type { Waker } from "../dispatch/mod.ts";
import { isAppError, publicError } from "../errors/mod.ts";
import type { LlmPort } from "../llm/mod.ts";
import type { Prompt } from "../prompts/mod.ts";
import type { QueueMessage } from "../queue/mod.ts";
import type { Lease } from "../worker/mod.ts";
import { planClarification } from "../recovery/mod.ts";
import { abandonSplit, splitFailingTask } from "./decompose.ts";
import { plan, understand } from "./planning.ts";
import {
  failRun,
  finishMessage,
  persistPlan,
  resumeEscalatedTasks,
  transitionRun,
} from "./run_store.ts";
import { loadRunRecord, type RunRecord } from "../runs/mod.ts";

/** What the orchestrator worker needs. */
export interface RunWorkerDeps {
  sql: Sql;
  llm: LlmPort;
  /** `prompts/orchestrator.md`, loaded. */
  prompt: Prompt;
  wake: Waker;
  /** Phase 7: assembles and validates the deliverable, then completes the run. */
  /** May name agents to wake (the tasks an integration failure sent back to work). */
  deliver(run: RunRecord, msgId: number): Promise<void | string[]>;
  /** Deliveries of one message before its run is failed with `dead_lettered` (default 5). */
  maxDeliveries?: number;
}

/** Default of {@link RunWorkerDeps.maxDeliveries}, the same as the agents' `BT_MAX_DELIVERIES`. */
export const DEFAULT_RUN_MAX_DELIVERIES = 5;

/** Handles one orchestrator message; see the module doc. */
export async function handleRunMessage(
  deps: RunWorkerDeps,
  message: QueueMessage,
  lease: Lease,
): Promise<void> {
  const runId = String((message.message as { run_id?: unknown }).run_id ?? "");
  const { sql } = deps;
  const maxDeliveries = deps.maxDeliveries ?? DEFAULT_RUN_MAX_DELIVERIES;
  const { split, task_id: taskId } = message.message as { split?: unknown; task_id?: unknown };
  if (typeof split === "string" && typeof taskId === "string" && /^[0-9a-f-]{36}$/i.test(taskId)) {
    if (message.read_ct > maxDeliveries) {
      await abandonSplit(
        sql,
        taskId,
        message.msg_id,
        `it still failed after its retries, and splitting it was started ` +
          `${message.read_ct - 1} times without finishing`,
      );
      return;
    }
    try {
      const agents = await splitFailingTask(deps, taskId, message.msg_id, lease.signal);
      if (agents.length > 0) deps.wake(agents);
    } catch (e) {
      // Lease lost, or database trouble: the message comes back and the task still waits.
      if (lease.signal.aborted) return;
      throw e;
    }
    return;
  }
  // A run moves through several steps in one delivery (received → understanding → planning …).
  for (let step = 0; step < 8 && !lease.signal.aborted; step++) {
    const run = /^[0-9a-f-]{36}$/i.test(runId) ? await loadRunRecord(sql, runId) : undefined;
    if (!run) return void await finishMessage(sql, message.msg_id, async () => {});
    if (message.read_ct > maxDeliveries) {
      await finishMessage(sql, message.msg_id, (tx) =>
        failRun(
          tx,
          run.id,
          "dead_lettered",
          `the run's work was picked up ${message.read_ct - 1} times while ${run.status} ` +
            `without finishing; the worker stopped retrying it`,
        ));
      return;
    }
    try {
      const done = await advance(deps, run, message.msg_id, lease.signal);
      if (done) return;
    } catch (e) {
      // Lease lost or worker stopping (the LLM call was cancelled): the message comes back.
      if (lease.signal.aborted) return;
      // The run moved on meanwhile (cancelled, failed by the budget…): look at it again.
      if (isIllegalTransition(e)) continue;
      if (!isAppError(e)) throw e; // database trouble: the message comes back after its lease
      // The budget recorder has already failed the run; other LLM and plan errors end it here.
      const error = publicError(e);
      console.error(`[orchestrator] run ${run.id} failed while ${run.status}:`, e);
      await finishMessage(
        sql,
        message.msg_id,
        (tx) => failRun(tx, run.id, error.code, error.message),
      );
      return;
    }
  }
}

/** The state machine refused a transition (SQLSTATE BT409): the run is no longer where it was. */
function isIllegalTransition(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === "BT409";
}

/** One step; true when the message is finished. */
async function advance(
  deps: RunWorkerDeps,
  run: RunRecord,
  msgId: number,
  signal: AbortSignal,
): Promise<boolean> {
  const { sql, llm, prompt } = deps;
  switch (run.status) {
    case "received":
      await transitionRun(sql, run.id, "understanding");
      return false;
    case "understanding": {
      const answered = recoveryAnswers(run, "understanding");
      if (answered?.action === "cancel") {
        await finishMessage(sql, msgId, (tx) => transitionRun(tx, run.id, "cancelled"));
        return true;
      }
      const model = await orchestratorModel(sql, run, answered, "understanding");
      // The brief keeps the user's answers to the understanding's questions, not the recovery's.
      const brief = answered ? { ...run, clarification: answered.previous } : run;
      let understanding;
      try {
        understanding = await understand(llm, prompt, brief, run.id, signal, {
          model,
          guidance: answered?.guidance,
        });
      } catch (e) {
        const escalation = !signal.aborted && planEscalation(e);
        if (escalation !== "model") throw e;
        await askAfterOrchestratorFailure(sql, msgId, run, e, {
          phase: "understanding",
          previous: answered ? answered.previous : run.clarification,
        });
        return true;
      }
      const patch = {
        understanding,
        complexity: understanding.complexity,
        prompt_version: prompt.version,
      };
      const needsAnswers = understanding.complexity === "ambiguous" &&
        understanding.questions.length > 0 && !hasAnswers(brief);
      if (needsAnswers) {
        await finishMessage(
          sql,
          msgId,
          (tx) =>
            transitionRun(tx, run.id, "awaiting_clarification", {
              ...patch,
              clarification: {
                questions: understanding.questions,
                answers: null,
                reason: understanding.ambiguities.join(" ") ||
                  "The request needs answers before it can be planned.",
                resume_to: "understanding",
              },
            }),
        );
        return true;
      }
      await transitionRun(sql, run.id, "planning", patch);
      return false;
    }
    case "planning": {
      const understanding = run.understanding as Parameters<typeof plan>[3];
      const answered = recoveryAnswers(run, "planning");
      if (answered?.action === "cancel") {
        await finishMessage(sql, msgId, (tx) => transitionRun(tx, run.id, "cancelled"));
        return true;
      }
      const model = await orchestratorModel(sql, run, answered, "planning");
      // The brief keeps the user's answers to the understanding's questions, not the recovery's.
      const brief = answered ? { ...run, clarification: answered.previous } : run;
      let valid;
      try {
        valid = await plan(llm, prompt, brief, understanding, run.id, signal, {
          model,
          guidance: answered?.guidance,
        });
      } catch (e) {
        const escalation = !signal.aborted && planEscalation(e);
        if (!escalation) throw e;
        await askAfterOrchestratorFailure(sql, msgId, run, e, {
          phase: "planning",
          previous: answered ? answered.previous : run.clarification,
        });
        return true;
      }
      const agents = await finishMessage(
        sql,
        msgId,
        (tx) => persistPlan(tx, run.id, valid, { prompt_version: prompt.version }),
      );
      if (agents.length > 0) deps.wake(agents);
      return true;
    }
    case "executing": {
      // After answers to an escalation; a duplicate message finds nothing to resume.
      const agents = await finishMessage(sql, msgId, (tx) => resumeEscalatedTasks(tx, run.id));
      if (agents.length > 0) deps.wake(agents);
      return true;
    }
    case "delivering": {
      const agents = await deps.deliver(run, msgId);
      if (agents && agents.length > 0) deps.wake(agents as Parameters<Waker>[0]);
      return true;
    }
    default:
      // Waiting for answers, or finished: nothing to do for this message.
      await finishMessage(sql, msgId, async () => {});
      return true;
  }
}

/** Failures of planning that a person can save: the run asks instead of failing. */
function planEscalation(e: unknown): "plan" | "model" | null {
  if (isAppError(e, "plan_invalid")) return "plan";
  if (isAppError(e, "llm_unavailable") || isAppError(e, "upstream_unavailable")) return "model";
  if (isAppError(e, "llm_invalid_output")) return "model";
  return null;
}

/** A recovery question's answers, when the run resumes `phase` after one (else null). */
function recoveryAnswers(run: RunRecord, phase: "understanding" | "planning"): {
  action: string;
  model?: string;
  guidance?: string;
  previous: RunRecord["clarification"];
} | null {
  const c = run.clarification as
    | (RunRecord["clarification"] & { kind?: unknown; resume_to?: unknown; previous?: unknown })
    | null;
  if (!c || c.kind !== "recovery" || c.resume_to !== phase || !c.answers) return null;
  const a = c.answers;
  const text = (v: unknown) => typeof v === "string" && v.trim() ? v.trim() : undefined;
  // Checked by the API already (recoveryAnswerIssues); checked again before it names a model.
  const model = text(a.model);
  return {
    action: text(a.action) ?? "retry",
    model: model && /^[A-Za-z0-9._:\/-]{1,100}$/.test(model) ? model : undefined,
    guidance: text(a.guidance),
    previous: (c.previous ?? null) as RunRecord["clarification"],
  };
}

/** The orchestrator's model: the run's own choice, or the one the user just answered with. */
async function orchestratorModel(
  sql: RunWorkerDeps["sql"],
  run: RunRecord,
  answered: ReturnType<typeof recoveryAnswers>,
  status: "understanding" | "planning",
): Promise<string | undefined> {
  const options = (run.options ?? {}) as { agent_models?: Record<string, string> };
  if (answered?.action !== "other_model" || !answered.model) {
    return options.agent_models?.orchestrator;
  }
  await sql`
    update backend_team.runs
       set options = options || jsonb_build_object('agent_models',
             coalesce(options -> 'agent_models', '{}'::jsonb)
               || jsonb_build_object('orchestrator', ${answered.model}::text)),
           updated_at = now()
     where id = ${run.id}::uuid and status = ${status}`;
  return answered.model;
}

/**
 * Understanding or planning failed in a way a person can save (the model stayed unavailable, the
 * plan stayed invalid): the run asks — retry, another model, cancel — instead of failing.
 */
async function askAfterOrchestratorFailure(
  sql: RunWorkerDeps["sql"],
  msgId: number,
  run: RunRecord,
  e: unknown,
  at: { phase: "understanding" | "planning"; previous: unknown },
): Promise<void> {
  const escalation = planEscalation(e) ?? "model";
  const error = publicError(e);
  // The user reads the safe message; the endpoint's address and words are for the log.
  console.error(`[orchestrator] run ${run.id} asks the user after ${at.phase} failed:`, e);
  const [budget] = await sql<{ limit: number; used: number }[]>`
    select token_budget::float8 as limit, (prompt_tokens + completion_tokens)::float8 as used
      from backend_team.run_view where id = ${run.id}::uuid`;
  const problems = isAppError(e)
    ? (e.details as { problems?: unknown } | undefined)?.problems
    : undefined;
  const clarification = planClarification({
    reason: escalation,
    phase: at.phase,
    message: escalation === "plan"
      ? `The planner could not produce a plan that can run: ${error.message}`
      : at.phase === "understanding"
      ? `The orchestrator's model is unavailable: ${error.message}`
      : `The planner's model is unavailable: ${error.message}`,
    problems: Array.isArray(problems) ? problems.map(String) : [error.message],
    budget: budget ?? { limit: 0, used: 0 },
    previous: at.previous,
  });
  await finishMessage(
    sql,
    msgId,
    (tx) => transitionRun(tx, run.id, "awaiting_clarification", { clarification }),
  );
}

function hasAnswers(run: RunRecord): boolean {
  const answers = run.clarification?.answers;
  return !!answers && Object.keys(answers).length > 0;
}
