/**
 * The agent workers' validator (`ArtifactValidator`): an attempt's migrations are applied on a
 * fresh shadow database on top of the project's schema and the migrations the run has already
 * accepted, then attacked with the pgTAP tests generated from the resulting catalog (structure,
 * RLS on, and behaviour: the owner sees and changes their rows, another user and anon see and
 * change nothing), then rolled back and compared. Every problem becomes a finding
 * `{ rule, level, message, file, line, statement }`. Untrusted SQL never touches the product
 * database: the shadow is a database of its own on `SHADOW_DATABASE_URL`'s server.
 *
 * @example
 * ```ts
 * const validator = createShadowValidator();
 * const summary = await validator.validate({ agent, artifacts, accepted });
 * ```
 */
import {
  type DeliveryShadow,
  postgresDeliveryShadow,
  validateIntegration,
} from "../delivery/mod.ts";
import type { ArtifactValidator, ValidationSummary } from "../execution/mod.ts";
import type { IntegrationReport } from "../runs/mod.ts";
import { applyPlatformSql } from "../../supabase/local/platform.ts";

/** A validation finding. */
export interface Finding {
  rule: string;
  level: "error" | "warn" | "info";
  message: string;
  file: string | null;
  line: number | null;
  statement: string | null;
}

/** The validator on `SHADOW_DATABASE_URL` (required: agents never validate on the product DB). */
export function createShadowValidator(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): ArtifactValidator {
  const url = env.SHADOW_DATABASE_URL;
  const shadow = url
    ? postgresDeliveryShadow({ adminUrl: url, prepare: applyPlatformSql })
    : undefined;
  return validatorOn(shadow);
}

/** The validator on a given shadow (tests pass PGlite or a cluster of their own). */
export function validatorOn(shadow: DeliveryShadow | undefined): ArtifactValidator {
  return {
    async validate({ artifacts, accepted, baseSql }) {
      const mine = artifacts
        .filter((a) => a.kind === "migration")
        .map((a) => ({
          path: a.path,
          up: a.content,
          down: typeof a.meta.down_sql === "string" ? a.meta.down_sql : null,
        }));
      if (mine.length === 0) return { ok: true, errors: 0, warnings: 0, findings: [] };
      if (!shadow) {
        const finding: Finding = {
          rule: "shadow_unavailable",
          level: "error",
          message: "SHADOW_DATABASE_URL is not set: the migrations cannot be validated",
          file: null,
          line: null,
          statement: null,
        };
        return summarize([finding], 0);
      }
      const { report } = await validateIntegration(shadow, {
        baseSql: baseSql ?? null,
        migrations: [...accepted, ...mine],
      });
      const own = new Set(mine.map((m) => m.path));
      return summarize(findingsOf(report, own), report.duration_ms);
    },
  };
}

function summarize(findings: Finding[], durationMs: number): ValidationSummary {
  const errors = findings.filter((f) => f.level === "error").length;
  return {
    ok: errors === 0,
    errors,
    warnings: findings.filter((f) => f.level === "warn").length,
    findings,
    durationMs: Math.round(durationMs),
  };
}

const LINE = /^line (\d+): /;

/** The report's problems as findings; behavioural test failures are isolation leaks. */
export function findingsOf(report: IntegrationReport, own: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const m of report.migrations.filter((m) => !m.ok)) {
    const line = LINE.exec(m.error ?? "");
    findings.push({
      rule: "apply_error",
      level: "error",
      message: own.has(m.path)
        ? (m.error ?? "the migration failed")
        : `an earlier accepted migration no longer applies: ${m.error}`,
      file: m.path,
      line: line ? Number(line[1]) : null,
      statement: null,
    });
  }
  for (const t of report.tests.filter((t) => !t.ok)) {
    if (t.error) {
      findings.push({
        rule: "test_error",
        level: "error",
        message: `${t.path} stopped: ${t.error}`,
        file: t.path,
        line: null,
        statement: null,
      });
    }
    for (const failure of t.failures) {
      const behavioural = /user|anon|owner|sees|see|insert|update|delete/i.test(failure);
      findings.push({
        rule: behavioural ? "rls_isolation_leak" : "structure_test_failed",
        level: "error",
        message: failure.replaceAll("\n", " "),
        file: t.path,
        line: null,
        statement: null,
      });
    }
  }
  for (const f of report.fixtures.filter((f) => !f.ok)) {
    findings.push({
      rule: "probe_not_built",
      level: "info",
      message: `no probe row could be built for ${f.table}: ${f.detail}`,
      file: null,
      line: null,
      statement: null,
    });
  }
  if (report.rollback && !report.rollback.ok) {
    findings.push({
      rule: "rollback_mismatch",
      level: "error",
      message: report.rollback.detail,
      file: null,
      line: null,
      statement: null,
    });
  }
  return findings;
}
