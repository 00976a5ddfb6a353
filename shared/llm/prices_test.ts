import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { costOf, DEFAULT_PRICE_TABLE, loadPriceTable, priceOf } from "./prices.ts";
import { InMemoryUsageRecorder } from "./usage.ts";

Deno.test("usage is priced per model, a dated snapshot by its family, an unknown model not at all", () => {
  const usage = { prompt_tokens: 1000, completion_tokens: 200 };
  assert.equal(costOf(DEFAULT_PRICE_TABLE, "gpt-4.1-mini", usage), 0.00072);
  assert.equal(costOf(DEFAULT_PRICE_TABLE, "gpt-4.1-mini-2025-04-14", usage), 0.00072);
  assert.deepEqual(priceOf(DEFAULT_PRICE_TABLE, "gpt-4.1-nano-x"), { input: 0.1, output: 0.4 });
  assert.equal(costOf(DEFAULT_PRICE_TABLE, "llama3.1", usage), null);
});

Deno.test("BT_LLM_PRICES adds and overrides prices; malformed JSON is named", () => {
  const table = loadPriceTable({
    BT_LLM_PRICES: '{"llama3.1":{"input":0,"output":0},"gpt-4o":{"input":1,"output":1}}',
  });
  assert.equal(costOf(table, "llama3.1", { prompt_tokens: 10, completion_tokens: 10 }), 0);
  assert.deepEqual(priceOf(table, "gpt-4o"), { input: 1, output: 1 });
  assert.match(table.version, /BT_LLM_PRICES/);
  assert.throws(
    () => loadPriceTable({ BT_LLM_PRICES: "{nope" }),
    (e) => isAppError(e, "config_missing") && /BT_LLM_PRICES/.test(e.message),
  );
});

Deno.test("a money budget stops a run when its priced usage goes over it", () => {
  const usage = new InMemoryUsageRecorder({ budgetUsd: 0.001 });
  const entry = { runId: "r", model: "m", prompt_tokens: 1, completion_tokens: 1, reask: 0 };
  usage.record({ ...entry, cost_usd: 0.0006 });
  assert.equal(usage.totalCostUsd("r"), 0.0006);
  assert.throws(
    () => usage.record({ ...entry, cost_usd: 0.0006 }),
    (e) => isAppError(e, "budget_exceeded"),
  );
});
