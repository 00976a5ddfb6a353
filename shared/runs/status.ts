/**
 * The statuses a run and a task move through. The legal transitions live in SQL (the state machine
 * functions); TypeScript only names the statuses, so clients and workers agree on the spelling.
 *
 * @example
 * ```ts
 * RunStatus.parse("executing");
 * isTerminalRunStatus("completed"); // true
 * ```
 */
import { z } from "zod";

/** Every status a run can have. */
export const RunStatus = z.enum([
  "received",
  "understanding",
  "awaiting_clarification",
  "planning",
  "executing",
  "delivering",
  "completed",
  "failed",
  "cancelled",
]).meta({ id: "RunStatus", description: "Where a run is in its life cycle." });
export type RunStatus = z.infer<typeof RunStatus>;

/** Every status a task can have. */
export const TaskStatus = z.enum([
  "pending",
  "queued",
  "running",
  "validating",
  "succeeded",
  "retrying",
  "failed",
  "escalated",
  "cancelled",
]).meta({ id: "TaskStatus", description: "Where a task is in its life cycle." });
export type TaskStatus = z.infer<typeof TaskStatus>;

const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set(["completed", "failed", "cancelled"]);

/** Whether a run in `status` can no longer change. */
export function isTerminalRunStatus(status: RunStatus): boolean {
  return TERMINAL_RUN.has(status);
}
