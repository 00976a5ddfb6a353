import assert from "node:assert/strict";
import { attributeIntegrationFailure, changesTable, testSubjects } from "./attribute.ts";

const create = (t: string) => `create table public.${t} (id uuid primary key, user_id uuid);`;
const migrations = [
  {
    path: "m/1_tables.sql",
    up: create("positions") + create("trades"),
    task: "T1",
    agent: "db-architect",
  },
  {
    path: "m/2_policy.sql",
    up:
      `create policy "everyone reads" on public.positions for select to authenticated using (true);`,
    task: "T2",
    agent: "security",
  },
  {
    path: "m/3_index.sql",
    up: "create index trades_x on public.trades (x);",
    task: "T3",
    agent: "query-optimizer",
  },
];
const ok = { migrations: [], tests: [] };

Deno.test("a migration that does not apply is attributed to the task that produced the file", () => {
  const causes = attributeIntegrationFailure({
    ...ok,
    migrations: [{ path: "m/3_index.sql", ok: false, error: 'line 1: column "x" does not exist' }],
  }, migrations);
  assert.deepEqual(causes.map((c) => [c.task, c.agent, c.rule]), [[
    "T3",
    "query-optimizer",
    "origin",
  ]]);
  assert.match(causes[0].findings[0].message, /column "x" does not exist/);
});

Deno.test("a failing pgTAP file is attributed to the last task that changed its subject table", () => {
  const causes = attributeIntegrationFailure({
    ...ok,
    tests: [{
      path: "supabase/tests/database/positions.test.sql",
      ok: false,
      failures: ["not ok 12 - another user sees none of the owner's rows"],
      error: null,
    }],
  }, migrations);
  assert.deepEqual(causes.map((c) => [c.task, c.rule]), [["T2", "subject"]]);
  assert.match(causes[0].findings[0].message, /public\.positions.*another user/);
});

Deno.test("a table nobody changed after it was created is attributed to its owner", () => {
  const causes = attributeIntegrationFailure({
    ...ok,
    tests: [{
      path: "supabase/tests/database/tags.test.sql",
      ok: false,
      failures: [],
      error: "boom",
    }],
  }, [...migrations, { path: "m/4.sql", up: create("tags"), task: "T4", agent: "db-architect" }]);
  assert.deepEqual(causes.map((c) => c.task), ["T4"]);
});

Deno.test("a failure no rule attributes falls on every task that delivered a migration", () => {
  const causes = attributeIntegrationFailure({
    ...ok,
    tests: [{
      path: "supabase/tests/database/nothing.test.sql",
      ok: false,
      failures: ["x"],
      error: null,
    }],
  }, migrations);
  assert.deepEqual(causes.map((c) => [c.task, c.rule]), [
    ["T1", "whole_result"],
    ["T2", "whole_result"],
    ["T3", "whole_result"],
  ]);
});

Deno.test("test subjects and table changes are read from names and SQL", () => {
  assert.deepEqual(testSubjects("supabase/tests/database/positions.test.sql"), [
    "public.positions",
  ]);
  assert.deepEqual(testSubjects("supabase/tests/database/trade_tags.test.sql"), [
    "public.trade_tags",
    "trade.tags",
  ]);
  assert.equal(
    changesTable("alter table public.positions enable row level security;", "public.positions"),
    true,
  );
  assert.equal(
    changesTable("create table public.positions_archive (id int);", "public.positions"),
    false,
  );
});

Deno.test("a deployment configuration finding falls on the task that wrote the file it names", () => {
  const files = [
    ...migrations.map((m) => ({ path: m.path, task: m.task, agent: m.agent })),
    { path: "supabase/functions/notes/index.ts", task: "T4", agent: "edge-functions" },
    { path: "supabase/config.toml", task: "T5", agent: "deployment" },
  ];
  const causes = attributeIntegrationFailure(
    {
      ...ok,
      config: [
        {
          rule: "deploy_config_unknown_function",
          level: "error",
          file: "supabase/config.toml",
          message: "[functions.notez] names no delivered function",
        },
        {
          rule: "function_env_undeclared",
          level: "error",
          file: "supabase/functions/notes/index.ts",
          message: "notes reads FX_KEY",
        },
        { rule: "some_warning", level: "warn", file: "supabase/config.toml", message: "ignored" },
      ],
    },
    migrations,
    files,
  );
  assert.deepEqual(causes.map((c) => [c.task, c.agent, c.rule, c.findings.length]), [
    ["T5", "deployment", "origin", 1],
    ["T4", "edge-functions", "origin", 1],
  ]);
  assert.match(causes[0].findings[0].message, /deploy_config_unknown_function.*notez/);
});
