/**
 * A small run's events for the progress tests: two tasks, the first run, validated and finished,
 * numbered in order one second apart.
 */
import type { RunEventPayload } from "../../events/mod.ts";

/** The sample run's id. */
export const RUN = "6f1c2a4e-8b3d-4c5e-9f10-1a2b3c4d5e6f";
const T1 = "11111111-1111-4111-8111-111111111111";
const T2 = "22222222-2222-4222-8222-222222222222";

/** Events of a small run, numbered in order, one second apart. */
export function sampleEvents(): RunEventPayload[] {
  const base = { run_id: RUN };
  const raw = [
    { type: "run.status", status: "understanding", from: "received" },
    { type: "run.status", status: "executing", from: "planning" },
    {
      type: "task.status",
      task_id: T2,
      key: "T2",
      agent: "security",
      status: "pending",
      from: null,
      attempt: 0,
    },
    {
      type: "task.status",
      task_id: T1,
      key: "T1",
      agent: "db-architect",
      status: "queued",
      from: "pending",
      attempt: 0,
    },
    {
      type: "task.status",
      task_id: T1,
      key: "T1",
      agent: "db-architect",
      status: "running",
      from: "queued",
      attempt: 1,
    },
    {
      type: "task.attempt",
      task_id: T1,
      key: "T1",
      attempt: 1,
      status: "valid",
      prompt_tokens: 1200,
      completion_tokens: 300,
      duration_ms: 2100,
    },
    { type: "validation.report", task_id: T1, ok: true, errors: 0, warnings: 2 },
    {
      type: "artifact.created",
      artifact_id: T2,
      task_id: T1,
      kind: "migration",
      path: "migrations/create.sql",
    },
    {
      type: "task.status",
      task_id: T1,
      key: "T1",
      agent: "db-architect",
      status: "succeeded",
      from: "validating",
      attempt: 1,
    },
  ];
  return raw.map((e, i) =>
    ({
      ...base,
      ...e,
      seq: i + 1,
      at: new Date(Date.UTC(2026, 10, 25, 12, 0, i)).toISOString(),
    }) as RunEventPayload
  );
}

/**
 * The same run as the product logs it since migration 20261202001850: the attempt's usage, the
 * validator's counts and the artifacts ride on T1's succeeded event (7 events instead of 9).
 */
export function coalescedSampleEvents(): RunEventPayload[] {
  const legacy = sampleEvents();
  const succeeded = legacy[8];
  const raw = [
    ...legacy.slice(0, 5),
    {
      ...succeeded,
      usage: {
        attempt: 1,
        status: "valid",
        prompt_tokens: 1200,
        completion_tokens: 300,
        duration_ms: 2100,
      },
      validation: { ok: true, errors: 0, warnings: 2 },
      artifacts: [{ artifact_id: T2, kind: "migration", path: "migrations/create.sql" }],
    },
  ];
  return raw.map((e, i) =>
    ({
      ...e,
      seq: i + 1,
      at: new Date(Date.UTC(2026, 10, 25, 12, 0, i === 5 ? 8 : i)).toISOString(),
    }) as RunEventPayload
  );
}
