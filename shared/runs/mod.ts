/**
 * The runs domain: the zod schemas of runs, tasks, events and artifacts (one per concept, used for
 * HTTP validation, OpenAPI and database rows alike), paging, and the repository every user-facing
 * query goes through (as the caller, under row level security).
 *
 * @example
 * ```ts
 * import { CreateRunRequest, submitRun } from "../runs/mod.ts";
 * const run = await submitRun(sql, claims, CreateRunRequest.parse(body));
 * ```
 */
export { isTerminalRunStatus, RunStatus, TaskStatus } from "./status.ts";
export { Count, Dollars, formatUsd, Id, JsonObject, Timestamp, UserText } from "./scalars.ts";
export {
  AnswerRequest,
  Answers,
  AnswerValue,
  Clarification,
  Complexity,
  CreateRunRequest,
  Failure,
  MAX_REQUEST_CHARS,
  Run,
  RunContext,
  RunOptions,
  RunSummary,
  Strategy,
} from "./run.ts";
export { Task, TaskAttempt, TaskWithAttempts } from "./task.ts";
export {
  loadRunRecord,
  RUN_RECORD_COLUMNS,
  RunRecord,
  RunRecordClarification,
  RunRecordContext,
  RunRecordOptions,
} from "./record.ts";
export { RunEvent } from "./event.ts";
export {
  Artifact,
  ArtifactKind,
  ConfigCheckEvidence,
  Deliverable,
  DELIVERABLE_FOLDER,
  DeliverableFile,
  DeliveredEnvVar,
  DeliveredFunction,
  DeliveredIndex,
  DeliveredMigration,
  DeliveredPolicy,
  DeliveryResult,
  DeliverySections,
  DeliverySummary,
  FileEvidence,
  IndexMeasurement,
  IndexPlanRun,
  IntegrationReport,
  RecoveryNote,
  RollbackStep,
  SetupStep,
  TaskEvidence,
} from "./artifact.ts";
export {
  decodeCursor,
  encodeCursor,
  ListEventsQuery,
  ListRunsQuery,
  QueryInt,
  type RunCursor,
  RunIdParams,
} from "./pagination.ts";
export { type AnswerIssue, answerIssues } from "./answers.ts";
export { parseRow, rowToJson } from "./rows.ts";
export type {
  NullabilityMismatch,
  RowSchemaMismatch,
  RowSchemasFit,
  TableRow,
  ViewRow,
  ViewSchemaMismatch,
} from "./row_types.ts";
export { fromDatabaseError } from "./db_errors.ts";
export { EventPage, RunDetail, RunEnvelope, RunPage } from "./views.ts";
export {
  answerClarification,
  cancelRun,
  getDeliverable,
  getRun,
  listEvents,
  listRuns,
  submitRun,
} from "./repository.ts";
