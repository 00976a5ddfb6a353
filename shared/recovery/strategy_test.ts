import assert from "node:assert/strict";
import { classifyError, classifyFindings, decideRecovery, type RecoveryInput } from "./mod.ts";

const findings = (rule: string) => [{ rule, level: "error", message: rule, statement: null }];

function input(over: Partial<RecoveryInput> & { rule?: string; agent?: string }): RecoveryInput {
  const agent = over.agent ?? "db-architect";
  return {
    classification: over.classification ??
      classifyFindings(findings(over.rule ?? "syntax_error"), { agent, earlierObjects: [] }),
    task: { key: "T1", agent },
    history: over.history ?? { invalidAttempts: 1, reroutes: [] },
    budget: over.budget ?? { limit: 200_000, used: 10_000, attemptTokens: 3_000 },
    canDecompose: over.canDecompose,
  };
}

Deno.test("an RLS leak is rerouted to security as a handoff", () => {
  const d = decideRecovery(input({ rule: "rls_isolation_leak" }));
  assert.equal(d.strategy, "reroute");
  assert.equal(d.toAgent, "security");
  assert.equal(d.mode, "handoff");
  assert.equal(d.class, "security");
});

Deno.test("an RLS leak in security's own output is retried by security", () => {
  const d = decideRecovery(input({ rule: "rls_isolation_leak", agent: "security" }));
  assert.equal(d.strategy, "retry");
});

Deno.test("a query that misses its index in another agent's output goes to query-optimizer", () => {
  const d = decideRecovery(input({ rule: "index_not_used", agent: "db-architect" }));
  assert.deepEqual([d.strategy, d.toAgent, d.mode], ["reroute", "query-optimizer", "handoff"]);
});

Deno.test("a cross-task apply error goes to the debugger first", () => {
  const classification = classifyFindings(
    [{ rule: "apply_error", level: "error", statement: "create index on positions (ticker)" }],
    { agent: "query-optimizer", earlierObjects: ["positions"] },
  );
  const d = decideRecovery(input({ classification, agent: "query-optimizer" }));
  assert.deepEqual([d.strategy, d.toAgent, d.mode], ["reroute", "debugger", "diagnose"]);
});

Deno.test("a build failure goes to the debugger, then the author", () => {
  const d = decideRecovery(input({ rule: "typecheck_error", agent: "edge-functions" }));
  assert.deepEqual([d.strategy, d.toAgent, d.mode], ["reroute", "debugger", "diagnose"]);
});

Deno.test("a class is rerouted once per task; then the agent retries", () => {
  const d = decideRecovery(input({
    rule: "rls_isolation_leak",
    history: { invalidAttempts: 2, reroutes: ["security"] },
  }));
  assert.equal(d.strategy, "retry");
});

Deno.test("a schema error is retried twice, then escalated", () => {
  assert.equal(
    decideRecovery(input({ history: { invalidAttempts: 1, reroutes: [] } })).strategy,
    "retry",
  );
  assert.equal(
    decideRecovery(input({ history: { invalidAttempts: 2, reroutes: [] } })).strategy,
    "retry",
  );
  const d = decideRecovery(input({ history: { invalidAttempts: 3, reroutes: [] } }));
  assert.equal(d.strategy, "escalate");
  assert.equal(d.escalation, "validation");
});

Deno.test("after its retries a task is split when the caller can, once", () => {
  const h = { invalidAttempts: 3, reroutes: [] };
  assert.equal(decideRecovery(input({ history: h, canDecompose: true })).strategy, "decompose");
  assert.equal(
    decideRecovery(input({ history: { ...h, decomposed: true }, canDecompose: true })).strategy,
    "escalate",
  );
});

Deno.test("a budget that cannot pay for the next strategy stops it before it starts", () => {
  const d = decideRecovery(input({ budget: { limit: 10_000, used: 9_000, attemptTokens: 3_000 } }));
  assert.equal(d.strategy, "escalate");
  assert.equal(d.escalation, "budget");
  assert.match(d.reason, /retry would need about 3000 tokens but only 1000/);
  const diag = decideRecovery(input({
    classification: classifyFindings(findings("typecheck_error"), {
      agent: "edge-functions",
      earlierObjects: [],
    }),
    agent: "edge-functions",
    budget: { limit: 10_000, used: 5_000, attemptTokens: 3_000 },
  }));
  assert.equal(diag.escalation, "budget", "diagnose costs two attempts");
});

Deno.test("a money budget that cannot pay for the next strategy stops it before it starts", () => {
  const money = { limit: 200_000, used: 10_000, attemptTokens: 3_000, limitUsd: 0.01 };
  // Tokens are plentiful; $0.004 of the $0.01 remain, a retry costs one attempt ($0.0035).
  const retry = decideRecovery(input({
    budget: { ...money, usedUsd: 0.006, attemptCostUsd: 0.0035 },
  }));
  assert.deepEqual([retry.strategy, retry.costUsd], ["retry", 0.0035]);
  const stopped = decideRecovery(input({
    budget: { ...money, usedUsd: 0.0075, attemptCostUsd: 0.0035 },
  }));
  assert.deepEqual([stopped.strategy, stopped.escalation], ["escalate", "budget"]);
  assert.match(
    stopped.reason,
    /retry would cost about \$0\.0035 but only \$0\.0025 of the \$0\.01/,
  );
  // A split costs three attempts: $0.0105 is more than the $0.01 left of a $0.02 budget.
  const split = decideRecovery(input({
    history: { invalidAttempts: 3, reroutes: [] },
    canDecompose: true,
    budget: { ...money, limitUsd: 0.02, usedUsd: 0.01, attemptCostUsd: 0.0035 },
  }));
  assert.deepEqual([split.strategy, split.escalation], ["escalate", "budget"]);
  assert.match(split.reason, /decompose would cost about \$0\.011/);
  // No money budget, or no known price: tokens alone decide.
  assert.equal(
    decideRecovery(input({ budget: { ...money, limitUsd: null, usedUsd: 5, attemptCostUsd: 1 } }))
      .strategy,
    "retry",
  );
  assert.equal(
    decideRecovery(input({ budget: { ...money, usedUsd: 0.0099, attemptCostUsd: null } }))
      .strategy,
    "retry",
  );
});

Deno.test("a model outage is redelivered while deliveries remain, then escalated as model", () => {
  const c = classifyError("llm_unavailable");
  assert.equal(
    decideRecovery(input({ classification: c, history: { invalidAttempts: 0, reroutes: [] } }))
      .strategy,
    "retry",
  );
  const d = decideRecovery(input({
    classification: c,
    history: { invalidAttempts: 0, reroutes: [], deliveriesLeft: false },
  }));
  assert.deepEqual([d.strategy, d.escalation], ["escalate", "model"]);
});

Deno.test("invalid SQL in another agent's output is retried by its author, not handed off", () => {
  const d = decideRecovery(input({ rule: "syntax_error", agent: "security" }));
  assert.equal(d.strategy, "retry");
});
