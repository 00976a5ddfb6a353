/**
 * Execution: what an agent worker does with a task message, and the SQL it does it through.
 *
 * @example
 * ```ts
 * import { handleTaskMessage } from "../execution/mod.ts";
 * ```
 */
export {
  type AgentKit,
  type ArtifactDraft,
  type ArtifactValidator,
  type ContextPackage,
  handleTaskMessage,
  type TaskWorkerDeps,
  type ValidationSummary,
} from "./task_worker.ts";
export type { AcceptedMigration, TaskWork } from "./task_store.ts";
