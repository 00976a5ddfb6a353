/**
 * Phases 1–3 over the LLM port: understand the request, then plan it. A plan that parses but
 * cannot run (unknown agent, cycle, dangling dependency, wrong strategy) is re-asked with the exact
 * problems, a bounded number of times; after that planning fails with `plan_invalid` and those
 * problems, and the orchestrator worker asks the run's user how to go on (retry with guidance,
 * another model, cancel: shared/recovery `planClarification`) instead of failing the run.
 *
 * @example
 * ```ts
 * const understanding = await understand(llm, prompt, run, runId);
 * const plan = await plan(llm, prompt, run, understanding, runId);
 * ```
 */
import { AppError } from "../errors/mod.ts";
import type { LlmPort } from "../llm/mod.ts";
import { Plan, Understanding } from "../plan/schema.ts";
import { validatePlan } from "../plan/validate.ts";
import type { Prompt } from "../prompts/mod.ts";
import { planFixMessages, planMessages, type RunBrief, understandMessages } from "./messages.ts";

/** How many times an invalid plan is sent back before planning fails. */
export const MAX_PLAN_FIXES = 2;

/** Phase 1. `signal` cancels the LLM call (the worker's lease). */
export async function understand(
  llm: LlmPort,
  prompt: Prompt,
  run: RunBrief,
  runId: string,
  signal?: AbortSignal,
  options: PlanOptions = {},
): Promise<Understanding> {
  const messages = understandMessages(prompt, run);
  if (options.guidance && options.guidance.trim().length > 0) {
    messages.push({
      role: "user",
      content: `The user adds, after an earlier attempt failed:
${options.guidance.trim().slice(0, 4000)}`,
    });
  }
  const { value } = await llm.complete({
    schema: Understanding,
    schemaName: "understanding",
    messages,
    agent: "orchestrator",
    phase: "understand",
    runId,
    model: options.model,
    signal,
  });
  return value;
}

/** How a re-planning after an escalation differs: the user's model and guidance. */
export interface PlanOptions {
  /** The model the planner uses (the user chose another one). */
  model?: string;
  /** The user's guidance after the last plans were invalid. */
  guidance?: string;
}

/** Phases 2–3: a plan that {@link validatePlan} accepts, or `plan_invalid` with the problems. */
export async function plan(
  llm: LlmPort,
  prompt: Prompt,
  run: RunBrief,
  understanding: Understanding,
  runId: string,
  signal?: AbortSignal,
  options: PlanOptions = {},
): Promise<Plan> {
  const messages = planMessages(prompt, run, understanding);
  if (options.guidance && options.guidance.trim().length > 0) {
    messages.push({
      role: "user",
      content: `Earlier plans for this request could not run. The user's guidance for this ` +
        `plan:
${options.guidance.trim().slice(0, 4000)}`,
    });
  }
  let problems: string[] = [];
  for (let fix = 0; fix <= MAX_PLAN_FIXES; fix++) {
    const { value } = await llm.complete({
      schema: Plan,
      schemaName: "plan",
      messages,
      agent: "orchestrator",
      phase: fix === 0 ? "plan" : "plan-fix",
      runId,
      model: options.model,
      signal,
    });
    problems = validatePlan(value);
    if (problems.length === 0) return value;
    messages.push(...planFixMessages(JSON.stringify(value), problems));
  }
  throw new AppError(
    "plan_invalid",
    `the planner could not produce a valid plan after ${MAX_PLAN_FIXES} corrections: ${
      problems.join("; ")
    }`,
    { problems },
  );
}
