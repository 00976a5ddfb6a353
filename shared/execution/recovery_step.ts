/**
 * The task worker's side of recovery: after an attempt failed (its output did not validate, or its
 * LLM call failed), read what recovery has done for the task so far and the run's budget, let the
 * pure recovery module classify the failure and decide, and turn a reroute into an amended plan
 * (validated like the planner's) and an escalation into typed questions. The SQL state machine
 * applies the result (`recover_attempt`, `fail_attempt`).
 *
 * @example
 * ```ts
 * const step = await recoveryAfterValidation(sql, work, validation, usage);
 * await recoverAttempt(sql, taskId, attempt, result, step.decision, step.amendment, step.clarification);
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { Plan } from "../plan/mod.ts";
import {
  amendPlan,
  type Classification,
  classifyError,
  classifyFindings,
  decideRecovery,
  escalationClarification,
  type FailureClass,
  type FindingLike,
  type RecoveryDecision,
  rerouteTask,
  tablesCreatedBy,
} from "../recovery/mod.ts";
import { loadRecoveryHistory, type RecoveryHistory, type TaskWork } from "./task_store.ts";

/** What the state machine is given. */
export interface RecoveryStep {
  decision: RecoveryDecision;
  /** A reroute's amended plan, new task and re-wired tasks. */
  amendment: { plan: Plan; task: unknown; rewired: unknown[] } | null;
  /** An escalation's clarification document. */
  clarification: unknown | null;
}

/** Decides what happens after the attempt's output failed validation. */
export async function recoveryAfterValidation(
  sql: Sql,
  work: TaskWork,
  findings: readonly FindingLike[],
  usage: { prompt_tokens: number; completion_tokens: number },
  maxRetries = 2,
): Promise<RecoveryStep> {
  const history = await loadRecoveryHistory(sql, work.task.id);
  const earlierObjects = work.acceptedMigrations.flatMap((m) => tablesCreatedBy(m.up));
  const classification = classifyFindings(findings, { agent: work.task.agent, earlierObjects });
  let reroutes = history.reroutes as FailureClass[];
  let refused = "";
  for (let round = 0; round < 2; round++) {
    const decision = decide(work, classification, history, reroutes, usage, maxRetries);
    if (decision.strategy === "reroute" && decision.toAgent) {
      const plan = Plan.safeParse(work.run.plan);
      const amended = plan.success
        ? amendPlan(plan.data, {
          kind: decision.mode === "handoff" ? "handoff" : "diagnose",
          from: work.task.key,
          ...rerouteTask({ ...decision, toAgent: decision.toAgent }, {
            key: work.task.key,
            agent: work.task.agent,
            title: work.task.title,
            tables: work.task.input.tables,
          }, findings),
        }, { recoveryTasksSoFar: history.recoveryTasks })
        : { ok: false as const, problems: ["the run's plan cannot be read"] };
      if (amended.ok) {
        return {
          decision,
          amendment: { plan: amended.plan, task: amended.added[0], rewired: amended.rewired },
          clarification: null,
        };
      }
      // The plan cannot take the new task: decide again as if this class had been rerouted.
      refused = ` (a reroute to ${decision.toAgent} was refused: ${amended.problems.join("; ")})`;
      reroutes = [...reroutes, classification.class];
      continue;
    }
    const final = { ...decision, reason: decision.reason + refused };
    return {
      decision: final,
      amendment: null,
      clarification: clarify(work, final, history, findings),
    };
  }
  throw new Error("unreachable: the second round never reroutes");
}

/** Decides what happens after the attempt's LLM call (or the platform) failed. */
export async function recoveryAfterError(
  sql: Sql,
  work: TaskWork,
  code: string,
  deliveriesLeft: boolean,
  usage: { prompt_tokens: number; completion_tokens: number },
): Promise<RecoveryStep> {
  const history = await loadRecoveryHistory(sql, work.task.id);
  const classification = classifyError(code);
  const decision = decideRecovery({
    classification,
    task: { key: work.task.key, agent: work.task.agent },
    history: {
      invalidAttempts: history.invalidAttempts,
      reroutes: history.reroutes as FailureClass[],
      deliveriesLeft,
    },
    budget: {
      limit: history.budget,
      used: history.used,
      attemptTokens: usage.prompt_tokens + usage.completion_tokens,
    },
  });
  return {
    decision,
    amendment: null,
    clarification: decision.strategy === "escalate" ? clarify(work, decision, history, []) : null,
  };
}

function decide(
  work: TaskWork,
  classification: Classification,
  history: RecoveryHistory,
  reroutes: FailureClass[],
  usage: { prompt_tokens: number; completion_tokens: number },
  maxRetries: number,
): RecoveryDecision {
  return decideRecovery({
    classification,
    task: { key: work.task.key, agent: work.task.agent },
    // This attempt is not recorded yet: it counts as one more invalid attempt.
    history: { invalidAttempts: history.invalidAttempts + 1, reroutes },
    limits: { maxRetries },
    budget: {
      limit: history.budget,
      used: history.used,
      attemptTokens: usage.prompt_tokens + usage.completion_tokens,
    },
  });
}

function clarify(
  work: TaskWork,
  decision: RecoveryDecision,
  history: RecoveryHistory,
  findings: readonly FindingLike[],
) {
  return escalationClarification({
    reason: decision.escalation ?? "validation",
    taskKey: work.task.key,
    agent: work.task.agent,
    message: `Task ${work.task.key} (${work.task.agent}): ${decision.reason}.`,
    budget: { limit: history.budget, used: history.used },
    findings: [...findings],
  });
}
