/**
 * Validation evidence for delivered files: the producing task's shadow-database verdict (from the
 * task's validation report, else the `meta.validation` its artifacts carry) summarised to counts
 * and one line per finding, plus what the integration run showed for the file. Findings come from
 * several validators, so they are read defensively: any object with a message, rule or severity.
 *
 * @example
 * ```ts
 * taskEvidence({ ok: true, errors: 0, warnings: 1, findings: [{ severity: "warning", message: "…" }] });
 * ```
 */
import { type IndexMeasurement, type IntegrationReport, type TaskEvidence } from "../runs/mod.ts";

/** The evidence in a task's validation report (or an artifact's `meta.validation`), or null. */
export function taskEvidence(...reports: unknown[]): TaskEvidence | null {
  for (const report of reports) {
    if (typeof report !== "object" || report === null) continue;
    const r = report as Record<string, unknown>;
    if (typeof r.ok !== "boolean") continue;
    const findings = Array.isArray(r.findings) ? r.findings.map(findingLine) : [];
    return {
      ok: r.ok,
      errors: count(r.errors),
      warnings: count(r.warnings),
      findings,
    };
  }
  return null;
}

/** One line for a finding: `[severity] rule: message (line N)`. */
export function findingLine(finding: unknown): string {
  if (typeof finding === "string") return finding;
  if (typeof finding !== "object" || finding === null) return String(finding);
  const f = finding as Record<string, unknown>;
  const text = (
    k: string,
  ) => (typeof f[k] === "string" || typeof f[k] === "number" ? String(f[k]) : null);
  const severity = text("severity") ?? text("level");
  const rule = text("rule") ?? text("code") ?? text("check");
  const message = text("message") ?? text("detail") ?? JSON.stringify(finding);
  const line = text("line");
  return `${severity ? `[${severity}] ` : ""}${rule ? `${rule}: ` : ""}${message}${
    line ? ` (line ${line})` : ""
  }`;
}

/** What the integration run says about a delivered path, or null if it did not touch it. */
export function integrationLine(report: IntegrationReport | null, path: string): string | null {
  if (!report) return null;
  const migration = report.migrations.find((m) => m.path === path);
  if (migration) {
    return migration.ok
      ? `applied from scratch on ${report.backend} in ${migration.duration_ms} ms`
      : `failed on ${report.backend}: ${migration.error}`;
  }
  const test = report.tests.find((t) => t.path === path);
  if (test) {
    if (test.error) return `stopped on ${report.backend}: ${test.error}`;
    return `${test.passed}/${test.planned} pgTAP tests passed on ${report.backend}`;
  }
  return null;
}

function count(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0;
}

/**
 * The index measurements in tasks' validation reports (`benchmarks`: before/after
 * `EXPLAIN (ANALYZE, BUFFERS)` on synthetic rows), by index name without its schema. Read
 * defensively: a report of another shape contributes nothing; a later task's measurement of the
 * same index replaces an earlier one.
 */
export function indexMeasurements(reports: readonly unknown[]): Map<string, IndexMeasurement> {
  const out = new Map<string, IndexMeasurement>();
  for (const report of reports) {
    if (typeof report !== "object" || report === null) continue;
    const list = (report as { benchmarks?: unknown }).benchmarks;
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const b = raw as Record<string, unknown>;
      const before = planRun(b?.before);
      const after = planRun(b?.after);
      if (typeof b?.index !== "string" || !before || !after || typeof b.improved !== "boolean") {
        continue;
      }
      const rows: Record<string, number> = {};
      if (typeof b.rows === "object" && b.rows !== null) {
        for (const [t, n] of Object.entries(b.rows)) if (typeof n === "number") rows[t] = n;
      }
      out.set(b.index.split(".").at(-1)!, { rows, before, after, improved: b.improved });
    }
  }
  return out;
}

function planRun(v: unknown): IndexMeasurement["before"] | null {
  if (typeof v !== "object" || v === null) return null;
  const r = v as Record<string, unknown>;
  if (
    typeof r.executionMs !== "number" || typeof r.buffers !== "number" ||
    typeof r.plan !== "string" || typeof r.usesIndex !== "boolean"
  ) return null;
  return {
    execution_ms: r.executionMs,
    buffers: r.buffers,
    plan: r.plan,
    uses_index: r.usesIndex,
  };
}
