import assert from "node:assert/strict";
import type { Plan } from "../plan/mod.ts";
import { RULES } from "../validation/finding.ts";
import {
  accumulate,
  endpointsOf,
  gateFailureText,
  gatesOf,
  handoffOf,
  judgeGates,
  responsibleFor,
  SUITE_RULES,
  suitesOf,
  withGates,
} from "./mod.ts";

const PLAN: Plan = {
  goal: "g",
  strategy: "sequential",
  tasks: [
    {
      id: "T1",
      agent: "db-architect",
      title: "t",
      input: "i",
      output: ["m"],
      depends_on: [],
      tables: [],
    },
    {
      id: "T2",
      agent: "security",
      title: "t",
      input: "i",
      output: ["m"],
      depends_on: ["T1"],
      tables: [],
    },
    {
      id: "T3",
      agent: "api-data",
      title: "t",
      input: "i",
      output: ["m"],
      depends_on: ["T2"],
      tables: [],
    },
  ],
  checkpoints: [
    { after: "T1", validate: ["indexes"] },
    { after: "T2", validate: ["RLS isolates users", "schema applies and rolls back"] },
  ],
  contracts: [{
    name: "positions_api",
    producer: "T1",
    consumers: ["T3"],
    description: "positions(id, symbol)",
  }],
  integration: [],
};

const MIGRATIONS = [
  {
    file: "create_positions.sql",
    up:
      "create table public.positions (id bigint primary key, user_id uuid references auth.users);",
    task: "T1",
  },
  {
    file: "positions_policies.sql",
    up: "alter table public.positions enable row level security;",
    task: "T2",
  },
];

Deno.test("suites: names, sentences naming suites, and sentences naming none (schema)", () => {
  assert.deepEqual(suitesOf({ validate: ["rls", "indexes"] }), ["rls", "indexes"]);
  assert.deepEqual(suitesOf({ validate: ["RLS isolates users"] }), ["rls"]);
  assert.deepEqual(suitesOf({ validate: ["EXPLAIN uses the new index"] }), ["indexes"]);
  assert.deepEqual(suitesOf({ validate: ["relationships correct"] }), ["schema"]);
  assert.deepEqual(suitesOf({ validate: ["the function type-checks"] }), ["types", "functions"]);
  assert.deepEqual(suitesOf({ validate: ["types", "schema applies", "types"] }), [
    "schema",
    "types",
  ]);
});

Deno.test("every suite names only validator rules, and every failing rule is in a suite", () => {
  const all = new Set<string>();
  for (const [suite, rules] of Object.entries(SUITE_RULES)) {
    for (const r of [...rules.fails, ...rules.reports]) {
      assert.ok(r in RULES, `${suite}: ${r} is not a rule`);
      all.add(r);
    }
  }
  const failing = Object.entries(RULES).filter(([, r]) => r.level === "error").map(([n]) => n)
    .filter((r) => r !== "contract_violation"); // a contract's rule, not a suite's
  for (const r of failing) assert.ok(all.has(r), `${r} is in no suite`);
});

Deno.test("a task's gates: the checkpoints after it and the contracts it consumes", () => {
  const t1 = gatesOf(PLAN, "T1");
  assert.deepEqual(t1.checkpoints.map((c) => [c.index, c.suites]), [[0, ["indexes"]]]);
  assert.deepEqual(t1.contracts, []);
  const t2 = gatesOf(PLAN, "T2");
  assert.deepEqual(t2.checkpoints.map((c) => [c.index, c.suites]), [[1, ["schema", "rls"]]]);
  const t3 = gatesOf(PLAN, "T3");
  assert.deepEqual(t3.checkpoints, []);
  assert.deepEqual(t3.contracts.map((c) => [c.name, c.producer, c.producerAgent, c.consumer]), [
    ["positions_api", "T1", "db-architect", "T3"],
  ]);
});

Deno.test("a checkpoint fails on its suites' rules at any level, attributed to the file's task", () => {
  const unindexed = {
    rule: "unindexed_foreign_keys",
    level: "info",
    message: "foreign key positions_user_id_fkey on public.positions has no covering index",
    file: "create_positions.sql",
    object: "public.positions",
  };
  const other = { rule: "rls_enabled_no_policy", level: "info", message: "no policy", file: null };
  const verdict = judgeGates({
    task: "T1",
    gates: gatesOf(PLAN, "T1"),
    findings: [unindexed, other],
    schema: null,
    endpoints: [],
    migrations: MIGRATIONS.slice(0, 1),
  });
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.responsible, ["T1"]);
  const [f] = verdict.findings;
  assert.equal(f.level, "error");
  assert.equal(f.task, "T1");
  assert.match(f.message, /^checkpoint after T1 \(indexes\): foreign key/);
  assert.deepEqual(verdict.events.map((e) => e.type), ["checkpoint.failed"]);
  assert.deepEqual(verdict.events[0].body.responsible, ["T1"]);
  assert.match(
    gateFailureText(verdict, "T1"),
    /checkpoint after T1 \(indexes\) failed: unindexed_foreign_keys in T1's output/,
  );

  const merged = withGates({ ok: true, errors: 0, warnings: 0, findings: [other] }, verdict);
  assert.equal(merged.ok, false);
  assert.equal(merged.errors, 1);
  assert.equal(merged.stage, "checkpoint");
  assert.equal(merged.findings.length, 2);
  assert.equal(merged.checkpoints?.[0].ok, false);
});

Deno.test("a passing checkpoint is announced with its report-only findings counted", () => {
  const verdict = judgeGates({
    task: "T2",
    gates: gatesOf(PLAN, "T2"),
    findings: [{ rule: "probe_not_built", level: "info", message: "no owner column", file: null }],
    schema: null,
    endpoints: [],
    migrations: MIGRATIONS,
  });
  assert.equal(verdict.ok, true);
  assert.deepEqual(verdict.events, [{
    type: "checkpoint.passed",
    body: {
      checkpoint: 1,
      after: "T2",
      suites: ["schema", "rls"],
      validate: ["RLS isolates users", "schema applies and rolls back"],
      reports: 1,
      validated: true,
    },
  }]);
  assert.equal(withGates({ ok: true, errors: 0, findings: [] }, verdict).ok, true);
  assert.equal(withGates({ ok: true, errors: 0, findings: [] }, null).ok, true);
});

Deno.test("attribution: the file's task, else the last task changing the object's table, else the gated task", () => {
  assert.equal(responsibleFor({ file: "positions_policies.sql" }, MIGRATIONS, "T9"), "T2");
  assert.equal(
    responsibleFor({ file: null, object: "public.positions.user_id" }, MIGRATIONS, "T9"),
    "T2",
  );
  assert.equal(responsibleFor({ file: null, object: "public.other" }, MIGRATIONS, "T9"), "T9");
  assert.equal(responsibleFor({ file: "project_schema.sql" }, MIGRATIONS, "T9"), "T9");
});

Deno.test("a consumer's endpoints are held to its contracts; no schema means not checked, said so", () => {
  const gates = gatesOf(PLAN, "T3");
  const endpoints = endpointsOf({
    artifacts: {
      endpoints: [{ method: "GET", path: "/rest/v1/positions?select=id,size", kind: "postgrest" }],
    },
  });
  const schema = ["table:public.positions", "column:public.positions.id"];
  const verdict = judgeGates({
    task: "T3",
    gates,
    findings: [],
    schema,
    endpoints,
    migrations: MIGRATIONS,
  });
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.findings.map((f) => [f.rule, f.task, f.gate, f.object]), [
    ["contract_violation", "T3", "contract", "public.positions.size"],
  ]);
  assert.equal(verdict.events[0].type, "contract.failed");
  assert.match(
    gateFailureText(verdict, "T3"),
    /contract "positions_api" from T1 \(db-architect\) broken by T3: public\.positions\.size not in the schema/,
  );

  const unchecked = judgeGates({
    task: "T3",
    gates,
    findings: [],
    schema: null,
    schemaNote: "no schema",
    endpoints,
    migrations: [],
  });
  assert.equal(unchecked.ok, true);
  assert.deepEqual(unchecked.events, []);
  assert.deepEqual([unchecked.contracts[0].checked, unchecked.contracts[0].note], [
    false,
    "no schema",
  ]);
  assert.deepEqual(endpointsOf(null), []);
  assert.deepEqual(endpointsOf({ artifacts: { endpoints: [{ path: 1 }, null, "x"] } }), []);
});

Deno.test("accumulated migrations keep distinct file names; other artifacts pass through", () => {
  const draft = (path: string, kind = "migration") => ({
    kind,
    path,
    content: "select 1;",
    meta: {},
  });
  const { drafts, migrations } = accumulate([
    { task: "T1", draft: draft("supabase/migrations/init.sql") },
    { task: "T2", draft: draft("supabase/migrations/init.sql") },
    { task: "T2", draft: draft("supabase/functions/x/index.ts", "edge_function") },
  ]);
  assert.deepEqual(drafts.map((d) => d.path), [
    "supabase/migrations/init.sql",
    "supabase/migrations/T2_init.sql",
    "supabase/functions/x/index.ts",
  ]);
  assert.deepEqual(migrations.map((m) => [m.file, m.task]), [["init.sql", "T1"], [
    "T2_init.sql",
    "T2",
  ]]);
});

Deno.test("a checkpoint with nothing to judge yet passes and says it validated nothing", () => {
  const verdict = judgeGates({
    task: "T1",
    gates: gatesOf(PLAN, "T1"),
    findings: [],
    validated: false,
    schema: null,
    endpoints: [],
    migrations: [],
  });
  assert.equal(verdict.ok, true);
  assert.equal(verdict.checkpoints[0].validated, false);
  assert.equal(verdict.events[0].body.validated, false);
});

Deno.test("a suite a sentence names fails on errors only; a suite named exactly, at any level", () => {
  assert.deepEqual(gatesOf(PLAN, "T2").checkpoints[0].strict, []);
  assert.deepEqual(gatesOf(PLAN, "T1").checkpoints[0].strict, ["indexes"]);
  const judge = (findings: { rule: string; level: string }[]) =>
    judgeGates({
      task: "T2",
      gates: gatesOf(PLAN, "T2"),
      findings: findings.map((f) => ({ ...f, message: f.rule, file: "positions_policies.sql" })),
      schema: null,
      endpoints: [],
      migrations: MIGRATIONS,
    });
  const warned = judge([{ rule: "rls_owner_access", level: "warn" }]);
  assert.equal(warned.ok, true);
  assert.deepEqual(warned.checkpoints[0].reports.map((r) => r.rule), ["rls_owner_access"]);
  const leak = judge([{ rule: "rls_isolation_leak", level: "error" }]);
  assert.equal(leak.ok, false);
  assert.deepEqual(leak.findings.map((f) => [f.rule, f.task]), [["rls_isolation_leak", "T2"]]);
  // The same warning under a strict `rls` checkpoint fails it.
  const strictPlan = { ...PLAN, checkpoints: [{ after: "T2", validate: ["rls"] }] };
  const strict = judgeGates({
    task: "T2",
    gates: gatesOf(strictPlan, "T2"),
    findings: [{ rule: "rls_owner_access", level: "warn", message: "m", file: null }],
    schema: null,
    endpoints: [],
    migrations: MIGRATIONS,
  });
  assert.equal(strict.ok, false);
});

Deno.test("a handoff's specialist task runs the checkpoints of the task it took over", () => {
  const amended = {
    ...PLAN,
    tasks: [...PLAN.tasks, {
      id: "T4",
      agent: "security" as const,
      title: "t",
      input: "i",
      output: ["m"],
      depends_on: ["T1"],
      tables: [],
    }],
  };
  assert.deepEqual(gatesOf(amended, "T4").checkpoints, []);
  assert.deepEqual(gatesOf(amended, "T4", "T1").checkpoints.map((c) => c.checkpoint.after), ["T1"]);
  const task = (input: Record<string, unknown>, depends_on: string[]) => ({
    task: { input, depends_on } as never,
  });
  assert.equal(handoffOf(task({ recovery_of: "T1" }, ["T1"])), "T1");
  assert.equal(handoffOf(task({ recovery_of: "T1" }, [])), null); // a diagnosis
  assert.equal(handoffOf(task({}, ["T1"])), null);
});
