import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { InMemoryUsageRecorder, type UsageEntry } from "./usage.ts";

const entry = (runId: string, prompt: number, completion: number): UsageEntry => ({
  runId,
  agent: "orchestrator",
  phase: "plan",
  model: "m",
  prompt_tokens: prompt,
  completion_tokens: completion,
  reask: 0,
});

Deno.test("usage is totalled per run", () => {
  const usage = new InMemoryUsageRecorder();
  usage.record(entry("a", 100, 20));
  usage.record(entry("b", 5, 5));
  usage.record(entry("a", 30, 10));
  assert.equal(usage.totalTokens("a"), 160);
  assert.equal(usage.totalTokens("b"), 10);
  assert.equal(usage.entries.length, 3);
});

Deno.test("the answer that takes a run over its budget is recorded, then the run is stopped", () => {
  const usage = new InMemoryUsageRecorder({ budgetTokens: 100 });
  usage.record(entry("a", 60, 40));
  try {
    usage.record(entry("a", 1, 0));
    assert.fail("expected budget_exceeded");
  } catch (e) {
    assert.ok(isAppError(e, "budget_exceeded"));
    assert.equal(e.message, "run a spent 101 tokens, over its budget of 100");
    assert.deepEqual(e.details, { runId: "a", spent: 101, budget: 100 });
  }
  assert.equal(usage.totalTokens("a"), 101);
  usage.record(entry("b", 100, 0));
});
