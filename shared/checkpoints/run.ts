/**
 * Runs a task's gates (see gate.ts) after its own validation passed: reads the run's accumulated
 * output (the artifacts of every succeeded task, in the order they were accepted), validates it
 * with this task's artifacts on a fresh shadow — the same validator port as the task's own
 * validation, asked for the resulting schema — and judges the checkpoints placed after the task
 * and the contracts it consumes. Returns null when the task has no gate (nothing extra runs).
 *
 * @example
 * ```ts
 * const verdict = await checkTaskGates({ sql, validator }, work, artifacts, answer.value, signal);
 * if (verdict && !verdict.ok) recoverWith(verdict.findings);
 * ```
 */
import type { Sql, TransactionSql } from "../db/mod.ts";
import type { ArtifactDraft, ArtifactValidator, TaskWork } from "../execution/mod.ts";
// The store itself, not the barrel: the task worker imports this module.
import { acceptedArtifacts } from "../execution/task_store.ts";
import { Plan } from "../plan/mod.ts";
import type { EndpointLike } from "../validation/contracts.ts";
import { type GateMigration, gatesOf, type GateVerdict, hasGates, judgeGates } from "./gate.ts";
import type { SuiteFinding } from "./suites.ts";

/** What the gates need. */
export interface GateDeps {
  sql: Sql;
  validator: ArtifactValidator;
  /** Passed on to the validator (see `ArtifactValidator.validate`). */
  beforeShadow?: () => Promise<void>;
}

/** Checks the task's gates; null when it has none. */
export async function checkTaskGates(
  deps: GateDeps,
  work: TaskWork,
  artifacts: readonly ArtifactDraft[],
  output: unknown,
  signal?: AbortSignal,
): Promise<GateVerdict | null> {
  const plan = Plan.safeParse(work.run.plan);
  if (!plan.success) return null;
  const gates = gatesOf(plan.data, work.task.key, handoffOf(work));
  if (!hasGates(gates)) return null;
  const suites = new Set(gates.checkpoints.flatMap((c) => c.suites));
  const kinds = ["migration"];
  if (suites.has("indexes")) kinds.push("index");
  if (suites.has("types") || suites.has("functions")) kinds.push("edge_function");
  const stored = await acceptedArtifacts(deps.sql, work.task.run_id, work.task.id, kinds);
  const { drafts, migrations } = accumulate([
    ...stored.map((a) => ({ task: a.key, draft: { ...a, meta: a.meta ?? {} } })),
    ...artifacts.filter((a) => kinds.includes(a.kind)).map((draft) => ({
      task: work.task.key,
      draft,
    })),
  ]);
  const endpoints = endpointsOf(output);
  const needsSchema = gates.contracts.length > 0 && endpoints.length > 0;
  if (gates.checkpoints.length === 0 && !needsSchema) {
    // Contracts only, and no endpoint to hold to them: nothing to validate (said in the verdict).
    return judgeGates({
      task: work.task.key,
      gates,
      findings: [],
      schema: null,
      schemaNote: "the output has no API endpoints to hold to the contract",
      endpoints,
      migrations,
    });
  }
  const started = performance.now();
  const summary = drafts.length > 0
    ? await deps.validator.validate({
      agent: work.task.agent,
      artifacts: drafts,
      accepted: [],
      baseSql: work.run.context.schema_sql ?? null,
      schema: true,
      signal,
      beforeShadow: deps.beforeShadow,
    })
    : null;
  const durationMs = summary ? Math.round(performance.now() - started) : 0;
  const verdict = judgeGates({
    task: work.task.key,
    gates,
    findings: (summary?.findings ?? []) as SuiteFinding[],
    validated: summary !== null,
    schema: summary?.schema ?? null,
    schemaNote: summary
      ? "the accumulated migrations did not apply, so there is no schema to check against"
      : "no migration in the run yet, so there is no schema to check against",
    endpoints,
    migrations,
  });
  return { ...verdict, durationMs };
}

/**
 * The task a recovery handoff took over: a task added by recovery (`input.recovery_of`) that
 * depends on the failing one (a handoff; a diagnosis runs before it instead).
 */
export function handoffOf(work: Pick<TaskWork, "task">): string | null {
  const of = (work.task.input as { recovery_of?: unknown }).recovery_of;
  return typeof of === "string" && work.task.depends_on.includes(of) ? of : null;
}

/** The accumulated artifacts with unique migration file names, and the migrations' tasks. */
export function accumulate(
  items: readonly { task: string; draft: ArtifactDraft }[],
): { drafts: ArtifactDraft[]; migrations: GateMigration[] } {
  const used = new Set<string>();
  const drafts: ArtifactDraft[] = [];
  const migrations: GateMigration[] = [];
  for (const { task, draft } of items) {
    if (draft.kind !== "migration") {
      drafts.push(draft);
      continue;
    }
    let file = draft.path.split("/").at(-1) ?? draft.path;
    // Two tasks may name their migrations alike; the validator needs distinct file names.
    if (used.has(file)) file = `${task}_${file}`;
    used.add(file);
    const dir = draft.path.includes("/")
      ? draft.path.slice(0, draft.path.lastIndexOf("/") + 1)
      : "";
    drafts.push({ ...draft, path: dir + file });
    migrations.push({ file, up: draft.content, task });
  }
  return { drafts, migrations };
}

/** The API endpoints in an agent's output (`artifacts.endpoints`), read defensively. */
export function endpointsOf(output: unknown): EndpointLike[] {
  const artifacts = (output as { artifacts?: unknown } | null)?.artifacts;
  const list = (artifacts as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(list)) return [];
  return list.filter((e): e is EndpointLike =>
    e !== null && typeof e === "object" && typeof (e as { path?: unknown }).path === "string"
  ).slice(0, 200);
}

/**
 * Announces the gates' verdicts on the run's channel (`backend_team.announce_gate_results`), in
 * the caller's transaction — the one that accepts the attempt or applies recovery's decision —
 * and only while the attempt is current. Returns how many events were appended.
 */
export async function announceGateResults(
  sql: TransactionSql,
  taskId: string,
  attempt: number,
  events: readonly { type: string; body: Record<string, unknown> }[],
): Promise<number> {
  if (events.length === 0) return 0;
  const [row] = await sql<{ n: number }[]>`
    select backend_team.announce_gate_results(
      ${taskId}::uuid, ${attempt}::integer, ${sql.json(events as never)}::jsonb) as n`;
  return row.n;
}
