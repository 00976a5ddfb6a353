/**
 * What a follower knows about a run, folded from its events: the run's status and error, per
 * task its agent, state, attempt, when it started and finished, the tokens its attempts used and
 * its last validation verdict, and each recovery decision (what failed, what was done about it).
 * The progress display and the decision of when to stop following both read this; it is rebuilt
 * from the event log alone, so `bt status --follow` started late shows the same as a follower that
 * watched from the start. Pure.
 *
 * @example
 * ```ts
 * let progress = emptyProgress(runId);
 * for (const event of events) progress = applyEvent(progress, event);
 * progress.tasks[0].status; // "running"
 * ```
 */
import type { RunEventPayload } from "../events/mod.ts";

/** A task as the follower sees it. */
export interface TaskProgress {
  id: string;
  key: string;
  agent: string;
  status: string;
  attempt: number;
  /** Epoch ms of the first `running`. */
  startedAt?: number;
  /** Epoch ms of reaching a state where it waits or is done. */
  finishedAt?: number;
  promptTokens: number;
  completionTokens: number;
  validation?: { ok: boolean; errors: number; warnings: number };
  error?: { code: string; message: string };
}

/** A recovery decision as the follower sees it (a `recovery.decision` event). */
export interface RecoveryProgress {
  seq: number;
  /** Failure class: schema, query, security, integration, model, budget… */
  class: string;
  /** retry, reroute, decompose, rollback or escalate. */
  strategy: string;
  /** Key of the failing task. */
  fromTask: string | null;
  /** Key of the task that carries the recovery; null when the user was asked. */
  toTask: string | null;
  /** The agent a reroute went to (null for a retry: the task's own agent). */
  toAgent: string | null;
  reason: string;
}

/** A run as the follower sees it. */
export interface RunProgress {
  runId: string;
  /** `unknown` until the first run event. */
  status: string;
  lastSeq: number;
  /** Epoch ms of the first event seen. */
  startedAt?: number;
  /** Epoch ms of the last event seen. */
  updatedAt?: number;
  /** In plan order (T1, T2, … T10). */
  tasks: TaskProgress[];
  artifacts: { kind: string; path: string }[];
  /** Recovery decisions in `seq` order. */
  recovery: RecoveryProgress[];
  error?: { code: string; message: string };
}

/** Run statuses at which following stops: the run ended, or it needs the user. */
export const STOP_STATUSES: ReadonlySet<string> = new Set([
  "completed",
  "failed",
  "cancelled",
  "awaiting_clarification",
]);

/** Task statuses that are not in progress (elapsed time stops). */
const TASK_RESTING = new Set(["succeeded", "failed", "escalated", "cancelled", "retrying"]);

/** A run nothing is known about yet. */
export function emptyProgress(runId: string, status = "unknown"): RunProgress {
  return { runId, status, lastSeq: 0, tasks: [], artifacts: [], recovery: [] };
}

/** Whether following should stop at this point. */
export function shouldStop(progress: RunProgress): boolean {
  return STOP_STATUSES.has(progress.status);
}

/** The progress after `event` (events are applied in `seq` order). */
export function applyEvent(progress: RunProgress, event: RunEventPayload): RunProgress {
  const at = Date.parse(event.at);
  const time = Number.isNaN(at) ? undefined : at;
  const next: RunProgress = {
    ...progress,
    lastSeq: Math.max(progress.lastSeq, event.seq),
    startedAt: progress.startedAt ?? time,
    updatedAt: time ?? progress.updatedAt,
  };
  switch (event.type) {
    case "run.status":
      next.status = event.status;
      if (event.error) next.error = { code: event.error.code, message: event.error.message };
      return next;
    case "run.completed":
      next.status = "completed";
      return next;
    case "task.status":
      if (event.artifacts?.length) {
        next.artifacts = [
          ...progress.artifacts,
          ...event.artifacts.map((a) => ({ kind: a.kind, path: a.path })),
        ];
      }
      return withTask(next, event.task_id, { key: event.key, agent: event.agent }, (t) => ({
        ...t,
        status: event.status,
        attempt: Math.max(t.attempt, event.attempt),
        startedAt: t.startedAt ?? (event.status === "running" ? time : undefined),
        finishedAt: event.status === "running"
          ? undefined
          : TASK_RESTING.has(event.status)
          ? time
          : t.finishedAt,
        error: event.error ? { code: event.error.code, message: event.error.message } : t.error,
        // The event that ends an attempt carries its usage and verdict (task.attempt and
        // validation.report in older logs, handled below).
        promptTokens: t.promptTokens + (event.usage?.prompt_tokens ?? 0),
        completionTokens: t.completionTokens + (event.usage?.completion_tokens ?? 0),
        validation: event.validation
          ? {
            ok: event.validation.ok,
            errors: event.validation.errors,
            warnings: event.validation.warnings,
          }
          : t.validation,
      }));
    case "task.attempt":
      return withTask(next, event.task_id, { key: event.key }, (t) => ({
        ...t,
        attempt: Math.max(t.attempt, event.attempt),
        promptTokens: t.promptTokens + event.prompt_tokens,
        completionTokens: t.completionTokens + event.completion_tokens,
      }));
    case "validation.report":
      if (!event.task_id) return next;
      return withTask(next, event.task_id, {}, (t) => ({
        ...t,
        validation: { ok: event.ok, errors: event.errors, warnings: event.warnings },
      }));
    case "artifact.created":
      next.artifacts = [...progress.artifacts, { kind: event.kind, path: event.path }];
      return next;
    // Gate verdicts are shown as lines (progress_render.ts); the task rows follow task.status.
    case "checkpoint.passed":
    case "checkpoint.failed":
    case "contract.passed":
    case "contract.failed":
      return next;
    case "recovery.decision":
      next.recovery = [...progress.recovery, {
        seq: event.seq,
        class: event.class,
        strategy: event.strategy,
        fromTask: event.from_task,
        toTask: event.to_task,
        toAgent: event.to_agent ?? null,
        reason: event.reason,
      }];
      return next;
  }
}

/** The task with `id`, if known. */
export function taskById(progress: RunProgress, id: string | null): TaskProgress | undefined {
  return id ? progress.tasks.find((t) => t.id === id) : undefined;
}

/** The task with plan key `key` (e.g. `T2`), if known. */
export function taskByKey(progress: RunProgress, key: string | null): TaskProgress | undefined {
  return key ? progress.tasks.find((t) => t.key === key) : undefined;
}

/** Total tokens of the tasks' attempts. */
export function taskTokens(progress: RunProgress): number {
  return progress.tasks.reduce((sum, t) => sum + t.promptTokens + t.completionTokens, 0);
}

function withTask(
  progress: RunProgress,
  id: string,
  known: { key?: string; agent?: string },
  update: (task: TaskProgress) => TaskProgress,
): RunProgress {
  const existing = progress.tasks.find((t) => t.id === id);
  const base: TaskProgress = existing ?? {
    id,
    key: known.key ?? "?",
    agent: known.agent ?? "?",
    status: "pending",
    attempt: 0,
    promptTokens: 0,
    completionTokens: 0,
  };
  const updated = update({
    ...base,
    key: known.key ?? base.key,
    agent: known.agent ?? base.agent,
  });
  const tasks = existing
    ? progress.tasks.map((t) => (t.id === id ? updated : t))
    : [...progress.tasks, updated].sort(byPlanKey);
  return { ...progress, tasks };
}

function byPlanKey(a: TaskProgress, b: TaskProgress): number {
  const n = (key: string) => Number(key.replace(/^\D+/, "")) || 0;
  return n(a.key) - n(b.key) || a.key.localeCompare(b.key);
}
