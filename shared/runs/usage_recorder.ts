/**
 * Token usage charged to runs in the database: every LLM answer's tokens are added to its run by
 * `backend_team.record_usage`, which fails the run (`budget_exceeded`) the moment it goes over its
 * budget; the recorder then throws, so the caller stops instead of spending more.
 *
 * @example
 * ```ts
 * const llm = createOpenAiLlm(loadLlmConfig(), { usage: new DbUsageRecorder(sql) });
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors/mod.ts";
import type { UsageEntry, UsageRecorder } from "../llm/mod.ts";

/** A {@link UsageRecorder} writing to `backend_team.runs`. */
export class DbUsageRecorder implements UsageRecorder {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async record(entry: UsageEntry): Promise<void> {
    if (!entry.runId) return;
    const [row] = await this.#sql<{ over_budget: boolean; used: string; token_budget: string }[]>`
      select * from backend_team.record_usage(
        ${entry.runId}::uuid, ${entry.prompt_tokens}::bigint, ${entry.completion_tokens}::bigint)`;
    if (row?.over_budget) {
      throw new AppError(
        "budget_exceeded",
        `the run used ${row.used} tokens, over its budget of ${row.token_budget}`,
        { used: Number(row.used), token_budget: Number(row.token_budget) },
      );
    }
  }
}
