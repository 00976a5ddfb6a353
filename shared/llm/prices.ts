/**
 * What tokens cost in money: a small, versioned price table (US dollars per million input and
 * output tokens, per model) and the override operators set for their own contracts or for models
 * the table does not know (`BT_LLM_PRICES`, JSON `{ "<model>": { "input": n, "output": n } }`).
 * A model is looked up exactly, then by the longest table entry its name starts with (providers
 * add dates and suffixes: `gpt-4.1-mini-2025-04-14`); an unknown model has no price (`null`),
 * never a guessed one. Local servers (Ollama, vLLM, LM Studio) cost nothing per token: price them
 * at 0 in the override.
 *
 * @example
 * ```ts
 * const prices = loadPriceTable();
 * costOf(prices, "gpt-4.1-mini", { prompt_tokens: 1000, completion_tokens: 200 }); // 0.00072
 * ```
 */
import { z } from "zod";
import { AppError } from "../errors/mod.ts";

/** Price of one model, US dollars per million tokens. */
export const ModelPrice = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
});
export type ModelPrice = z.infer<typeof ModelPrice>;

/** A price table: its version (when it was checked against the providers' pages) and prices. */
export interface PriceTable {
  version: string;
  currency: "USD";
  models: Record<string, ModelPrice>;
}

/**
 * The built-in table. Public list prices as published by the providers on the version date; a
 * deployment with other prices sets `BT_LLM_PRICES`.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  version: "2026-01",
  currency: "USD",
  models: {
    "gpt-4.1": { input: 2, output: 8 },
    "gpt-4.1-mini": { input: 0.4, output: 1.6 },
    "gpt-4.1-nano": { input: 0.1, output: 0.4 },
    "gpt-4o": { input: 2.5, output: 10 },
    "gpt-4o-mini": { input: 0.15, output: 0.6 },
    "o3": { input: 2, output: 8 },
    "o4-mini": { input: 1.1, output: 4.4 },
    // The scripted test server and the offline demo: free, but priced so costs show.
    "scripted": { input: 1, output: 2 },
  },
};

/** The built-in table with `BT_LLM_PRICES` (from `env`) laid over it. */
export function loadPriceTable(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): PriceTable {
  const text = env.BT_LLM_PRICES;
  if (!text) return DEFAULT_PRICE_TABLE;
  let parsed: Record<string, ModelPrice>;
  try {
    parsed = z.record(z.string().min(1), ModelPrice).parse(JSON.parse(text));
  } catch (e) {
    throw new AppError(
      "config_missing",
      'configuration error: BT_LLM_PRICES: must be JSON like {"my-model":{"input":0.5,"output":1.5}} ' +
        "(US dollars per million tokens)",
      { variables: ["BT_LLM_PRICES"] },
      { cause: e },
    );
  }
  return {
    version: `${DEFAULT_PRICE_TABLE.version}+BT_LLM_PRICES`,
    currency: "USD",
    models: { ...DEFAULT_PRICE_TABLE.models, ...parsed },
  };
}

/** The price of `model`: exact, else the longest entry it starts with; `undefined` if unknown. */
export function priceOf(table: PriceTable, model: string): ModelPrice | undefined {
  const exact = table.models[model];
  if (exact) return exact;
  const prefix = Object.keys(table.models)
    .filter((name) => model.startsWith(name))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? table.models[prefix] : undefined;
}

/** What `usage` of `model` cost in US dollars, or `null` when the model has no price. */
export function costOf(
  table: PriceTable,
  model: string,
  usage: { prompt_tokens: number; completion_tokens: number },
): number | null {
  const price = priceOf(table, model);
  if (!price) return null;
  const dollars = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) /
    1_000_000;
  // Micro-dollars: enough for one token of the cheapest model, without float noise in sums.
  return Math.round(dollars * 1_000_000) / 1_000_000;
}
