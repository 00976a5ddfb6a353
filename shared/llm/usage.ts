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

  /** `budgetTokens`: prompt + completion tokens a run may spend before it is stopped. */
  constructor(options: { budgetTokens?: number } = {}) {
    this.#budgetTokens = options.budgetTokens;
  }

  /** Records the entry, then throws `budget_exceeded` when its run is now over budget. */
  record(entry: UsageEntry): void {
    this.entries.push(entry);
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

  /** Prompt + completion tokens recorded for `runId` (all entries without a run when undefined). */
  totalTokens(runId?: string): number {
    return this.entries
      .filter((e) => e.runId === runId)
      .reduce((sum, e) => sum + e.prompt_tokens + e.completion_tokens, 0);
  }
}
