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
import type { EscalationReason } from "./strategy.ts";

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
  budget: { limit: number; used: number };
  /** Findings to show (validation escalations). */
  findings?: unknown[];
}

/** The `runs.clarification` document of an escalation. */
export interface EscalationClarification {
  kind: "recovery";
  escalation: EscalationReason;
  reason: string;
  resume_to: "executing";
  task_key: string;
  agent: string;
  findings: unknown[];
  budget: { limit: number; used: number };
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
        `token budget (answer token_budget) and retry; other_model: use another model for ` +
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
  return {
    kind: "recovery",
    escalation: input.reason,
    reason: input.message,
    resume_to: "executing",
    task_key: input.taskKey,
    agent: input.agent,
    findings: input.findings ?? [],
    budget: input.budget,
    questions,
    answers: null,
  };
}

/** One problem with recovery answers, in the error `details` shape. */
export interface RecoveryAnswerIssue {
  location: "body";
  path: (string | number)[];
  message: string;
}

/**
 * Checks recovery answers beyond their types: a raised budget must be a whole number above what
 * the run has used (and at most 2,000,000, the API's limit), another model must be named.
 */
export function recoveryAnswerIssues(
  clarification: { budget?: { used?: number } },
  answers: Record<string, unknown>,
): RecoveryAnswerIssue[] {
  const issues: RecoveryAnswerIssue[] = [];
  const issue = (id: string, message: string) =>
    issues.push({ location: "body", path: ["answers", id], message });
  if (answers.action === "raise_budget") {
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
