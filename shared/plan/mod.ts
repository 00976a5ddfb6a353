/**
 * Plans: what the orchestrator understood of a request, the typed questions it asks, and the DAG
 * of agent tasks it plans, with the checks a plan must pass before anything runs.
 *
 * @example
 * ```ts
 * import { Plan, validatePlan } from "../plan/mod.ts";
 * ```
 */
export {
  AgentName,
  AGENTS,
  Checkpoint,
  CHECKPOINT_SUITES,
  CheckpointSuite,
  ClarificationQuestion,
  Complexity,
  Contract,
  Integration,
  Plan,
  PlanTask,
  ScopeCategory,
  Strategy,
  TaskKey,
  Understanding,
} from "./schema.ts";
export {
  findCycle,
  type GraphShape,
  graphShape,
  topologicalOrder,
  validatePlan,
} from "./validate.ts";
export { contractsOf, type TaskContract } from "./contracts.ts";
