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

/** An attempt's usage: its tokens and, when known, what its answers cost in US dollars. */
export interface AttemptUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** US dollars; null when the model has no price, absent when the caller does not know. */
  cost_usd?: number | null;
}

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
  usage: AttemptUsage,
  maxRetries = 2,
): Promise<RecoveryStep> {
  const history = await loadRecoveryHistory(sql, work.task.id);
  const money = await loadMoney(sql, work.task.run_id, usage);
  // Tasks recovery added: reroutes (counted by their decisions) and the tasks of splits.
  const [{ count: splitTasks }] = await sql<{ count: number }[]>`
    select count(*)::int as count from backend_team.tasks
     where run_id = ${work.task.run_id}::uuid and input ? 'split_of'`;
  const earlierObjects = work.acceptedMigrations.flatMap((m) => tablesCreatedBy(m.up));
  const classification = classifyFindings(findings, { agent: work.task.agent, earlierObjects });
  let reroutes = history.reroutes as FailureClass[];
  let refused = "";
  for (let round = 0; round < 2; round++) {
    const decision = decide(work, classification, history, reroutes, usage, money, maxRetries);
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
        }, { recoveryTasksSoFar: history.recoveryTasks + splitTasks })
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
      // A split is made by the orchestrator worker, which escalates itself if it cannot.
      clarification: final.strategy === "decompose"
        ? null
        : clarify(work, final, history, money, findings),
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
  usage: AttemptUsage,
): Promise<RecoveryStep> {
  const history = await loadRecoveryHistory(sql, work.task.id);
  const money = await loadMoney(sql, work.task.run_id, usage);
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
      ...money,
    },
  });
  return {
    decision,
    amendment: null,
    clarification: decision.strategy === "escalate"
      ? clarify(work, decision, history, money, [])
      : null,
  };
}

function decide(
  work: TaskWork,
  classification: Classification,
  history: RecoveryHistory,
  reroutes: FailureClass[],
  usage: AttemptUsage,
  money: MoneyBudget,
  maxRetries: number,
): RecoveryDecision {
  return decideRecovery({
    classification,
    task: { key: work.task.key, agent: work.task.agent },
    // This attempt is not recorded yet: it counts as one more invalid attempt. A task the planner
    // made by splitting another is not split again.
    history: {
      invalidAttempts: history.invalidAttempts + 1,
      reroutes,
      decomposed: typeof (work.task.input as { split_of?: unknown }).split_of === "string",
    },
    // The orchestrator worker splits a task with the planner (a `split` message).
    canDecompose: true,
    limits: { maxRetries },
    budget: {
      limit: history.budget,
      used: history.used,
      attemptTokens: usage.prompt_tokens + usage.completion_tokens,
      ...money,
    },
  });
}

/** The run's money budget, what it spent, and the failed attempt's cost (US dollars). */
export interface MoneyBudget {
  limitUsd: number | null;
  usedUsd: number | null;
  attemptCostUsd: number | null;
}

/**
 * Reads the run's money budget and spending (the attempt's answers are already counted: the usage
 * recorder adds each answer when it arrives). The attempt's cost is the caller's when it knows it,
 * else the run's average price per token times the attempt's tokens.
 */
export async function loadMoney(
  sql: Sql,
  runId: string,
  usage: AttemptUsage,
): Promise<MoneyBudget> {
  const [row] = await sql<{ limit_usd: number | null; used_usd: number | null; tokens: number }[]>`
    select cost_budget_usd::float8 as limit_usd, cost_usd::float8 as used_usd,
           (prompt_tokens + completion_tokens)::float8 as tokens
      from backend_team.run_view where id = ${runId}::uuid`;
  if (!row) return { limitUsd: null, usedUsd: null, attemptCostUsd: null };
  const tokens = usage.prompt_tokens + usage.completion_tokens;
  const attemptCostUsd = usage.cost_usd !== undefined
    ? usage.cost_usd
    : row.used_usd !== null && row.tokens > 0
    ? (row.used_usd / row.tokens) * tokens
    : null;
  return { limitUsd: row.limit_usd, usedUsd: row.used_usd, attemptCostUsd };
}

function clarify(
  work: TaskWork,
  decision: RecoveryDecision,
  history: RecoveryHistory,
  money: MoneyBudget,
  findings: readonly FindingLike[],
) {
  return escalationClarification({
    reason: decision.escalation ?? "validation",
    taskKey: work.task.key,
    agent: work.task.agent,
    message: `Task ${work.task.key} (${work.task.agent}): ${decision.reason}.`,
    budget: {
      limit: history.budget,
      used: history.used,
      limit_usd: money.limitUsd,
      used_usd: money.usedUsd,
    },
    findings: [...findings],
  });
}
