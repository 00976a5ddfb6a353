/**
 * A validation report as a person reads it in a terminal: findings grouped by file, each with its
 * line, level and rule, then a one-line verdict.
 *
 * @example
 * ```ts
 * console.log(formatReport(report));
 * ```
 */
import type { Finding } from "./finding.ts";
import type { ValidationReport } from "./request.ts";

const MARK = { error: "error", warn: "warn ", info: "info " } as const;

function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The report as text, grouped by file. */
export function formatReport(report: ValidationReport): string {
  const groups = new Map<string, Finding[]>();
  for (const f of report.findings) {
    const key = f.file ?? "(whole validation)";
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const lines: string[] = [];
  for (const [file, list] of groups) {
    lines.push(file);
    for (const f of list) {
      const at = f.line ? `:${f.line}` : "";
      lines.push(`  ${MARK[f.level]} ${f.rule}${at ? ` (line ${f.line})` : ""}: ${f.message}`);
      if (f.statement) lines.push(`        ${oneLine(f.statement)}`);
    }
    lines.push("");
  }
  const count = (level: Finding["level"]) =>
    report.findings.filter((f) => f.level === level).length;
  lines.push(
    `${report.ok ? "OK" : "FAILED"}: ${count("error")} error(s), ${count("warn")} warning(s), ` +
      `${count("info")} note(s) in ${report.durationMs} ms`,
  );
  return lines.join("\n");
}
