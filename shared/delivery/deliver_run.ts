/**
 * The orchestrator worker's delivery step for a run in `delivering`: read the run's tasks and
 * artifacts, validate the project's schema and the merged migrations together on a shadow (when
 * one is given: a session of shared/shadow, the boundary all untrusted SQL runs behind — all
 * migrations from scratch, generated pgTAP tests, rollback), assemble the deliverable,
 * and — in one transaction that also archives the queue message — store its files and complete
 * the run with the sections index as its `result`. A failed integration is attributed to the tasks
 * that cause it and recovered (those tasks redo their part, or the run asks its user when recovery
 * is exhausted: shared/recovery); only a failure no delivered migration can explain (the project's
 * own schema) fails the run with code `integration_failed`. A redelivered message finds the run no longer
 * delivering and only archives itself; a crash before the commit leaves everything to be redone.
 *
 * @example
 * ```ts
 * const shadow = () => sharedShadow("pglite");
 * const deliver = (run: RunRecord, msgId: number) => deliverRun({ sql, shadow }, run, msgId);
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { finishMessage, transitionRun } from "../orchestration/mod.ts";
import type { IntegrationReport } from "../runs/mod.ts";
import type { ShadowDatabase } from "../shadow/mod.ts";
import { assembleDeliverable } from "./assemble.ts";
import { loadDelivery, lockRunStatus, storeDeliverableFiles } from "./delivery_store.ts";
import {
  checkDeliveredConfig,
  type IntegrationOutcome,
  validateIntegration,
} from "./integration.ts";
import { orderMigrations } from "./migration_order.ts";
import { attributeIntegrationFailure } from "../recovery/mod.ts";
import { recoverIntegration } from "./recover_integration.ts";

/** What {@link deliverRun} needs. */
export interface DeliverDeps {
  /** The product database, as the service side. */
  sql: Sql;
  /**
   * Where the merged migrations are validated, or how to get it (asked only when there is SQL to
   * validate); without one, no integration evidence or tests.
   */
  shadow?: ShadowDatabase | (() => Promise<ShadowDatabase>);
}

/** How a delivery ended. */
export interface DeliveryOutcome {
  /** `recovering`: tasks redo their part; `escalated`: the run asks its user. */
  status: "completed" | "failed" | "skipped" | "recovering" | "escalated";
  /** Agents to wake (the tasks an integration failure sent back to work). */
  wake?: string[];
  /** Files stored (completed runs). */
  files: number;
  integration: IntegrationReport | null;
  durationMs: number;
}

/** Delivers the run; see the module doc. */
export async function deliverRun(
  deps: DeliverDeps,
  run: { id: string },
  msgId: number,
): Promise<DeliveryOutcome> {
  const started = performance.now();
  const done = (
    status: DeliveryOutcome["status"],
    files: number,
    integration: IntegrationReport | null,
  ) => ({ status, files, integration, durationMs: Math.round(performance.now() - started) });
  const input = await loadDelivery(deps.sql, run.id);
  if (!input || input.run.status !== "delivering") {
    await finishMessage(deps.sql, msgId, async () => {});
    return done("skipped", 0, null);
  }

  let validation: IntegrationOutcome | null = null;
  const migrations = orderMigrations(input).map((m) => ({ path: m.path, up: m.up, down: m.down }));
  const baseSql = input.run.context?.schema_sql ?? null;
  // A run that delivers no SQL (docs, functions, configuration) has nothing to integrate: making a
  // shadow database for it would cost most of its delivery time and prove nothing.
  if (deps.shadow && (migrations.length > 0 || baseSql)) {
    const shadow = typeof deps.shadow === "function" ? await deps.shadow() : deps.shadow;
    validation = await validateIntegration(shadow, { baseSql, migrations });
  }
  // The deployment configuration against the functions (pure): its findings join the report; an
  // error fails the delivery like a failing migration, attributed to the task that wrote the file.
  const config = await checkDeliveredConfig(input.artifacts);
  let report = validation?.report ?? null;
  if (config.length > 0 && report) {
    report.config = config;
    report.ok = report.ok && !config.some((f) => f.level === "error");
  } else if (config.some((f) => f.level === "error")) {
    report = {
      ok: false,
      backend: "none",
      duration_ms: 0,
      migrations: [],
      tests: [],
      fixtures: [],
      rollback: null,
      config,
    };
  }

  if (report && !report.ok) {
    const findings = integrationFindings(report);
    const ordered = orderMigrations(input).map((m) => ({
      path: m.path,
      up: m.up,
      task: m.task.key,
      agent: m.task.agent,
    }));
    // Every delivered file with the task that wrote it (config findings name files, not SQL).
    const tasks = new Map(input.tasks.map((t) => [t.id, t]));
    const files = input.artifacts.flatMap((a) => {
      const task = a.task_id ? tasks.get(a.task_id) : undefined;
      return task ? [{ path: a.path, task: task.key, agent: task.agent }] : [];
    });
    // Attributed to the tasks that cause it, the failure is recovered instead of failing the run.
    const failed = report;
    const attributable = (ordered.length > 0 || files.length > 0) &&
      attributeIntegrationFailure(failed, ordered, files).length > 0;
    const recovered = attributable
      ? await finishMessage(deps.sql, msgId, async (tx) => {
        if ((await lockRunStatus(tx, run.id)) !== "delivering") return null;
        return await recoverIntegration(tx, run.id, failed, ordered, files);
      })
      : null;
    if (recovered) {
      return { ...done(recovered.outcome, 0, report), wake: recovered.wake };
    }
    if (attributable) return done("skipped", 0, report);
    const applied = await finishMessage(deps.sql, msgId, async (tx) => {
      if ((await lockRunStatus(tx, run.id)) !== "delivering") return false;
      await transitionRun(tx, run.id, "failed", {
        error: {
          code: "integration_failed",
          message: `the merged result failed integration validation: ${findings[0]}` +
            (findings.length > 1 ? ` (and ${findings.length - 1} more)` : ""),
          findings,
          report,
        },
      });
      return true;
    });
    return done(applied ? "failed" : "skipped", 0, report);
  }

  const { result, files } = await assembleDeliverable({ ...input, validation });
  const stored = await finishMessage(deps.sql, msgId, async (tx) => {
    if ((await lockRunStatus(tx, run.id)) !== "delivering") return null;
    const count = await storeDeliverableFiles(tx, run.id, input.run.owner_id, files);
    await transitionRun(tx, run.id, "completed", { result });
    return count;
  });
  return done(stored === null ? "skipped" : "completed", stored ?? 0, report);
}

/** One line per problem the integration run found. */
export function integrationFindings(report: IntegrationReport): string[] {
  const out: string[] = [];
  for (const m of report.migrations.filter((m) => !m.ok)) out.push(`${m.path}: ${m.error}`);
  for (const t of report.tests.filter((t) => !t.ok)) {
    if (t.error) out.push(`${t.path} stopped: ${t.error}`);
    for (const f of t.failures) out.push(`${t.path}: ${f.replaceAll("\n", " ")}`);
  }
  for (const c of (report.config ?? []).filter((c) => c.level === "error")) {
    out.push(`${c.file}: ${c.rule}: ${c.message}`);
  }
  return out.length > 0 ? out : ["the integration run did not pass"];
}
