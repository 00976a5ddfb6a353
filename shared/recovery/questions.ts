/**
 * What a run asks its user when recovery cannot go on alone (a task still invalid after its
 * retries, the model unavailable after its redeliveries, an integration failure after recovery,
 * the budget too small for the next strategy): typed questions in the shape of the planner's
 * clarifying questions, so the API, the CLI and the answer checks treat them alike. The `action`
 * answer says how to go on: retry now, raise the budget, use another model for this agent, skip
 * this task (and what depends on it) and deliver the rest, or cancel. The state machine applies
 * the answer (`backend_team.resume_escalated_tasks`); completed tasks are never redone. Pure.
 *
 * @example
 * ```ts
 * const clarification = escalationClarification({ reason: "model", taskKey: "T2",
 *   agent: "security", message: "the model is unavailable", budget: { limit: 1000, used: 990 } });
 * clarification.questions[0].id; // "action"
 * ```
 */
import type { ClarificationQuestion } from "../plan/mod.ts";
import { dollars, type EscalationReason } from "./strategy.ts";

/** The ways to go on. */
export const RECOVERY_ACTIONS = ["retry", "raise_budget", "other_model", "skip", "cancel"] as const;
/** A way to go on. */
export type RecoveryAction = typeof RECOVERY_ACTIONS[number];

/** What an escalation is about. */
export interface EscalationInput {
  reason: EscalationReason;
  taskKey: string;
  agent: string;
  /** What failed, in a sentence. */
  message: string;
  /** Tokens; with `limit_usd`/`used_usd` when the run has a money budget. */
  budget: { limit: number; used: number; limit_usd?: number | null; used_usd?: number | null };
  /** Findings to show (validation escalations). */
  findings?: unknown[];
  /**
   * Every task the question is about (an integration failure may blame several); a `skip` answer
   * skips them all, even those that are not escalated. Default: `[taskKey]`.
   */
  taskKeys?: string[];
}

/** The `runs.clarification` document of an escalation. */
export interface EscalationClarification {
  kind: "recovery";
  escalation: EscalationReason;
  reason: string;
  resume_to: "executing";
  task_key: string;
  task_keys: string[];
  agent: string;
  findings: unknown[];
  budget: EscalationInput["budget"];
  questions: ClarificationQuestion[];
  answers: null;
}

/** The clarification an escalation stores on the run. */
export function escalationClarification(input: EscalationInput): EscalationClarification {
  const questions: ClarificationQuestion[] = [];
  const task = `task ${input.taskKey} (${input.agent})`;
  // A validation escalation asks for guidance first (the answer goes into the task's context).
  if (input.reason === "validation" || input.reason === "integration") {
    questions.push({
      id: "guidance",
      text: `${task} could not produce output that passes validation. How should it proceed? ` +
        `(e.g. relax a requirement, or describe the fix)`,
      kind: "text",
      choices: null,
      required: false,
    });
  }
  questions.push(
    {
      id: "action",
      text: `How should the run go on? retry: try ${task} again now; raise_budget: raise the ` +
        `token budget (answer token_budget) or the money budget (answer cost_budget_usd) and ` +
        `retry; other_model: use another model for ` +
        `${input.agent} (answer model) and retry; skip: skip ${task} and what depends on it, ` +
        `deliver the rest; cancel: stop the run. Default: retry.`,
      kind: "choice",
      choices: [...RECOVERY_ACTIONS],
      required: input.reason !== "validation" && input.reason !== "integration",
    },
    {
      id: "token_budget",
      text: `New token budget for the whole run (now ${input.budget.limit}, ${input.budget.used} ` +
        `used), with action raise_budget.`,
      kind: "text",
      choices: null,
      required: false,
    },
    {
      id: "model",
      text: `Model to use for ${input.agent} from now on, with action other_model.`,
      kind: "text",
      choices: null,
      required: false,
    },
  );
  const { limit_usd: limitUsd, used_usd: usedUsd } = input.budget;
  if (limitUsd !== null && limitUsd !== undefined) {
    questions.push({
      id: "cost_budget_usd",
      text: `New money budget for the whole run in US dollars (now ${dollars(limitUsd)}, ` +
        `${usedUsd === null || usedUsd === undefined ? "an unknown amount" : dollars(usedUsd)} ` +
        `spent), with action raise_budget.`,
      kind: "text",
      choices: null,
      required: false,
    });
  }
  return {
    kind: "recovery",
    escalation: input.reason,
    reason: input.message,
    resume_to: "executing",
    task_key: input.taskKey,
    task_keys: input.taskKeys ?? [input.taskKey],
    agent: input.agent,
    findings: input.findings ?? [],
    budget: input.budget,
    questions,
    answers: null,
  };
}

/** The ways to go on when planning could not produce a valid plan. */
export const PLAN_ACTIONS = ["retry", "other_model", "cancel"] as const;

/** What a planning escalation is about. */
export interface PlanEscalationInput {
  /** `plan`: still invalid after its corrections; `model`: the planner's model failed. */
  reason: "plan" | "model";
  message: string;
  /** The plan's problems (or the error), shown as findings. */
  problems: string[];
  budget: { limit: number; used: number };
  /** The run's clarification before this one (the user's earlier answers stay with the run). */
  previous: unknown;
  /** Where an answer resumes: understanding the request, or planning it (the default). */
  phase?: "understanding" | "planning";
}

/** The `runs.clarification` document of a planning escalation. */
export interface PlanClarification {
  kind: "recovery";
  escalation: "plan" | "model";
  reason: string;
  resume_to: "understanding" | "planning";
  task_key: null;
  agent: "orchestrator";
  findings: { rule: string; level: "error"; message: string }[];
  budget: { limit: number; used: number };
  questions: ClarificationQuestion[];
  answers: null;
  previous: unknown;
}

/**
 * The clarification a run asks when planning failed after its re-asks (an invalid plan, or the
 * planner's model unavailable): guidance for the planner, then retry now, use another model for
 * the planner, or cancel. Answered, planning runs again (`resume_to: "planning"`).
 */
export function planClarification(input: PlanEscalationInput): PlanClarification {
  return {
    kind: "recovery",
    escalation: input.reason,
    reason: input.message,
    resume_to: input.phase ?? "planning",
    task_key: null,
    agent: "orchestrator",
    findings: input.problems.slice(0, 50).map((message) => ({
      rule: input.reason === "plan" ? "plan_invalid" : "llm_unavailable",
      level: "error" as const,
      message: message.slice(0, 1000),
    })),
    budget: input.budget,
    questions: [
      {
        id: "guidance",
        text: input.phase === "understanding"
          ? "The orchestrator's model failed while reading the request. Anything to add to the " +
            "request for it? (optional)"
          : "The planner could not produce a plan that can run. Any guidance for it? (e.g. " +
            "which specialists to use, what to leave out, how to split the work)",
        kind: "text",
        choices: null,
        required: false,
      },
      {
        id: "action",
        text: input.phase === "understanding"
          ? "How should the run go on? retry: read the request again now; other_model: use " +
            "another model for the orchestrator (answer model); cancel: stop the run."
          : "How should the run go on? retry: plan again now (with your guidance); " +
            "other_model: plan with another model (answer model); cancel: stop the run.",
        kind: "choice",
        choices: [...PLAN_ACTIONS],
        required: true,
      },
      {
        id: "model",
        text: "Model the planner uses from now on, with action other_model.",
        kind: "text",
        choices: null,
        required: false,
      },
    ],
    answers: null,
    previous: input.previous ?? null,
  };
}

/** One problem with recovery answers, in the error `details` shape. */
export interface RecoveryAnswerIssue {
  location: "body";
  path: (string | number)[];
  message: string;
}

/**
 * Checks recovery answers beyond their types: a raised token budget must be a whole number above
 * what the run has used (and at most 2,000,000, the API's limit), a raised money budget an amount
 * of US dollars above what the run has spent (at most 100,000); with `raise_budget`, one of them is
 * given. Another model must be named.
 */
export function recoveryAnswerIssues(
  clarification: { budget?: { used?: number; used_usd?: number | null } },
  answers: Record<string, unknown>,
): RecoveryAnswerIssue[] {
  const issues: RecoveryAnswerIssue[] = [];
  const issue = (id: string, message: string) =>
    issues.push({ location: "body", path: ["answers", id], message });
  const given = (v: unknown) => v !== undefined && v !== null && String(v).trim() !== "";
  if (answers.action === "raise_budget" && given(answers.cost_budget_usd)) {
    const raw = String(answers.cost_budget_usd).trim();
    const value = Number(raw);
    const spent = clarification.budget?.used_usd ?? 0;
    if (!/^[0-9]{1,6}(\.[0-9]{1,6})?$/.test(raw) || !(value > spent) || value > 100_000) {
      issue(
        "cost_budget_usd",
        `with raise_budget, give an amount of US dollars above the $${spent} already spent ` +
          `(at most 100000, up to 6 decimals)`,
      );
    }
  }
  if (
    answers.action === "raise_budget" &&
    (given(answers.token_budget) || !given(answers.cost_budget_usd))
  ) {
    const raw = answers.token_budget;
    const value = typeof raw === "number" ? raw : Number(String(raw ?? "").trim());
    const used = clarification.budget?.used ?? 0;
    if (!Number.isInteger(value) || value <= used || value > 2_000_000) {
      issue(
        "token_budget",
        `with raise_budget, give a whole number of tokens above the ${used} already used ` +
          `(at most 2000000)`,
      );
    }
  }
  if (answers.action === "other_model") {
    const model = answers.model;
    if (typeof model !== "string" || !/^[A-Za-z0-9._:\/-]{1,100}$/.test(model.trim())) {
      issue("model", "with other_model, name the model (letters, digits, . _ : / -)");
    }
  }
  return issues;
}
