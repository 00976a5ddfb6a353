/**
 * Recovery of a failed checkpoint at the task that caused it. When every failing finding is
 * attributed to one earlier task — a direct dependency of the gated task, accepted, that nothing
 * else has built on yet — shared/recovery decides for that task (its class, its history, the run's
 * budget) and, when the decision is a retry, `backend_team.recover_checkpoint` sends it back to work
 * with the findings while the gated task waits behind it. Anything else (a reroute, an escalation,
 * a cause others already build on) is left to the gated task's own recovery: it returns null.
 *
 * @example
 * ```ts
 * const done = await recoverAtCause(sql, work, verdict, result, attempt, usage, 2);
 * if (!done) { ...recover the gated task... }
 * ```
 */
import type { Sql, TransactionSql } from "../db/mod.ts";
import type { WorkerName } from "../dispatch/mod.ts";
import { type AttemptUsage, recoveryAfterValidation } from "../execution/recovery_step.ts";
import { type AttemptResult, loadTaskWork, type TaskWork } from "../execution/task_store.ts";
import { gateFailureText, type GateVerdict } from "./gate.ts";
import { announceGateResults } from "./run.ts";

/** The earlier task every checkpoint failure is attributed to, if there is exactly one. */
export function earlierCause(
  verdict: GateVerdict,
  task: { key: string; depends_on: readonly string[] },
): string | null {
  if (verdict.ok || verdict.contracts.some((c) => !c.ok)) return null;
  const causes = new Set(verdict.findings.map((f) => f.task));
  if (causes.size !== 1) return null;
  const [cause] = causes;
  return cause !== task.key && task.depends_on.includes(cause) ? cause : null;
}

/** Sends the earlier task that caused the checkpoint failure back to work; null if not applied. */
export async function recoverAtCause(
  sql: Sql,
  work: TaskWork,
  verdict: GateVerdict,
  result: AttemptResult,
  attempt: number,
  usage: AttemptUsage,
  maxRetries: number,
): Promise<{ wake: WorkerName[] } | null> {
  const cause = earlierCause(verdict, work.task);
  if (!cause) return null;
  const [row] = await sql<{ id: string }[]>`
    select id from backend_team.tasks
     where run_id = ${work.task.run_id} and key = ${cause} and status = 'succeeded'`;
  if (!row) return null;
  const causeWork = await loadTaskWork(sql, row.id);
  const step = await recoveryAfterValidation(sql, causeWork, verdict.findings, usage, maxRetries);
  if (step.decision.strategy !== "retry") return null;
  const text = gateFailureText(verdict, work.task.key);
  const decision = { ...step.decision, reason: `${text}; ${step.decision.reason}` };
  const findings = verdict.findings.map((f) => ({
    rule: f.rule,
    level: f.level,
    message: f.message,
    file: f.file ?? null,
    line: f.line ?? null,
    statement: f.statement ?? null,
    ...(f.object ? { object: f.object } : {}),
  }));
  // Announced in the transaction that applies the decision (while the attempt is current); when
  // recover_checkpoint finds it not applicable, the transaction rolls back and the gated task's
  // own recovery announces instead.
  try {
    return await sql.begin(async (tx: TransactionSql) => {
      await announceGateResults(tx, work.task.id, attempt, verdict.events);
      const [applied] = await tx<{ applied: boolean; wake: WorkerName[] }[]>`
        select applied, wake from backend_team.recover_checkpoint(
          ${work.task.id}::uuid, ${attempt}::integer,
          ${
        tx.json({ ...result, error: { code: "checkpoint_failed", message: text } } as never)
      }::jsonb,
          ${cause}, ${tx.json(findings as never)}::jsonb, ${tx.json(decision as never)}::jsonb)`;
      if (!applied.applied) throw new NotApplicable();
      return { wake: applied.wake };
    });
  } catch (e) {
    if (e instanceof NotApplicable) return null;
    throw e;
  }
}

class NotApplicable extends Error {}
