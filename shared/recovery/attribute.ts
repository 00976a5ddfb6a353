/**
 * Attribution of an integration failure (the seed's Phase 6, "integration failures are
 * attributed"): when the merged deliverable fails at delivery, find the task(s) whose output causes
 * it, so that recovery redoes those tasks instead of failing the run. The rules, in order:
 *
 * - a migration that does not apply → the task that produced that file (the failing statement's
 *   origin);
 * - a pgTAP file that fails → its subject table → the last task, in apply order, whose migrations
 *   change that table (create it, alter it, put a policy, trigger or index on it) — the table's
 *   owner (the task that created it) when none changed it after;
 * - a deployment configuration finding (`config.toml` naming a missing function, an undeclared env
 *   var, a `verify_jwt` the code contradicts) → the task that wrote the file it names (the
 *   deployment task for `config.toml`, the edge-functions task for a function's source);
 * - nothing attributable → every task that delivered a migration (a whole-result failure).
 * - the user's own schema (not a task's file) does not apply → nobody: no task can fix it.
 *
 * Pure: the caller passes the migrations in apply order with their task.
 *
 * @example
 * ```ts
 * const causes = attributeIntegrationFailure(report, [
 *   { path: "supabase/migrations/20261202000000_create_positions.sql", up: sql, task: "T1", agent: "db-architect" },
 * ]);
 * causes[0].task; // "T1"
 * ```
 */
import { tablesCreatedBy } from "./reroute.ts";

/** A delivered migration and the task that produced it, in apply order. */
export interface AttributedMigration {
  path: string;
  up: string;
  task: string;
  agent: string;
}

/** A delivered file (any kind) and the task that produced it. */
export interface AttributedFile {
  path: string;
  task: string;
  agent: string;
}

/** The parts of the integration report attribution reads. */
export interface FailedIntegration {
  migrations: { path: string; ok: boolean; error: string | null }[];
  tests: { path: string; ok: boolean; failures: string[]; error: string | null }[];
  /** Config-agrees findings on delivered files (only errors are attributed). */
  config?: { rule: string; level: string; file: string; message: string }[];
}

/** One task held responsible, with the findings that point at it. */
export interface IntegrationCause {
  task: string;
  agent: string;
  /** Which rule attributed it: `origin`, `subject` or `whole_result`. */
  rule: "origin" | "subject" | "whole_result";
  /** The failures, one line each, as the task's retry will see them. */
  findings: { file: string; message: string }[];
}

/**
 * The possible subject tables of a generated pgTAP file: `supabase/tests/database/<name>.test.sql`
 * covers `public.<name>`, or `<schema>.<table>` named `<schema>_<table>`.
 */
export function testSubjects(path: string): string[] {
  const m = /(?:^|\/)([a-z_][a-z0-9_$]*)\.test\.sql$/i.exec(path);
  if (!m) return [];
  const name = m[1].toLowerCase();
  const cut = name.indexOf("_");
  return cut > 0 ? [`public.${name}`, `${name.slice(0, cut)}.${name.slice(cut + 1)}`] : [
    `public.${name}`,
  ];
}

/** Whether a migration changes a table (`schema.table`). */
export function changesTable(sql: string, table: string): boolean {
  const [schema, name] = table.includes(".") ? table.split(".") : ["public", table];
  const ref = `(?:"?${schema}"?\\.)?"?${name}"?(?![a-z0-9_$])`;
  const re = new RegExp(
    `(?:create\\s+(?:unlogged\\s+)?table\\s+(?:if\\s+not\\s+exists\\s+)?|alter\\s+table\\s+` +
      `(?:if\\s+exists\\s+)?(?:only\\s+)?|create\\s+policy\\s+(?:"[^"]*"|\\S+)\\s+on\\s+|` +
      `\\son\\s+)${ref}`,
    "i",
  );
  return re.test(sql);
}

/** Finds the tasks that cause an integration failure; see the module doc. */
export function attributeIntegrationFailure(
  report: FailedIntegration,
  migrations: readonly AttributedMigration[],
  /** Every delivered file with its task (for config findings); default none. */
  files: readonly AttributedFile[] = [],
): IntegrationCause[] {
  const causes = new Map<string, IntegrationCause>();
  const blame = (
    m: Pick<AttributedMigration, "task" | "agent">,
    rule: IntegrationCause["rule"],
    finding: { file: string; message: string },
  ) => {
    const cause = causes.get(m.task) ?? { task: m.task, agent: m.agent, rule, findings: [] };
    cause.findings.push(finding);
    causes.set(m.task, cause);
  };
  const failedMigrations = report.migrations.filter((m) => !m.ok);
  // The user's own schema (context.schema_sql) failing is not any task's doing, and no task can
  // fix it by trying again: nothing is attributed, and the run fails saying why.
  if (failedMigrations.some((f) => !migrations.some((m) => m.path === f.path))) return [];
  for (const failed of failedMigrations) {
    const origin = migrations.find((m) => m.path === failed.path);
    if (origin) {
      blame(origin, "origin", {
        file: failed.path,
        message: `does not apply after the other tasks' migrations: ${failed.error ?? "error"}`,
      });
    }
  }
  for (const test of report.tests.filter((t) => !t.ok)) {
    let last: AttributedMigration | undefined;
    let table = "";
    for (const subject of testSubjects(test.path)) {
      const owner = migrations.find((m) => tablesCreatedBy(m.up).includes(subject));
      last = migrations.filter((m) => changesTable(m.up, subject)).at(-1) ?? owner;
      table = subject;
      if (last) break;
    }
    if (!last) continue;
    const lines = test.error ? [`stopped: ${test.error}`] : test.failures;
    for (const line of lines) {
      blame(last, "subject", {
        file: test.path,
        message: `the merged result fails its test of ${table}: ${line.replaceAll("\n", " ")}`,
      });
    }
  }
  for (const c of (report.config ?? []).filter((c) => c.level === "error")) {
    const origin = files.find((f) => f.path === c.file);
    if (origin) {
      blame(origin, "origin", {
        file: c.file,
        message: `the deployment configuration disagrees with the functions (${c.rule}): ` +
          c.message,
      });
    }
  }
  if (causes.size === 0) {
    const summary = [
      ...report.migrations.filter((m) => !m.ok).map((m) => `${m.path}: ${m.error}`),
      ...report.tests.filter((t) => !t.ok).map((t) => `${t.path}: ${t.error ?? t.failures[0]}`),
      ...(report.config ?? []).filter((c) => c.level === "error")
        .map((c) => `${c.file}: ${c.rule}: ${c.message}`),
    ].join("; ") || "the integration run did not pass";
    for (const m of migrations) {
      if (!causes.has(m.task)) {
        blame(m, "whole_result", { file: m.path, message: `the merged result fails: ${summary}` });
      }
    }
  }
  return [...causes.values()];
}
