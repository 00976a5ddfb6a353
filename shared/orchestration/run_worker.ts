/**
 * The orchestrator worker's handler for one `bt_orchestrator` message (`{ run_id }`): it looks at
 * where the run is and does the next run-level step — understand, ask, plan, resume escalated
 * tasks after answers, or deliver. Each step ends in a transaction that records it and archives
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
      const understanding = await understand(llm, prompt, run, run.id, signal);
      const patch = {
        understanding,
        complexity: understanding.complexity,
        prompt_version: prompt.version,
      };
      const needsAnswers = understanding.complexity === "ambiguous" &&
        understanding.questions.length > 0 && !hasAnswers(run);
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
      const valid = await plan(llm, prompt, run, understanding, run.id, signal);
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

function hasAnswers(run: RunRecord): boolean {
  const answers = run.clarification?.answers;
  return !!answers && Object.keys(answers).length > 0;
}
