/**
 * Recovery of an integration failure at delivery: the failure is attributed to the task(s) whose
 * output causes it (shared/recovery's `attributeIntegrationFailure`), and each is retried once with
 * the failure as context while the run's token budget pays for it; when a task already had its
 * integration retry, or the budget cannot pay, the tasks escalate and the run asks its user the
 * typed recovery questions. The state machine applies it (`backend_team.recover_integration`), in
 * the caller's transaction.
 *
 * @example
 * ```ts
 * const { outcome, wake } = await recoverIntegration(tx, runId, report, ordered);
 * ```
 */
import type { SqlLike } from "../orchestration/mod.ts";
import {
  type AttributedFile,
  type AttributedMigration,
  attributeIntegrationFailure,
  escalationClarification,
  type FailedIntegration,
  moneyShortfall,
  strategyCost,
  strategyCostUsd,
} from "../recovery/mod.ts";

/** Integration retries of one task per run before its user is asked. */
export const MAX_INTEGRATION_RETRIES = 1;

/** What happened: tasks sent back to work (with the agents to wake), or the run escalated. */
export interface IntegrationRecovery {
  outcome: "recovering" | "escalated";
  wake: string[];
}

/** Attributes and recovers an integration failure; see the module doc. */
export async function recoverIntegration(
  sql: SqlLike,
  runId: string,
  report: FailedIntegration,
  migrations: readonly AttributedMigration[],
  /** Every delivered file with its task, for findings on files that are not migrations. */
  files: readonly AttributedFile[] = [],
): Promise<IntegrationRecovery> {
  const causes = attributeIntegrationFailure(report, migrations, files);
  const keys = causes.map((c) => c.task);
  const [budget] = await sql<
    { limit: number; used: number; limit_usd: number | null; used_usd: number | null }[]
  >`
    select token_budget::float8 as limit, (prompt_tokens + completion_tokens)::float8 as used,
           cost_budget_usd::float8 as limit_usd, cost_usd::float8 as used_usd
      from backend_team.run_view where id = ${runId}::uuid`;
  const history = await sql<
    { key: string; status: string; retries: number; tokens: number; cost_usd: number | null }[]
  >`
    select t.key, t.status,
           (select count(*) from backend_team.recovery_decisions d
             where d.task_id = t.id and d.class = 'integration' and d.strategy = 'retry'
               and d.detail ->> 'mode' = 'delivery')::int as retries,
           coalesce(a.prompt_tokens + a.completion_tokens, 0)::float8 as tokens,
           a.cost_usd::float8 as cost_usd
      from backend_team.tasks t
      left join lateral (select prompt_tokens, completion_tokens, cost_usd
                           from backend_team.task_attempts
                          where task_id = t.id order by attempt desc limit 1) a on true
     where t.run_id = ${runId}::uuid and t.key = any(${keys}::text[])`;
  const byKey = new Map(history.map((h) => [h.key, h]));
  const cost = causes.reduce(
    (sum, c) => sum + strategyCost("retry", null, byKey.get(c.task)?.tokens ?? 0),
    0,
  );
  // Money: the sum of each task's last attempt's price; unknown when one of them is.
  const costUsd = causes.reduce<number | null>((sum, c) => {
    const one = strategyCostUsd("retry", null, byKey.get(c.task)?.cost_usd ?? null);
    return sum === null || one === null ? null : sum + one;
  }, 0);
  const exhausted = causes.filter((c) =>
    (byKey.get(c.task)?.retries ?? 0) >= MAX_INTEGRATION_RETRIES
  );
  // Only an accepted output can be redone; a blamed task that is no longer `succeeded` (skipped,
  // superseded, or changed meanwhile) cannot be queued, so the run asks instead of waiting on it.
  const stuck = causes.filter((c) => byKey.get(c.task)?.status !== "succeeded");
  const remaining = budget.limit - budget.used;
  const short = moneyShortfall({
    limit: budget.limit,
    used: budget.used,
    attemptTokens: 0,
    limitUsd: budget.limit_usd,
    usedUsd: budget.used_usd,
  }, costUsd);
  const escalation = exhausted.length > 0 || stuck.length > 0
    ? "integration"
    : remaining < cost || short
    ? "budget"
    : null;
  const what = (c: (typeof causes)[number]) =>
    `the merged result fails at delivery because of task ${c.task} (${c.agent}; by the ` +
    `${c.rule.replace("_", " ")} rule): ${c.findings[0]?.message ?? "see the findings"}`;
  const decisions = Object.fromEntries(causes.map((c) => [c.task, {
    class: "integration",
    strategy: escalation ? "escalate" : "retry",
    toAgent: null,
    mode: "delivery",
    cost: escalation ? 0 : strategyCost("retry", null, byKey.get(c.task)?.tokens ?? 0),
    escalation,
    reason: stuck.length > 0
      ? `${what(c)}; task(s) ${stuck.map((s) => s.task).join(", ")} can no longer be redone ` +
        `(not succeeded), so the user decides`
      : escalation === "integration"
      ? `${what(c)}; its integration retries are spent, so the user decides`
      : escalation === "budget" && remaining < cost
      ? `${what(c)}; retrying would need about ${cost} tokens but only ` +
        `${Math.max(remaining, 0)} of the budget remain`
      : escalation === "budget"
      ? `${what(c)}; retrying would cost ${short}`
      : `${what(c)}; ${c.agent} redoes task ${c.task} with the failure as context`,
  }]));
  const clarification = escalation
    ? escalationClarification({
      reason: escalation,
      taskKey: keys.join(", "),
      agent: causes[0]?.agent ?? "",
      message: causes.map(what).join("; "),
      budget: {
        limit: budget.limit,
        used: budget.used,
        limit_usd: budget.limit_usd,
        used_usd: budget.used_usd,
      },
      findings: causes.flatMap((c) => c.findings),
      taskKeys: keys,
    })
    : null;
  const rows = await sql<{ agent: string }[]>`
    select backend_team.recover_integration(${runId}::uuid, ${sql.json(causes as never)}::jsonb,
      ${sql.json(decisions as never)}::jsonb, ${
    clarification ? sql.json(clarification as never) : null
  }::jsonb) as agent`;
  return {
    outcome: escalation ? "escalated" : "recovering",
    wake: [...new Set(rows.map((r) => r.agent))],
  };
}
