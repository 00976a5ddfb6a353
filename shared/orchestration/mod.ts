/**
 * Orchestration: the run-level worker (understand, clarify, plan, resume, deliver) and the
 * planning phases over the LLM port.
 *
 * @example
 * ```ts
 * import { handleRunMessage } from "../orchestration/mod.ts";
 * ```
 */
export { DEFAULT_RUN_MAX_DELIVERIES, handleRunMessage, type RunWorkerDeps } from "./run_worker.ts";
export { MAX_PLAN_FIXES, plan, understand } from "./planning.ts";
export { planFixMessages, planMessages, type RunBrief, understandMessages } from "./messages.ts";
export { failRun, finishMessage, type SqlLike, transitionRun } from "./run_store.ts";
