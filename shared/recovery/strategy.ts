/**
 * The strategy decision (the seed's Phase 6.2): given a classified failure, where the task stands
 * (its invalid attempts, the reroutes it already had, whether its message may still come back) and
 * what the run's token budget has left, choose one of — in this order of preference:
 *
 * 1. **reroute** to the agent whose specialty the class names, as a new task in the plan, when it is
 *    not the agent that failed: `handoff` (the specialist fixes it on top of the output: an RLS
 *    leak → security, a query that misses its index → query-optimizer) or `diagnose` (the debugger
 *    looks first and the task is retried with its diagnosis: an apply error across tasks, a build
 *    failure). Once per task and class.
 * 2. **retry** with the failure as context, same agent, at most {@link RecoveryLimits.maxRetries}
 *    times after validation failures; model and infrastructure failures are redelivered while
 *    deliveries remain.
 * 3. **decompose** further (the planner splits the task), when the caller can and the task was not
 *    split before.
 * 4. **escalate** to the user with typed questions.
 *
 * Budget-aware: a strategy starts only when the remaining budget pays for its estimated cost — in
 * tokens (the run's `token_budget`) and, when the run has one, in money (`cost_budget_usd`: the
 * failed attempt's price in US dollars, from shared/llm/prices.ts, times the strategy's attempts);
 * when either cannot, the decision is to escalate with reason `budget` instead. Pure.
 *
 * @example
 * ```ts
 * const d = decideRecovery({ classification, task: { key: "T1", agent: "db-architect" },
 *   history: { invalidAttempts: 1, reroutes: [] }, budget: { limit: 200000, used: 5000,
 *   attemptTokens: 3000 } });
 * d.strategy; // "reroute" for an RLS leak
 * ```
 */
import type { AgentName } from "../plan/mod.ts";
import { CLASS_OWNER, type Classification, type FailureClass } from "./classify.ts";

/** The strategies. */
export const STRATEGIES = ["retry", "reroute", "decompose", "rollback", "escalate"] as const;
/** A strategy. */
export type Strategy = typeof STRATEGIES[number];

/** Why a run waits on its user. */
export type EscalationReason = "validation" | "model" | "budget" | "integration" | "plan";

/** The limits of the strategies. */
export interface RecoveryLimits {
  /** Retries of the same agent after validation failures (the seed: 2). */
  maxRetries: number;
  /** Reroutes of one task (each class at most once). */
  maxReroutesPerTask: number;
  /** A strategy starts only if `remaining ≥ cost × safetyFactor`. */
  budgetSafetyFactor: number;
}

/** Default limits. */
export const DEFAULT_LIMITS: RecoveryLimits = {
  maxRetries: 2,
  maxReroutesPerTask: 2,
  budgetSafetyFactor: 1,
};

/** What the decision looks at. */
export interface RecoveryInput {
  classification: Classification;
  task: { key: string; agent: string };
  history: {
    /** Invalid attempts since the task was last escalated, this one included. */
    invalidAttempts: number;
    /** Classes this task was already rerouted for. */
    reroutes: readonly FailureClass[];
    /** Model/infrastructure failures: whether the message may still be redelivered. */
    deliveriesLeft?: boolean;
    /** Whether the task was already split by the planner. */
    decomposed?: boolean;
  };
  budget: {
    limit: number;
    used: number;
    /** Estimated tokens of one attempt (e.g. the failed attempt's). */
    attemptTokens: number;
    /** The run's money budget in US dollars (`cost_budget_usd`); null or absent: none. */
    limitUsd?: number | null;
    /** US dollars the run has spent; null when unknown (a model without a price answered). */
    usedUsd?: number | null;
    /** US dollars of one attempt (the failed attempt's); null when its model has no price. */
    attemptCostUsd?: number | null;
  };
  /** Whether the caller can run the planner to split a task. */
  canDecompose?: boolean;
  limits?: Partial<RecoveryLimits>;
}

/** The decision: what happens next, and why. */
export interface RecoveryDecision {
  class: FailureClass;
  strategy: Strategy;
  /** The failing task's key. */
  from: string;
  /** The agent a reroute goes to. */
  toAgent: AgentName | null;
  /** How a reroute works. */
  mode: "handoff" | "diagnose" | null;
  /** Estimated tokens of the chosen strategy (0 to escalate). */
  cost: number;
  /** Estimated US dollars of the chosen strategy; null when unknown (0 to escalate). */
  costUsd: number | null;
  /** Set when the strategy is escalate. */
  escalation: EscalationReason | null;
  reason: string;
}

/** How many attempts of the failing task each strategy costs, about. */
export function strategyAttempts(strategy: Strategy, mode: RecoveryDecision["mode"]): number {
  switch (strategy) {
    case "retry":
    case "rollback":
      return 1;
    case "reroute":
      // diagnose: the debugger, then the task again; handoff: the specialist only.
      return mode === "diagnose" ? 2 : 1;
    case "decompose":
      // the planner, then two smaller tasks.
      return 3;
    case "escalate":
      return 0;
  }
}

/** Estimated tokens of each strategy, in attempts of the failing task. */
export function strategyCost(
  strategy: Strategy,
  mode: RecoveryDecision["mode"],
  attemptTokens: number,
): number {
  return strategyAttempts(strategy, mode) * Math.max(attemptTokens, 1);
}

/**
 * Estimated US dollars of a strategy: its attempts times the failed attempt's price; null when that
 * price is unknown (its model has no price).
 */
export function strategyCostUsd(
  strategy: Strategy,
  mode: RecoveryDecision["mode"],
  attemptCostUsd: number | null | undefined,
): number | null {
  if (attemptCostUsd === null || attemptCostUsd === undefined) return null;
  return strategyAttempts(strategy, mode) * Math.max(attemptCostUsd, 0);
}

/**
 * Why the remaining money budget cannot pay `costUsd`, or null when it can (or when there is no
 * money budget, or the cost is unknown: the usage recorder fails a run whose cost becomes unknown
 * under a money budget, so nothing is guessed here).
 */
export function moneyShortfall(
  budget: RecoveryInput["budget"],
  costUsd: number | null,
  safetyFactor = 1,
): string | null {
  const limit = budget.limitUsd;
  if (limit === null || limit === undefined || costUsd === null) return null;
  if (budget.usedUsd === null || budget.usedUsd === undefined) return null;
  const remaining = limit - budget.usedUsd;
  if (remaining >= costUsd * safetyFactor) return null;
  return `about ${dollars(costUsd)} but only ${dollars(Math.max(remaining, 0))} of the ` +
    `${dollars(limit)} money budget remain`;
}

/** US dollars as shown in reasons: `$0.0035`. */
export function dollars(n: number): string {
  return n >= 1 ? `$${n.toFixed(2)}` : `$${Number(n.toPrecision(2)).toString()}`;
}

/** Decides what to do about a failure; see the module doc. */
export function decideRecovery(input: RecoveryInput): RecoveryDecision {
  const limits = { ...DEFAULT_LIMITS, ...input.limits };
  const { classification: c, task, history } = input;
  const remaining = input.budget.limit - input.budget.used;
  const base = { class: c.class, from: task.key };
  const escalate = (escalation: EscalationReason, reason: string): RecoveryDecision => ({
    ...base,
    strategy: "escalate",
    toAgent: null,
    mode: null,
    cost: 0,
    costUsd: 0,
    escalation,
    reason,
  });
  const candidates = candidatesFor(input, limits);
  for (const cand of candidates) {
    const cost = strategyCost(cand.strategy, cand.mode, input.budget.attemptTokens);
    const what = `${cand.strategy}${cand.toAgent ? ` to ${cand.toAgent}` : ""}`;
    if (remaining < cost * limits.budgetSafetyFactor) {
      return escalate(
        "budget",
        `${c.reason}; ${what} would need about ${cost} tokens but only ` +
          `${Math.max(remaining, 0)} of the budget remain`,
      );
    }
    const costUsd = strategyCostUsd(cand.strategy, cand.mode, input.budget.attemptCostUsd);
    const short = moneyShortfall(input.budget, costUsd, limits.budgetSafetyFactor);
    if (short) return escalate("budget", `${c.reason}; ${what} would cost ${short}`);
    return { ...base, ...cand, cost, costUsd, escalation: null };
  }
  if (c.class === "budget") return escalate("budget", c.reason);
  if (c.class === "model" || c.class === "infrastructure") {
    return escalate("model", `${c.reason}; task ${task.key} (${task.agent}) ran out of retries`);
  }
  return escalate(
    c.class === "integration" ? "integration" : "validation",
    `${c.reason}; task ${task.key} (${task.agent}) still fails after ${history.invalidAttempts} ` +
      `attempt(s)`,
  );
}

const HANDOFF_CLASSES: ReadonlySet<FailureClass> = new Set(["security", "query"]);

type Candidate = Pick<RecoveryDecision, "strategy" | "toAgent" | "mode" | "reason">;

function candidatesFor(input: RecoveryInput, limits: RecoveryLimits): Candidate[] {
  const { classification: c, task, history } = input;
  const out: Candidate[] = [];
  if (c.class === "budget") return out;
  if (c.class === "model" || c.class === "infrastructure") {
    if (history.deliveriesLeft !== false) {
      out.push({
        strategy: "retry",
        toAgent: null,
        mode: null,
        reason: `${c.reason}; the same agent is asked again after a pause`,
      });
    }
    return out;
  }
  const owner = CLASS_OWNER[c.class];
  const mayReroute = !history.reroutes.includes(c.class) &&
    history.reroutes.length < limits.maxReroutesPerTask;
  if (mayReroute && owner.diagnose && task.agent !== "debugger") {
    out.push({
      strategy: "reroute",
      toAgent: "debugger",
      mode: "diagnose",
      reason: `${c.reason}; the debugger diagnoses it first (${owner.seed}), then ` +
        `${owner.specialist ?? task.agent} fixes it`,
    });
  } else if (
    // Only an output that applies can be fixed on top of: security and query findings.
    mayReroute && HANDOFF_CLASSES.has(c.class) && owner.specialist &&
    owner.specialist !== task.agent
  ) {
    out.push({
      strategy: "reroute",
      toAgent: owner.specialist,
      mode: "handoff",
      reason: `${c.reason}; ${owner.specialist} fixes it (${owner.seed})`,
    });
  }
  if (history.invalidAttempts <= limits.maxRetries) {
    out.push({
      strategy: "retry",
      toAgent: null,
      mode: null,
      reason: `${c.reason}; ${task.agent} retries with the findings ` +
        `(retry ${history.invalidAttempts} of ${limits.maxRetries})`,
    });
  }
  if (input.canDecompose && !history.decomposed && owner.decompose) {
    out.push({
      strategy: "decompose",
      toAgent: null,
      mode: null,
      reason: `${c.reason}; after ${history.invalidAttempts} attempt(s) the planner splits ` +
        `task ${task.key} into smaller ones`,
    });
  }
  return out;
}
