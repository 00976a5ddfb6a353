import assert from "node:assert/strict";
import {
  escalationClarification,
  PLAN_ACTIONS,
  planClarification,
  recoveryAnswerIssues,
} from "./mod.ts";

const money = { budget: { used: 5000, used_usd: 0.0041 } };

Deno.test("raise_budget takes a token budget, a money budget or both, each above what is spent", () => {
  const ids = (answers: Record<string, unknown>) =>
    recoveryAnswerIssues(money, answers).map((i) => i.path.at(-1));
  assert.deepEqual(ids({ action: "raise_budget", cost_budget_usd: "0.05" }), []);
  assert.deepEqual(ids({ action: "raise_budget", token_budget: "9000" }), []);
  assert.deepEqual(ids({ action: "raise_budget", token_budget: 9000, cost_budget_usd: 1 }), []);
  assert.deepEqual(ids({ action: "raise_budget" }), ["token_budget"], "one of them is needed");
  assert.deepEqual(ids({ action: "raise_budget", cost_budget_usd: "0.004" }), ["cost_budget_usd"]);
  assert.deepEqual(ids({ action: "raise_budget", cost_budget_usd: "1e3" }), ["cost_budget_usd"]);
  assert.deepEqual(ids({ action: "raise_budget", cost_budget_usd: "100001" }), ["cost_budget_usd"]);
  assert.deepEqual(ids({ action: "raise_budget", token_budget: "100", cost_budget_usd: "1" }), [
    "token_budget",
  ]);
});

Deno.test("a money budget adds its question; without one there is none", () => {
  const base = { reason: "budget" as const, taskKey: "T1", agent: "db-architect", message: "m" };
  const withMoney = escalationClarification({
    ...base,
    budget: { limit: 1000, used: 900, limit_usd: 0.005, used_usd: 0.0041 },
  });
  const question = withMoney.questions.find((q) => q.id === "cost_budget_usd");
  assert.match(question?.text ?? "", /now \$0\.005, \$0\.0041 spent/);
  assert.deepEqual(withMoney.task_keys, ["T1"]);
  const tokensOnly = escalationClarification({ ...base, budget: { limit: 1000, used: 900 } });
  assert.ok(!tokensOnly.questions.some((q) => q.id === "cost_budget_usd"));
});

Deno.test("a plan that stays invalid asks for guidance, then retry, another model or cancel", () => {
  const c = planClarification({
    reason: "plan",
    message: "invalid",
    problems: ["task T1 depends on unknown task T9"],
    budget: { limit: 1000, used: 10 },
    previous: { answers: { scope: "journal" } },
  });
  assert.deepEqual([c.kind, c.escalation, c.resume_to, c.agent], [
    "recovery",
    "plan",
    "planning",
    "orchestrator",
  ]);
  assert.deepEqual(c.questions.map((q) => q.id), ["guidance", "action", "model"]);
  assert.deepEqual(c.questions[1].choices, [...PLAN_ACTIONS]);
  assert.deepEqual(c.findings, [{
    rule: "plan_invalid",
    level: "error",
    message: "task T1 depends on unknown task T9",
  }]);
  assert.deepEqual(c.previous, { answers: { scope: "journal" } }, "earlier answers are kept");
});
