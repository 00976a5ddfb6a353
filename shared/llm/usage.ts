/**
 * Every answer the model gives costs tokens, including answers that are thrown away and re-asked.
 * The LLM adapter reports each one to a {@link UsageRecorder}; the recorder is where budgets live,
 * and throwing from it (`budget_exceeded`) is how a run is stopped before it spends more. The
 * database-backed recorder belongs to the runs domain; the in-memory one here serves tests and
 * tools that have no database.
 *
 * @example
 * ```ts
 * const usage = new InMemoryUsageRecorder({ budgetTokens: 10_000 });
 * const llm = createOpenAiLlm(loadLlmConfig(), { usage });
 * ```
 */
import { AppError } from "../errors/mod.ts";

/** One answer's cost, labelled with who asked for it. */
export interface UsageEntry {
  runId?: string;
  agent?: string;
  phase?: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  /** True when the endpoint sent no `usage` and the counts are an estimate (4 characters a token). */
  estimated?: boolean;
  /** What the answer cost in US dollars (the price table's), `null` when the model has no price. */
  cost_usd?: number | null;
  /** 0 for the first answer of a call, 1 and 2 for re-asks. */
  reask: number;
}

/** Receives the cost of every answer. May throw `AppError("budget_exceeded", …)` to stop the run. */
export interface UsageRecorder {
  record(entry: UsageEntry): void | Promise<void>;
}

/** Keeps entries in memory and, given a budget, stops a run whose total tokens exceed it. */
export class InMemoryUsageRecorder implements UsageRecorder {
  /** Everything recorded, in order. */
  readonly entries: UsageEntry[] = [];
  readonly #budgetTokens: number | undefined;
  readonly #budgetUsd: number | undefined;

  /**
   * `budgetTokens`: prompt + completion tokens a run may spend before it is stopped; `budgetUsd`:
   * the same in US dollars (answers of unpriced models count 0).
   */
  constructor(options: { budgetTokens?: number; budgetUsd?: number } = {}) {
    this.#budgetTokens = options.budgetTokens;
    this.#budgetUsd = options.budgetUsd;
  }

  /** Records the entry, then throws `budget_exceeded` when its run is now over a budget. */
  record(entry: UsageEntry): void {
    this.entries.push(entry);
    if (this.#budgetUsd !== undefined) {
      const cost = this.totalCostUsd(entry.runId);
      if (cost > this.#budgetUsd) {
        throw new AppError(
          "budget_exceeded",
          `run ${entry.runId ?? "(none)"} cost $${cost}, over its budget of $${this.#budgetUsd}`,
          { runId: entry.runId ?? null, cost_usd: cost, cost_budget_usd: this.#budgetUsd },
        );
      }
    }
    if (this.#budgetTokens === undefined) return;
    const spent = this.totalTokens(entry.runId);
    if (spent > this.#budgetTokens) {
      throw new AppError(
        "budget_exceeded",
        `run ${
          entry.runId ?? "(none)"
        } spent ${spent} tokens, over its budget of ${this.#budgetTokens}`,
        { runId: entry.runId ?? null, spent, budget: this.#budgetTokens },
      );
    }
  }

  /** US dollars recorded for `runId` (unpriced answers count 0), rounded to micro-dollars. */
  totalCostUsd(runId?: string): number {
    const micro = this.entries
      .filter((e) => e.runId === runId)
      .reduce((sum, e) => sum + Math.round((e.cost_usd ?? 0) * 1_000_000), 0);
    return micro / 1_000_000;
  }

  /** Prompt + completion tokens recorded for `runId` (all entries without a run when undefined). */
  totalTokens(runId?: string): number {
    return this.entries
      .filter((e) => e.runId === runId)
      .reduce((sum, e) => sum + e.prompt_tokens + e.completion_tokens, 0);
  }
}
