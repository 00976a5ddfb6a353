import assert from "node:assert/strict";
import { RULES } from "../validation/mod.ts";
import { ERROR_CODES } from "../errors/mod.ts";
import {
  CLASS_OWNER,
  classifyError,
  classifyFindings,
  classOfRule,
  FAILURE_CLASSES,
  RULE_CLASS,
} from "./mod.ts";

const err = (rule: string, statement: string | null = null) => ({
  rule,
  level: "error",
  message: `${rule} happened`,
  statement,
});

Deno.test("every validator rule that can fail a validation has a class", () => {
  const failing = Object.entries(RULES).filter(([, r]) => r.level === "error").map(([n]) => n);
  for (const rule of failing) assert.ok(classOfRule(rule), `${rule} has no class`);
  for (const rule of Object.keys(RULE_CLASS)) assert.ok(rule in RULES, `${rule} is not a rule`);
});

Deno.test("the table follows the seed's Phase 6.1", () => {
  const rows: [string, string][] = [
    ["syntax_error", "schema"], // Invalid SQL → db-architect fix
    ["index_not_used", "query"], // Slow query → query-optimizer
    ["statement_timeout", "query"],
    ["rls_isolation_leak", "security"], // RLS bypass → security (critical)
    ["rls_disabled_in_public", "security"],
    ["typecheck_error", "function_build"], // Build failed → debugger + deployment
  ];
  for (const [rule, cls] of rows) assert.equal(classOfRule(rule), cls, rule);
  assert.equal(CLASS_OWNER.schema.specialist, "db-architect");
  assert.equal(CLASS_OWNER.query.specialist, "query-optimizer");
  assert.equal(CLASS_OWNER.security.specialist, "security");
  assert.equal(CLASS_OWNER.integration.diagnose, true);
  assert.equal(CLASS_OWNER.deployment.specialist, "deployment");
  assert.equal(CLASS_OWNER.deployment.diagnose, true);
  assert.deepEqual(Object.keys(CLASS_OWNER).sort(), [...FAILURE_CLASSES].sort());
});

Deno.test("error codes: the model, the budget and the platform each have their class", () => {
  assert.equal(classifyError("llm_unavailable").class, "model");
  assert.equal(classifyError("llm_invalid_output").class, "model");
  assert.equal(classifyError("plan_invalid").class, "model");
  assert.equal(classifyError("budget_exceeded").class, "budget");
  assert.equal(classifyError("integration_failed").class, "integration");
  assert.equal(classifyError("database_error").class, "infrastructure");
  assert.equal(classifyError("something_new").class, "infrastructure");
  for (const code of Object.keys(ERROR_CODES)) assert.ok(classifyError(code).class);
});

Deno.test("an RLS leak in db-architect's output is a security failure", () => {
  const c = classifyFindings(
    [err("rls_isolation_leak"), { rule: "no_primary_key", level: "info" }],
    {
      agent: "db-architect",
      earlierObjects: [],
    },
  );
  assert.equal(c.class, "security");
  assert.deepEqual(c.causes, ["rls_isolation_leak"]);
});

Deno.test("an apply error on the task's own schema is a schema error; on an earlier task's table it is cross-task", () => {
  const own = classifyFindings([err("apply_error", "create index on public.notes (x)")], {
    agent: "query-optimizer",
    earlierObjects: ["public.positions"],
  });
  assert.equal(own.class, "schema");
  const cross = classifyFindings(
    [err("apply_error", "create index trades_x_idx on public.positions (ticker)")],
    { agent: "query-optimizer", earlierObjects: ["public.positions"] },
  );
  assert.equal(cross.class, "integration");
});

Deno.test("a schema error outranks a security finding: what does not apply cannot be fixed on top", () => {
  const c = classifyFindings([err("rls_isolation_leak"), err("syntax_error")], {
    agent: "db-architect",
    earlierObjects: [],
  });
  assert.equal(c.class, "schema");
});

Deno.test("a build failure in a deployment task's output is a deployment failure", () => {
  const c = classifyFindings([err("typecheck_error")], { agent: "deployment", earlierObjects: [] });
  assert.equal(c.class, "deployment");
  const f = classifyFindings([err("typecheck_error")], {
    agent: "edge-functions",
    earlierObjects: [],
  });
  assert.equal(f.class, "function_build");
});
