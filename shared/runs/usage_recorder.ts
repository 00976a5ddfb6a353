/**
 * Usage charged to runs in the database: every LLM answer's tokens and cost (US dollars, `null`
 * when the model has no price) are added to its run by `backend_team.record_usage`, which fails
 * the run (`budget_exceeded`) the moment it goes over its token or money budget; the recorder then
 * throws, so the caller stops instead of spending more.
 *
 * @example
 * ```ts
 * const llm = createOpenAiLlm(loadLlmConfig(), { usage: new DbUsageRecorder(sql) });
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors/mod.ts";
import type { UsageEntry, UsageRecorder } from "../llm/mod.ts";

interface BudgetRow {
  over_budget: boolean;
  used: string;
  token_budget: string;
  spent_usd: number | null;
  budget_usd: number | null;
}

/** A {@link UsageRecorder} writing to `backend_team.runs`. */
export class DbUsageRecorder implements UsageRecorder {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async record(entry: UsageEntry): Promise<void> {
    if (!entry.runId) return;
    const [row] = await this.#sql<BudgetRow[]>`
      select over_budget, used, token_budget, spent_usd::float8 as spent_usd,
             budget_usd::float8 as budget_usd
        from backend_team.record_usage(
          ${entry.runId}::uuid, ${entry.prompt_tokens}::bigint, ${entry.completion_tokens}::bigint,
          ${entry.cost_usd ?? null}::numeric)`;
    if (!row?.over_budget) return;
    const details = {
      used: Number(row.used),
      token_budget: Number(row.token_budget),
      cost_usd: row.spent_usd,
      cost_budget_usd: row.budget_usd,
    };
    if (details.used > details.token_budget) {
      throw new AppError(
        "budget_exceeded",
        `the run used ${row.used} tokens, over its budget of ${row.token_budget}`,
        details,
      );
    }
    throw new AppError(
      "budget_exceeded",
      row.spent_usd === null
        ? `the run's cost is unknown (${entry.model} has no price), so its budget of ` +
          `$${row.budget_usd} cannot be kept`
        : `the run cost $${row.spent_usd}, over its budget of $${row.budget_usd}`,
      details,
    );
  }
}
