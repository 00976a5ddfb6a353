/**
 * Recovery (the seed's Phase 6): every failure is classified (schema, query, security,
 * function/build, deployment, integration, model, budget, infrastructure), and a strategy is
 * chosen for it — retry with the failure as context, reroute to the specialist as a new task in
 * the plan, decompose further, or escalate to the user with typed questions — within the limits
 * and the run's remaining token budget. The plan amendment a reroute or a split makes passes the
 * same DAG validation as the planner's plan. Pure: the task worker decides with this module and the
 * SQL state machine (`backend_team.recover_attempt`, `resume_escalated_tasks`) applies decisions;
 * a split is made by the orchestrator worker with the planner (shared/orchestration/decompose.ts,
 * `backend_team.apply_split`), and a plan still invalid after its corrections asks the user
 * (`planClarification`).
 *
 * @example
 * ```ts
 * import { classifyFindings, decideRecovery } from "../recovery/mod.ts";
 * const classification = classifyFindings(findings, { agent: "db-architect", earlierObjects: [] });
 * const decision = decideRecovery({ classification, task, history, budget });
 * ```
 */
export {
  CLASS_OWNER,
  type Classification,
  classifyError,
  classifyFindings,
  classOfCode,
  classOfRule,
  CODE_CLASS,
  FAILURE_CLASSES,
  type FailureClass,
  type FindingLike,
  RULE_CLASS,
} from "./classify.ts";
export {
  decideRecovery,
  DEFAULT_LIMITS,
  dollars,
  type EscalationReason,
  moneyShortfall,
  type RecoveryDecision,
  type RecoveryInput,
  type RecoveryLimits,
  STRATEGIES,
  type Strategy,
  strategyAttempts,
  strategyCost,
  strategyCostUsd,
} from "./strategy.ts";
export {
  type AmendLimits,
  type Amendment,
  amendPlan,
  type AmendResult,
  DEFAULT_AMEND_LIMITS,
  type NewTask,
  nextTaskKey,
} from "./amend.ts";
export {
  type EscalationClarification,
  escalationClarification,
  type EscalationInput,
  PLAN_ACTIONS,
  type PlanClarification,
  planClarification,
  type PlanEscalationInput,
  RECOVERY_ACTIONS,
  type RecoveryAction,
  recoveryAnswerIssues,
} from "./questions.ts";
export { type FailingTask, rerouteTask, tablesCreatedBy } from "./reroute.ts";
export { RecoveryDecisionRecord } from "./record.ts";
export {
  type AttributedFile,
  type AttributedMigration,
  attributeIntegrationFailure,
  changesTable,
  type FailedIntegration,
  type IntegrationCause,
  testSubjects,
} from "./attribute.ts";
