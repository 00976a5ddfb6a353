/**
 * How progress looks. On a terminal the CLI redraws one frame in place — a line for the run, a
 * row per task (agent, state, attempt, elapsed, tokens) and a row per recovery decision (class,
 * strategy, from → to, reason) — so the user watches the plan execute and recover;
 * anywhere else (a pipe, a log, CI) it prints one plain line per event, which reads well in a log
 * and is easy to grep. Both are pure functions of the progress model and a clock.
 *
 * @example
 * ```ts
 * console.log(describeEvent(event, progress)); // "#8 T1 db-architect running (attempt 1)"
 * const frame = renderFrame(progress, Date.now(), { color: true });
 * ```
 */
import type { RunEventPayload } from "../events/mod.ts";
import { formatUsd } from "../runs/mod.ts";
import {
  type RecoveryProgress,
  type RunProgress,
  taskById,
  taskByKey,
  type TaskProgress,
  taskTokens,
} from "./progress.ts";

/** Options of {@link renderFrame}. */
export interface FrameOptions {
  /** ANSI colours for states (default false). */
  color?: boolean;
}

/** One line describing an event, for plain (non-terminal) output; `progress` is after it. */
export function describeEvent(event: RunEventPayload, progress: RunProgress): string {
  const prefix = `#${event.seq}`;
  switch (event.type) {
    case "run.status": {
      const error = event.error ? `: ${event.error.code}: ${event.error.message}` : "";
      return `${prefix} run ${event.status}${error}`;
    }
    case "run.completed":
      return `${prefix} run completed: deliverable ready`;
    case "task.status": {
      const attempt = event.status === "running" ? ` (attempt ${event.attempt})` : "";
      const error = event.error ? `: ${event.error.code}: ${event.error.message}` : "";
      const line = `${prefix} ${event.key} ${event.agent} ${event.status}${attempt}${error}`;
      // The event that ends an attempt carries its usage, verdict and files.
      const usage = event.usage;
      const parts = [
        usage
          ? `attempt ${usage.attempt} ${usage.status}: ` +
            `${formatCount(usage.prompt_tokens + usage.completion_tokens)} tokens` +
            (usage.cost_usd === undefined ? "" : `, ${formatDollars(usage.cost_usd)}`) +
            (usage.duration_ms == null ? "" : `, ${formatDuration(usage.duration_ms)}`)
          : "",
        event.validation
          ? `validation ${event.validation.ok ? "passed" : "failed"}: ` +
            `${plural(event.validation.errors, "error")}, ${
              plural(event.validation.warnings, "warning")
            }`
          : "",
        event.artifacts?.length
          ? `wrote ${event.artifacts.map((a) => `${a.kind} ${a.path}`).join(", ")}`
          : "",
      ].filter((p) => p !== "");
      return parts.length ? `${line} (${parts.join("; ")})` : line;
    }
    case "task.attempt": {
      const duration = event.duration_ms == null ? "" : `, ${formatDuration(event.duration_ms)}`;
      const cost = event.cost_usd === undefined ? "" : `, ${formatDollars(event.cost_usd)}`;
      return `${prefix} ${event.key} attempt ${event.attempt} ${event.status}: ` +
        `${formatCount(event.prompt_tokens + event.completion_tokens)} tokens${cost}${duration}`;
    }
    case "validation.report": {
      const task = taskById(progress, event.task_id);
      const subject = task ? `${task.key} ${task.agent}` : "integration";
      return `${prefix} ${subject} validation ${event.ok ? "passed" : "failed"}: ` +
        `${plural(event.errors, "error")}, ${plural(event.warnings, "warning")}`;
    }
    case "artifact.created": {
      const task = taskById(progress, event.task_id);
      return `${prefix} ${task ? `${task.key} ` : ""}wrote ${event.kind} ${event.path}`;
    }
    case "checkpoint.passed":
    case "checkpoint.failed": {
      const what = `${prefix} checkpoint after ${event.after} (${event.suites.join(", ")})`;
      if (event.type === "checkpoint.passed") return `${what} passed`;
      const rules = [...new Set((event.failures ?? []).map((f) => f.rule))].join(", ");
      const count = (event.failures?.length ?? 0) + (event.more ?? 0);
      return `${what} failed: ${rules} in ${(event.responsible ?? []).join(", ")} ` +
        `(${plural(count, "finding")})`;
    }
    case "contract.passed":
    case "contract.failed": {
      const what =
        `${prefix} ${event.consumer} contract ${event.contract} (from ${event.producer})`;
      if (event.type === "contract.passed") return `${what} honoured`;
      const missing = (event.violations ?? []).map((v) => v.object ?? v.rule).join(", ");
      return `${what} broken: ${missing} not in the schema`;
    }
    case "recovery.decision": {
      const decision = progress.recovery.find((d) => d.seq === event.seq) ?? {
        class: event.class,
        strategy: event.strategy,
        fromTask: event.from_task,
        toTask: event.to_task,
        toAgent: event.to_agent ?? null,
        reason: event.reason,
      };
      return `${prefix} recovery ${describeDecision(decision, agentIn(progress))}`;
    }
  }
}

/** A recovery decision as {@link describeDecision} reads it. */
export type DecisionText = Omit<RecoveryProgress, "seq">;

/**
 * One decision as one line: `class strategy: from → to (agent): reason`. A retry stays with the
 * task (`T2 → T2 (db-architect)`); an escalation goes to `you`. `agentOf` names a task's agent by
 * its key (a retry's decision does not).
 */
export function describeDecision(
  decision: DecisionText,
  agentOf: (key: string) => string | undefined,
): string {
  const { from, to, agent } = routeOf(decision, agentOf);
  const target = `${to}${agent ? ` (${agent})` : ""}`;
  const reason = oneLine(decision.reason);
  return `${decision.class} ${decision.strategy}: ${from} → ${target}: ${reason}`;
}

/** A decision as `GET /runs/:id` lists it (`recovery`), as {@link describeDecision} reads it. */
export function decisionText(d: {
  class: string;
  strategy: string;
  from_task: string | null;
  to_task: string | null;
  to_agent: string | null;
  reason: string;
}): DecisionText {
  return {
    class: d.class,
    strategy: d.strategy,
    fromTask: d.from_task,
    toTask: d.to_task,
    toAgent: d.to_agent,
    reason: d.reason,
  };
}

function agentIn(progress: RunProgress): (key: string) => string | undefined {
  return (key) => taskByKey(progress, key)?.agent;
}

function routeOf(decision: DecisionText, agentOf: (key: string) => string | undefined) {
  const from = decision.fromTask ?? "run";
  if (decision.toTask === null) return { from, to: "you", agent: undefined };
  const agent = decision.toAgent ?? agentOf(decision.toTask);
  return { from, to: decision.toTask, agent };
}

/** The terminal frame: a run line, then one row per task. */
export function renderFrame(
  progress: RunProgress,
  now: number,
  options: FrameOptions = {},
): string {
  const paint = options.color ? colorFor : (_: string, text: string) => text;
  const end = progress.status in FINAL ? progress.updatedAt ?? now : now;
  const elapsed = progress.startedAt === undefined ? "" : formatDuration(end - progress.startedAt);
  const tokens = taskTokens(progress);
  const head = [
    `run ${progress.runId.slice(0, 8)}`,
    paint(progress.status, progress.status),
    tokens ? `${formatCount(tokens)} tokens` : "",
    elapsed,
  ].filter(Boolean).join("  ");
  const rows = progress.tasks.map((t) => taskRow(t, now));
  const widths = COLUMNS.map((_, i) => Math.max(0, ...rows.map((r) => r[i].length)));
  const lines = rows.map((r, i) => {
    const cells = r.map((cell, c) =>
      COLUMNS[c] === "right" ? cell.padStart(widths[c]) : cell.padEnd(widths[c])
    );
    cells[2] = paint(progress.tasks[i].status, cells[2]);
    return `  ${cells.join("  ")}`.trimEnd();
  });
  if (progress.tasks.length === 0) lines.push("  (no tasks yet)");
  lines.push(...recoveryRows(progress));
  if (progress.error) lines.push(`  error: ${progress.error.code}: ${progress.error.message}`);
  return [head, ...lines].join("\n");
}

/** Milliseconds as `850ms`, `4.2s`, `1m05s`. */
export function formatDuration(ms: number): string {
  const safe = Math.max(0, Math.round(ms));
  if (safe < 1000) return `${safe}ms`;
  if (safe < 60_000) return `${(safe / 1000).toFixed(1)}s`;
  const minutes = Math.floor(safe / 60_000);
  const seconds = Math.floor((safe % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

/** US dollars (`$0.00072`), or `cost unknown` when a model without a price answered. */
export function formatDollars(usd: number | null): string {
  return usd === null ? "cost unknown" : formatUsd(usd);
}

/** A count with thousands separators: `12,345`. */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// Alignment of the task row's cells: key, agent, state, attempt, elapsed, tokens, verdict.
const COLUMNS = ["left", "left", "left", "right", "right", "right", "left"] as const;

const FINAL: Record<string, true> = { completed: true, failed: true, cancelled: true };

function taskRow(t: TaskProgress, now: number): string[] {
  const elapsed = t.startedAt === undefined
    ? "-"
    : formatDuration((t.finishedAt ?? now) - t.startedAt);
  const tokens = t.promptTokens + t.completionTokens;
  const verdict = t.validation
    ? t.validation.ok ? "valid" : `invalid (${plural(t.validation.errors, "error")})`
    : "";
  return [
    t.key,
    t.agent,
    t.status,
    t.attempt > 0 ? `#${t.attempt}` : "-",
    elapsed,
    tokens > 0 ? `${formatCount(tokens)} tok` : "-",
    verdict,
  ];
}

/** Decisions a frame shows at most (the latest); a long run's frame must still fit a screen. */
export const FRAME_DECISIONS = 5;

// One aligned row per decision: class, strategy, from → to agent, reason.
function recoveryRows(progress: RunProgress): string[] {
  const all = progress.recovery;
  if (all.length === 0) return [];
  const shown = all.slice(-FRAME_DECISIONS);
  const rows = shown.map((d) => {
    const { from, to, agent } = routeOf(d, agentIn(progress));
    return [d.class, d.strategy, `${from} → ${to}${agent ? ` ${agent}` : ""}`, oneLine(d.reason)];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const earlier = all.length - shown.length;
  return [
    `  recovery${earlier > 0 ? ` (${earlier} earlier not shown)` : ""}`,
    ...rows.map((r) =>
      `    ${r.map((cell, i) => i < 3 ? cell.padEnd(widths[i]) : cell).join("  ")}`
    ),
  ];
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

const GREEN = new Set(["succeeded", "completed"]);
const RED = new Set(["failed", "cancelled", "escalated"]);
const YELLOW = new Set(["running", "validating", "retrying", "awaiting_clarification"]);

function colorFor(status: string, text: string): string {
  const code = GREEN.has(status) ? 32 : RED.has(status) ? 31 : YELLOW.has(status) ? 33 : 0;
  return code ? `\x1b[${code}m${text}\x1b[0m` : text;
}
