/**
 * What a reroute asks of its agent: the new task's title, input and expected output, written from
 * the failing task and the findings that sent it there, so the specialist's context says exactly
 * what to fix (and, for a handoff, that it builds on the failing task's output, which is among its
 * dependency outputs). Also which tables earlier tasks created, for classifying cross-task failures.
 * Pure.
 *
 * @example
 * ```ts
 * const task = rerouteTask(decision, { key: "T1", agent: "db-architect", title: "Schema" },
 *   findings);
 * ```
 */
import type { AgentName } from "../plan/mod.ts";
import type { NewTask } from "./amend.ts";
import type { FindingLike } from "./classify.ts";
import type { RecoveryDecision } from "./strategy.ts";

/** The failing task, as a reroute describes it. */
export interface FailingTask {
  key: string;
  agent: string;
  title: string;
  tables?: string[];
}

/** The new task of a reroute decision. */
export function rerouteTask(
  decision: RecoveryDecision & { toAgent: AgentName },
  failing: FailingTask,
  findings: readonly FindingLike[],
): NewTask {
  const errors = findings.filter((f) => f.level === "error").slice(0, 12).map((f) =>
    `- [${f.rule}] ${String(f.message ?? "").slice(0, 400)}` +
    (f.statement ? `\n  statement: ${String(f.statement).slice(0, 300)}` : "")
  ).join("\n");
  const handoff = decision.mode === "handoff";
  const title = handoff
    ? `Fix ${decision.class} findings in ${failing.key}'s output`
    : `Diagnose why ${failing.key} (${failing.agent}) fails`;
  const input = handoff
    ? `Task ${failing.key} (${failing.agent}, "${failing.title}") produced output that fails ` +
      `validation with ${decision.class} errors. Its output is among your dependency outputs and ` +
      `its migrations are already applied. Write the migration(s) that fix these errors on top ` +
      `of it, changing nothing else:\n${errors}`
    : `Task ${failing.key} (${failing.agent}, "${failing.title}") fails validation. Find the ` +
      `cause (it may lie in what earlier tasks built: they are among your dependency outputs) ` +
      `and describe the fix ${failing.agent} must make, in your diagnoses:\n${errors}`;
  return {
    agent: decision.toAgent,
    title,
    input,
    output: handoff ? ["migration"] : ["diagnosis"],
    tables: failing.tables,
  };
}

/** Tables a migration creates (`create table [if not exists] [schema.]name`), lower-cased. */
export function tablesCreatedBy(sql: string): string[] {
  const out = new Set<string>();
  const re =
    /create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?((?:"?[a-z_][a-z0-9_]*"?\.)?"?[a-z_][a-z0-9_$]*"?)/gi;
  for (const m of sql.matchAll(re)) out.add(m[1].replaceAll('"', "").toLowerCase());
  return [...out];
}
