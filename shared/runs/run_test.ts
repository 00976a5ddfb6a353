import assert from "node:assert/strict";
import { AnswerRequest, CreateRunRequest, Run } from "./run.ts";
import { Count } from "./scalars.ts";

Deno.test("a create request needs a non-blank request of at most 20000 characters", () => {
  assert.ok(CreateRunRequest.safeParse({ request: "A todo API" }).success);
  assert.ok(CreateRunRequest.safeParse({ request: "a".repeat(20_000) }).success);
  for (const request of ["", "   \n\t", "a".repeat(20_001), "a\u0000b", 7, null]) {
    assert.ok(!CreateRunRequest.safeParse({ request }).success, JSON.stringify(request));
  }
});

Deno.test("unknown fields in a create request are rejected at every level", () => {
  for (
    const body of [
      { request: "x", extra: 1 },
      { request: "x", context: { framework: "next" } },
      { request: "x", options: { model: "gpt" } },
    ]
  ) {
    const parsed = CreateRunRequest.safeParse(body);
    assert.ok(!parsed.success);
    assert.equal(parsed.error.issues[0].code, "unrecognized_keys");
  }
});

Deno.test("answers are keyed by question and hold text, choices, yes/no or numbers", () => {
  assert.ok(
    AnswerRequest.safeParse({ answers: { a: "x", b: true, c: 3, d: ["x", "y"] } }).success,
  );
  assert.ok(!AnswerRequest.safeParse({ answers: {} }).success);
  assert.ok(!AnswerRequest.safeParse({ answers: { a: { nested: 1 } } }).success);
  assert.ok(!AnswerRequest.safeParse({ answers: { a: "x" }, extra: 1 }).success);
});

Deno.test("bigint counters from postgres.js (digit strings) are read as numbers", () => {
  assert.equal(Count.parse("42"), 42);
  assert.equal(Count.parse(42), 42);
  assert.ok(!Count.safeParse("-1").success);
  assert.ok(!Count.safeParse("4x").success);
});

Deno.test("a stored run row drops internal columns and keeps the API's", () => {
  const now = new Date().toISOString();
  const run = Run.parse({
    id: crypto.randomUUID(),
    owner_id: crypto.randomUUID(),
    lease_until: null,
    status: "received",
    request: "x",
    context: {},
    options: { token_budget: 5000 },
    complexity: null,
    strategy: null,
    understanding: null,
    plan: null,
    clarification: null,
    token_budget: 5000,
    prompt_tokens: "0",
    completion_tokens: "0",
    cost_usd: "0.000720",
    cost_budget_usd: null,
    prompt_version: null,
    error: null,
    result: null,
    last_seq: "1",
    created_at: now,
    updated_at: now,
    completed_at: null,
  });
  assert.ok(!("owner_id" in run) && !("lease_until" in run));
  assert.equal(run.last_seq, 1);
  // numeric columns arrive as decimal strings and leave as numbers.
  assert.equal(run.cost_usd, 0.00072);
  assert.equal(run.cost_budget_usd, null);
});
