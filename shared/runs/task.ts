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
import { Count, Id, JsonObject, Timestamp } from "./scalars.ts";
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
