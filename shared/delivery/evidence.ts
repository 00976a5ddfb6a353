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
import type { IntegrationReport, TaskEvidence } from "../runs/mod.ts";

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
