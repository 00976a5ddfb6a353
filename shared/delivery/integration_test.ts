import assert from "node:assert/strict";
import { closeSharedShadows, sharedShadow } from "../shadow/mod.ts";
import { BASE_SCHEMA_PATH, checkDeliveredConfig, validateIntegration } from "./integration.ts";
import { orderMigrations } from "./migration_order.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

function migrations(tamper: (sql: string) => string = (s) => s) {
  return orderMigrations(tradeJournalRun()).map((m) => ({
    path: m.path,
    up: tamper(m.up),
    down: m.down,
  }));
}

// The shared PGlite shadow: the same sessions the agents' validator gets.
const shadow = () => sharedShadow("pglite");
const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "on PGlite the trade journal applies from scratch, its pgTAP tests pass and the rollback restores the schema",
  ...sanitizers,
  fn: async () => {
    const { report, tests } = await validateIntegration(await shadow(), {
      migrations: migrations(),
    });
    assert.equal(report.backend, "pglite");
    assert.deepEqual(report.migrations.map((m) => [m.ok, m.error]), [
      [true, null],
      [true, null],
      [true, null],
      [true, null],
    ]);
    assert.deepEqual(
      report.tests.map((t) => [t.path, t.ok, t.error, t.failures]),
      tests.map((t) => [t.path, true, null, []]),
    );
    assert.equal(tests.length, 5);
    assert.ok(report.fixtures.every((f) => f.ok), JSON.stringify(report.fixtures));
    for (const test of report.tests) assert.ok(test.planned >= 15, `${test.path}: ${test.planned}`);
    assert.deepEqual(report.rollback?.ok, true, report.rollback?.detail);
    assert.equal(report.ok, true);
  },
});

Deno.test({
  name: "on PGlite an UPDATE policy without a SELECT policy fails the owner's update test",
  ...sanitizers,
  fn: async () => {
    const noSelect = (sql: string) =>
      sql.replace(
        `create policy "owners read their profile" on public.profiles
  for select to authenticated using (id = (select auth.uid()));`,
        "",
      );
    const { report } = await validateIntegration(await shadow(), {
      migrations: migrations(noSelect),
    });
    assert.equal(report.ok, false);
    const profiles = report.tests.find((t) => t.path.endsWith("/profiles.test.sql"))!;
    // The structure is what was delivered; only the behaviour shows the update does nothing.
    assert.equal(profiles.failed, 1, profiles.failures.join("\n"));
    assert.match(
      profiles.failures[0],
      /the owner can update their own row\n[^]*have: 0\n[^]*want: 1/,
    );
  },
});

Deno.test({
  name:
    "on PGlite the project's schema applies first, and a statement that reaches outside is refused before anything runs",
  ...sanitizers,
  fn: async () => {
    const { report } = await validateIntegration(await shadow(), {
      baseSql: "create table public.legacy (id bigint primary key);\n" +
        "copy public.legacy to program 'touch /tmp/never';\n",
      migrations: migrations(),
    });
    assert.equal(report.ok, false);
    assert.equal(report.migrations[0].path, BASE_SCHEMA_PATH);
    assert.match(report.migrations[0].error!, /^line 2: refused: /);
    assert.ok(report.migrations.slice(1).every((m) => !m.ok));
    assert.deepEqual(report.tests, []);
  },
});

Deno.test({
  name:
    "on PGlite a DO block's COPY … TO PROGRAM is refused by the role's privileges and the finding says why",
  ...sanitizers,
  fn: async () => {
    const { report } = await validateIntegration(await shadow(), {
      baseSql: `do $$ begin execute 'copy (select 1) to program ''true'''; end $$;`,
      migrations: migrations(),
    });
    assert.equal(report.ok, false);
    assert.match(report.migrations[0].error!, /permission denied.*external program/i);
  },
});

Deno.test({
  name: "on PGlite a body over the statement cap runs nothing and says so",
  ...sanitizers,
  fn: async () => {
    const { report } = await validateIntegration(await shadow(), {
      baseSql: "select 1;\n".repeat(50),
      migrations: migrations(),
      limits: { maxStatements: 40 },
    });
    assert.equal(report.ok, false);
    assert.match(report.migrations[0].error!, /at most 40 statements and .*; nothing was run$/);
  },
});

Deno.test({ name: "close the shared shadows", ...sanitizers, fn: closeSharedShadows });

Deno.test("the merged result's config.toml is checked against the delivered functions; findings name the delivered files", async () => {
  const run = tradeJournalRun();
  // The trade journal as delivered: its function reads only what the platform and its env list give.
  assert.deepEqual(await checkDeliveredConfig(run.artifacts), []);
  const deployment = run.tasks.find((t) => t.agent === "deployment")!;
  const config = {
    task_id: deployment.id,
    kind: "deploy_config",
    path: "supabase/config.toml",
    content:
      "[functions.trade-stats]\nverify_jwt = true\n\n[functions.trade-report]\nverify_jwt = true\n",
    meta: {},
    ordinal: 99,
  };
  const found = await checkDeliveredConfig([...run.artifacts, config]);
  assert.deepEqual(found.map((f) => [f.rule, f.level, f.file, f.line]), [
    ["deploy_config_unknown_function", "error", "supabase/config.toml", 4],
  ]);
  assert.match(found[0].message, /\[functions\.trade-report\] names no delivered function/);
  // A variable the function reads that nobody declared names the function's delivered source.
  const reads = run.artifacts.map((a) =>
    a.path === "supabase/functions/trade-stats/index.ts"
      ? {
        ...a,
        content: a.content.replace(
          "Deno.serve(",
          'const key = Deno.env.get("FX_KEY");\nDeno.serve(',
        ),
      }
      : a
  );
  assert.deepEqual((await checkDeliveredConfig(reads)).map((f) => [f.rule, f.file]), [
    ["function_env_undeclared", "supabase/functions/trade-stats/index.ts"],
  ]);
});
