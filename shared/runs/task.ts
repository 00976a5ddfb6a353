/**
 * A task: one atomic piece of a run's plan, executed by one agent. The API shows tasks with their
 * run; the columns only workers need (queue message id, dependency counter) are left out.
 *
 * @example
 * ```ts
 * const task = Task.parse(rowToJson(row));
 * ```
 */
import { z } from "zod";
import { TaskStatus } from "./status.ts";
import { Count, Dollars, Id, JsonObject, Timestamp } from "./scalars.ts";
import { Failure } from "./run.ts";

/** A task as the API shows it. */
export const Task = z.object({
  id: Id,
  run_id: Id,
  key: z.string().meta({ description: "The task's key in the plan, e.g. 'T1'." }),
  agent: z.string(),
  title: z.string(),
  input: JsonObject,
  expected_output: z.unknown(),
  depends_on: z.array(z.string()),
  status: TaskStatus,
  attempt: Count,
  output: z.unknown().nullable(),
  validation: z.unknown().nullable(),
  error: Failure.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  started_at: Timestamp.nullable(),
  finished_at: Timestamp.nullable(),
}).meta({ id: "Task" });
export type Task = z.infer<typeof Task>;

/** One try at a task as the API shows it: its tokens and what they cost. */
export const TaskAttempt = z.object({
  attempt: Count,
  status: z.string(),
  prompt_tokens: Count,
  completion_tokens: Count,
  cost_usd: Dollars.meta({
    description: "US dollars of the attempt's LLM answers; null when the model had no price.",
  }),
  started_at: Timestamp,
  finished_at: Timestamp.nullable(),
}).meta({ id: "TaskAttempt" });
export type TaskAttempt = z.infer<typeof TaskAttempt>;

/** A task with its attempts and their total cost (null when one attempt's cost is unknown). */
// An intersection, so OpenAPI documents it as `Task` and its cost (`allOf`), Task staying a component.
export const TaskWithAttempts = z.intersection(
  Task,
  z.object({ cost_usd: Dollars, attempts: z.array(TaskAttempt) }),
).meta({ id: "TaskWithAttempts" });
export type TaskWithAttempts = z.infer<typeof TaskWithAttempts>;

/** The task's cost: the sum of its attempts' (micro-dollars, no float noise), null if one is. */
export function taskCost(attempts: readonly { cost_usd: number | null }[]): number | null {
  let micro = 0;
  for (const a of attempts) {
    if (a.cost_usd === null) return null;
    micro += Math.round(a.cost_usd * 1_000_000);
  }
  return micro / 1_000_000;
}
