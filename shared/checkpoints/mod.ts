/**
 * Plans are contracts (the seed's Phase 3.2 checkpoints and 3.3 contracts, issue 14 scope 5): a
 * checkpoint runs its validator suites (`schema`, `rls`, `indexes`, `safety`, `types`, `functions`,
 * `realtime`) on the run's accumulated output at its point in the DAG — after its task passed its
 * own validation, before the task is accepted and its dependents start — and a consuming task's
 * API endpoints are checked against the schema its contracts' producers built. A failure is
 * attributed to a task and goes through shared/recovery like any failed validation; every verdict
 * is stored with the attempt and announced as `checkpoint.passed`/`checkpoint.failed`,
 * `contract.passed`/`contract.failed` on the run's channel.
 *
 * @example
 * ```ts
 * import { checkTaskGates, suitesOf } from "../checkpoints/mod.ts";
 * ```
 */
export {
  type CheckpointVerdict,
  type ContractVerdict,
  gateFailureText,
  type GateFinding,
  type GateMigration,
  gatesOf,
  gateStage,
  type GateVerdict,
  hasGates,
  judgeGates,
  type JudgeInput,
  responsibleFor,
  type TaskGates,
  withGates,
} from "./gate.ts";
export { earlierCause, recoverAtCause } from "./recover.ts";
export { GATE_EVENTS, GateRecord, gateRecordOf } from "./record.ts";
export {
  accumulate,
  announceGateResults,
  checkTaskGates,
  endpointsOf,
  type GateDeps,
  handoffOf,
} from "./run.ts";
export {
  judgeSuites,
  namedSuites,
  SUITE_RULES,
  type SuiteFinding,
  type SuiteRules,
  suitesOf,
  type SuiteVerdict,
} from "./suites.ts";
