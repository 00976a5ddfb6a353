/**
 * The client-facing event contract of a run's Realtime channel `run:<id>` (private). Every state
 * change is written to `backend_team.run_events` and broadcast in the same transaction with the
 * event name below and a payload carrying `run_id`, `seq` (1, 2, 3… per run, no gaps), `type` and
 * `at`. Clients that missed events (offline, reconnecting) fetch them with
 * `GET /runs/:id/events?after=<last seq>`. One row (one seq, one broadcast) holds every change a
 * transaction made to the run: its first change, the later ones under `then` — read a row with
 * {@link expandEvent}. These schemas are shared by the code that emits events,
 * the CLI that displays them, and the tests.
 */
import { z } from "zod";

const Base = z.object({
  run_id: z.uuid(),
  seq: z.number().int().positive(),
  at: z.string(),
});

/** A run changed status. */
export const RunStatusEvent = Base.extend({
  type: z.literal("run.status"),
  status: z.string(),
  from: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullish(),
});

/** What an attempt used, as the task.status event that ends it carries it. */
export const AttemptUsage = z.object({
  attempt: z.number().int().positive(),
  /** How the attempt ended: succeeded, invalid, failed. */
  status: z.string(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  /** US dollars of the attempt's answers; null when the model has no price. */
  cost_usd: z.number().nonnegative().nullish(),
  duration_ms: z.number().int().nonnegative().nullish(),
});
export type AttemptUsage = z.infer<typeof AttemptUsage>;

/** The validator's verdict on an attempt's output, in counts. */
export const ValidationSummary = z.object({
  ok: z.boolean(),
  errors: z.number().int().nonnegative(),
  warnings: z.number().int().nonnegative(),
});

/** An artifact the task stored, as its succeeded event lists it. */
export const ArtifactRef = z.object({
  artifact_id: z.uuid(),
  kind: z.string(),
  path: z.string(),
});

/**
 * A task changed status. The event that ends an attempt (succeeded, retrying, failed, pending,
 * escalated) also carries what the attempt used (`usage`), the validator's counts (`validation`)
 * and, when the task succeeded, the artifacts it stored (`artifacts`): these were the separate
 * `task.attempt`, `validation.report` and `artifact.created` events before (migration
 * 20261202001850), which older logs still hold.
 */
export const TaskStatusEvent = Base.extend({
  type: z.literal("task.status"),
  task_id: z.uuid(),
  key: z.string(),
  agent: z.string(),
  status: z.string(),
  from: z.string().nullable(),
  attempt: z.number().int().nonnegative(),
  error: z.object({ code: z.string(), message: z.string() }).nullish(),
  usage: AttemptUsage.optional(),
  validation: ValidationSummary.optional(),
  artifacts: z.array(ArtifactRef).optional(),
});

/**
 * An attempt at a task finished (tokens, duration). Logged before migration 20261202001850; now
 * the task.status event that ends the attempt carries it as `usage`.
 */
export const TaskAttemptEvent = Base.extend({
  type: z.literal("task.attempt"),
  task_id: z.uuid(),
  key: z.string(),
  attempt: z.number().int().positive(),
  status: z.string(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  /** US dollars of the attempt's answers; null when the model has no price (absent before 0500). */
  cost_usd: z.number().nonnegative().nullish(),
  duration_ms: z.number().int().nonnegative().nullish(),
});

/**
 * The shadow database judged a task's output. Per task logged before migration 20261202001850
 * (now `validation` on the task.status event that ends the attempt).
 */
export const ValidationReportEvent = Base.extend({
  type: z.literal("validation.report"),
  task_id: z.uuid().nullable(),
  ok: z.boolean(),
  errors: z.number().int().nonnegative(),
  warnings: z.number().int().nonnegative(),
});

/**
 * An artifact was stored: the run's own (delivery, task_id null); a task's before migration
 * 20261202001850 (now `artifacts` on its task.status succeeded event).
 */
export const ArtifactCreatedEvent = Base.extend({
  type: z.literal("artifact.created"),
  artifact_id: z.uuid(),
  task_id: z.uuid().nullable(),
  kind: z.string(),
  path: z.string(),
});

/** The run finished and its deliverable is ready. */
export const RunCompletedEvent = Base.extend({
  type: z.literal("run.completed"),
  status: z.literal("completed"),
});

/**
 * Recovery decided what to do about a failure (stored in `backend_team.recovery_decisions`): its
 * class, the strategy, from which task to which (`to_task` null for an escalation), and why.
 */
export const RecoveryDecisionEvent = Base.extend({
  type: z.literal("recovery.decision"),
  decision_id: z.uuid().nullish(),
  class: z.string(),
  strategy: z.string(),
  from_task: z.string().nullable(),
  to_task: z.string().nullable(),
  to_agent: z.string().nullish(),
  reason: z.string(),
});

/** A failing finding of a checkpoint or contract, as its event shows it. */
const GateFindingView = z.object({
  rule: z.string(),
  task: z.string(),
  file: z.string().nullable(),
  object: z.string().nullable(),
  message: z.string(),
});

/** What every gate verdict carries: the task and attempt it judged. */
const GateBase = Base.extend({
  task_id: z.uuid(),
  task: z.string(),
  attempt: z.number().int().positive(),
});

/**
 * A plan checkpoint ran its validator suites on the run's accumulated output after its task
 * (shared/checkpoints): passed (with how many report-only findings) or failed (the tasks the
 * failures are attributed to, the first failures, how many more).
 */
const CheckpointShape = {
  checkpoint: z.number().int().nonnegative(),
  after: z.string(),
  suites: z.array(z.string()),
  validate: z.array(z.string()),
  reports: z.number().int().nonnegative().optional(),
  validated: z.boolean().optional(),
  responsible: z.array(z.string()).optional(),
  failures: z.array(GateFindingView).optional(),
  more: z.number().int().nonnegative().optional(),
};
export const CheckpointPassedEvent = GateBase.extend({
  type: z.literal("checkpoint.passed"),
  ...CheckpointShape,
});
export const CheckpointFailedEvent = GateBase.extend({
  type: z.literal("checkpoint.failed"),
  ...CheckpointShape,
});

/** A consuming task's output was checked against a plan contract: passed, or its violations. */
const ContractShape = {
  contract: z.string(),
  producer: z.string(),
  consumer: z.string(),
  violations: z.array(GateFindingView).optional(),
  more: z.number().int().nonnegative().optional(),
};
export const ContractPassedEvent = GateBase.extend({
  type: z.literal("contract.passed"),
  ...ContractShape,
});
export const ContractFailedEvent = GateBase.extend({
  type: z.literal("contract.failed"),
  ...ContractShape,
});

/** Any run event. */
export const RunEventPayload = z.discriminatedUnion("type", [
  RunStatusEvent,
  TaskStatusEvent,
  TaskAttemptEvent,
  ValidationReportEvent,
  ArtifactCreatedEvent,
  RunCompletedEvent,
  CheckpointPassedEvent,
  CheckpointFailedEvent,
  ContractPassedEvent,
  ContractFailedEvent,
  RecoveryDecisionEvent,
]);
export type RunEventPayload = z.infer<typeof RunEventPayload>;

/** Event names on the channel, one per payload type. */
export const RUN_EVENT_NAMES = [
  "run.status",
  "task.status",
  "task.attempt",
  "validation.report",
  "artifact.created",
  "run.completed",
  "recovery.decision",
  "checkpoint.passed",
  "checkpoint.failed",
  "contract.passed",
  "contract.failed",
] as const;

/**
 * The changes one row of the log (or one broadcast) holds, in order. A transaction that changes
 * several things of a run at once — a plan accepted, a task accepted with its checkpoint and the
 * dependents it released, a run delivered — logs one row: its first change, with the later ones
 * under `then`, each a whole event with the row's seq (migration 20261202001900). A row without
 * `then` is one change. Pure; works on any JSON object, parsed or not.
 */
export function expandEvent<T extends Record<string, unknown>>(row: T): Record<string, unknown>[] {
  const { then, ...first } = row as Record<string, unknown>;
  if (!Array.isArray(then)) return [first];
  return [
    first,
    ...then.filter((e): e is Record<string, unknown> =>
      e !== null && typeof e === "object" && !Array.isArray(e)
    ),
  ];
}

/**
 * The changes of a row of `GET /runs/:id/events` (`{seq, type, payload, created_at}`) as event
 * payloads, in order: {@link expandEvent} of its payload, each with the row's `run_id` and `seq`.
 */
export function expandEventRow(
  row: {
    run_id: string;
    seq: number;
    type: string;
    payload: Record<string, unknown>;
    created_at?: string;
  },
): Record<string, unknown>[] {
  return expandEvent({
    at: row.created_at,
    type: row.type,
    ...row.payload,
    run_id: row.run_id,
    seq: row.seq,
  }).map((e) => ({ ...e, run_id: row.run_id, seq: row.seq }));
}

/** The Realtime topic of a run. */
export function runTopic(runId: string): string {
  return `run:${runId}`;
}
