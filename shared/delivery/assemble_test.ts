import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { DeliveryResult } from "../runs/mod.ts";
import { assembleDeliverable } from "./assemble.ts";
import type { IntegrationOutcome } from "./integration.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

const passedIntegration: IntegrationOutcome = {
  report: {
    ok: true,
    backend: "postgresql",
    duration_ms: 600,
    migrations: [
      {
        path: "supabase/migrations/20261125143000_create_profiles.sql",
        ok: true,
        duration_ms: 7,
        error: null,
      },
    ],
    tests: [{
      path: "supabase/tests/database/profiles.test.sql",
      ok: true,
      planned: 19,
      passed: 19,
      failed: 0,
      failures: [],
      error: null,
    }],
    fixtures: [],
    rollback: {
      ok: true,
      detail: "the 4 down migrations, newest first, restore the starting schema",
    },
  },
  tests: [{
    path: "supabase/tests/database/profiles.test.sql",
    table: "public.profiles",
    content: "begin;\nselect plan(19);\nrollback;\n",
    planned: 19,
    skipped: [],
  }],
};

Deno.test("a run with an unfinished task cannot be assembled", async () => {
  const input = tradeJournalRun();
  input.tasks[2].status = "running";
  await assert.rejects(
    () => assembleDeliverable(input),
    (e) => isAppError(e, "conflict") && /T3 \(running\)/.test(e.message),
  );
});

Deno.test("the deliverable is a Supabase project: README, timestamped migrations, rollbacks, functions, docs", async () => {
  const { files, result } = await assembleDeliverable(tradeJournalRun());
  assert.equal(files[0].path, "README.md");
  assert.deepEqual(files.map((f) => f.path), [
    "README.md",
    "supabase/migrations/20261125143000_create_profiles.sql",
    "supabase/migrations/20261125143001_create_positions_and_trades.sql",
    "supabase/migrations/20261125143002_create_tags.sql",
    "supabase/migrations/20261125143003_add_journal_query_indexes.sql",
    "supabase/rollbacks/20261125143000_create_profiles.down.sql",
    "supabase/rollbacks/20261125143001_create_positions_and_trades.down.sql",
    "supabase/rollbacks/20261125143002_create_tags.down.sql",
    "supabase/rollbacks/20261125143003_add_journal_query_indexes.down.sql",
    "supabase/functions/tests/_env.ts",
    "supabase/functions/tests/trade-stats_test.ts",
    "supabase/functions/trade-stats/index.ts",
    "docs/api.md",
    "docs/indexes.md",
    "docs/policies.md",
    "docs/queries.md",
    "docs/setup.md",
    ".github/workflows/deploy.yml",
  ]);
  assert.equal(result.files, files.length);
  assert.ok(DeliveryResult.safeParse(result).success, "the result fits its schema");
  const migration = files[1];
  assert.match(migration.content, /^-- Profiles: one row per signed-in user/);
  assert.deepEqual(migration.meta, {
    task_key: "T1",
    agent: "db-architect",
    source_path: "supabase/migrations/create_profiles.sql",
    version: "20261125143000",
    name: "create_profiles",
  });
  const api = files.find((f) => f.path === "docs/api.md")!;
  assert.match(api.content, /^# API\n\n### GET \/rest\/v1\/positions/);
  assert.match(api.content, /### GET \/functions\/v1\/trade-stats/);
});

Deno.test("each migration carries its RLS policies and the indexes it creates", async () => {
  const { result } = await assembleDeliverable(tradeJournalRun());
  const [profiles, positions, tags, indexes] = result.sections.migrations;
  assert.deepEqual(profiles.policies.map((p) => [p.name, p.command, p.using]), [
    ["owners read their profile", "select", "id = (select auth.uid())"],
    ["owners create their profile", "insert", null],
    ["owners update their profile", "update", "id = (select auth.uid())"],
  ]);
  // Two policies are documented by the agent; the other six are read off the SQL.
  assert.equal(positions.policies.length, 8);
  assert.ok(
    positions.policies.some((p) =>
      p.name === "owners delete their trades" && p.command === "delete"
    ),
  );
  assert.deepEqual(positions.indexes, [
    "positions_user_id_idx",
    "trades_user_id_idx",
    "trades_position_id_idx",
  ]);
  assert.equal(tags.policies.length, 4);
  assert.deepEqual(indexes.policies, []);
  assert.equal(result.summary.counts.policies, 15);
});

Deno.test("indexes list the query they serve and the migration that creates them", async () => {
  const { result } = await assembleDeliverable(tradeJournalRun());
  const timeline = result.sections.indexes.find((i) => i.name === "trades_user_executed_at_idx")!;
  assert.equal(
    timeline.serves_query,
    "select * from public.trades where user_id = $1 order by executed_at desc limit 50",
  );
  assert.equal(
    timeline.migration_path,
    "supabase/migrations/20261125143003_add_journal_query_indexes.sql",
  );
  assert.equal(timeline.table, "public.trades");
  const fk = result.sections.indexes.find((i) => i.name === "trade_tags_tag_id_idx")!;
  assert.equal(fk.serves_query, null);
  assert.equal(result.sections.indexes.length, 6);
});

Deno.test("each measured index shows both plans and timings, and one that does not help is flagged", async () => {
  const input = tradeJournalRun();
  const plan = (node: string, ms: number, buffers: number, usesIndex: boolean) => ({
    executionMs: ms,
    buffers,
    plan: `${node} (rows=50 loops=1 time=${ms} ms)`,
    usesIndex,
  });
  const optimizer = input.tasks.find((t) => t.agent === "query-optimizer")!;
  optimizer.validation = {
    ...(optimizer.validation as object),
    benchmarks: [{
      query: "trades_user_executed_at_idx",
      index: "trades_user_executed_at_idx",
      sql: "select 1",
      rows: { "public.trades": 50_000 },
      before: plan("Seq Scan on trades", 12.5, 640, false),
      after: plan("Index Scan using trades_user_executed_at_idx on trades", 0.25, 6, true),
      improved: true,
      ms: 40,
    }, {
      query: "positions_open_by_user_idx",
      index: "public.positions_open_by_user_idx",
      sql: "select 1",
      rows: { "public.positions": 50_000 },
      before: plan("Seq Scan on positions", 3, 200, false),
      after: plan("Seq Scan on positions", 3.1, 200, false),
      improved: false,
      ms: 30,
    }],
  };
  const { result, files } = await assembleDeliverable(input);
  assert.ok(DeliveryResult.safeParse(result).success, "the result fits its schema");
  const timeline = result.sections.indexes.find((i) => i.name === "trades_user_executed_at_idx")!;
  assert.deepEqual(timeline.measured?.before, {
    execution_ms: 12.5,
    buffers: 640,
    plan: "Seq Scan on trades (rows=50 loops=1 time=12.5 ms)",
    uses_index: false,
  });
  assert.equal(timeline.measured?.after.uses_index, true);
  const open = result.sections.indexes.find((i) => i.name === "positions_open_by_user_idx")!;
  assert.equal(open.measured?.improved, false);
  const fk = result.sections.indexes.find((i) => i.name === "trade_tags_tag_id_idx")!;
  assert.equal(fk.measured, undefined);

  const readme = files.find((f) => f.path === "README.md")!.content;
  const section = readme.slice(readme.indexOf("### `trades_user_executed_at_idx`"));
  assert.match(
    section,
    /\| Before \(without `trades_user_executed_at_idx`\) \| 12\.5 ms \| 640 \| no \|/,
  );
  assert.match(
    section,
    /\| After \(with `trades_user_executed_at_idx`\) \| 0\.25 ms \| 6 \| yes \|/,
  );
  assert.match(section, /Plan before:\n\n```text\nSeq Scan on trades/);
  assert.match(section, /Plan after:\n\n```text\nIndex Scan using trades_user_executed_at_idx/);
  assert.match(section, /The index pays off \(50\.0× faster\)/);
  const flagged = readme.slice(readme.indexOf("### `positions_open_by_user_idx`"));
  assert.match(flagged.slice(0, flagged.indexOf("\n### ", 5)), /index_no_improvement/);
});

Deno.test("setup names the secrets to set, the functions to deploy and the CLI steps in order", async () => {
  const { result } = await assembleDeliverable(tradeJournalRun());
  const { env_vars, steps } = result.sections.setup;
  const market = env_vars.find((v) => v.name === "MARKET_DATA_API_KEY")!;
  assert.deepEqual(market, {
    name: "MARKET_DATA_API_KEY",
    description: "Key of the market data provider used for unrealised P&L.",
    secret: true,
    provided_by_supabase: false,
    used_by: ["trade-stats"],
  });
  const url = env_vars.find((v) => v.name === "SUPABASE_URL")!;
  assert.equal(url.provided_by_supabase, true);
  assert.equal(
    env_vars.find((v) => v.name === "SUPABASE_ACCESS_TOKEN")!.used_by[0],
    "deployment (CI)",
  );
  assert.deepEqual(steps.map((s) => s.command).filter((c) => c !== null), [
    "supabase link --project-ref <project-ref>",
    "supabase db push",
    "supabase secrets set MARKET_DATA_API_KEY=<value>",
    "supabase functions deploy trade-stats",
    "deno test -A supabase/functions/tests/",
  ]);
  assert.ok(steps.some((s) => s.title.startsWith("Add SUPABASE_ACCESS_TOKEN")));
  assert.deepEqual(result.sections.edge_functions, [{
    name: "trade-stats",
    description: "Returns realised P&L and trade counts per position for the caller.",
    entrypoint: "supabase/functions/trade-stats/index.ts",
    files: ["supabase/functions/trade-stats/index.ts"],
    verify_jwt: true,
    env_vars: ["SUPABASE_URL", "SUPABASE_ANON_KEY", "MARKET_DATA_API_KEY"],
    task_key: "T3",
  }]);
});

Deno.test("notes hold the assumptions, the down migrations newest first and the agents' follow-ups", async () => {
  const { result } = await assembleDeliverable(tradeJournalRun());
  const { notes } = result.sections;
  assert.ok(notes.assumptions.includes("A profile row is created by the app right after sign-up."));
  assert.ok(
    notes.assumptions.includes(
      "One profile per auth user, keyed by the user's id. (T1, db-architect)",
    ),
  );
  assert.deepEqual(notes.rollback.map((r) => r.rollback_path), [
    "supabase/rollbacks/20261125143003_add_journal_query_indexes.down.sql",
    "supabase/rollbacks/20261125143002_create_tags.down.sql",
    "supabase/rollbacks/20261125143001_create_positions_and_trades.down.sql",
    "supabase/rollbacks/20261125143000_create_profiles.down.sql",
  ]);
  assert.ok(notes.future_improvements.some((n) => n.startsWith("Consider partitioning trades")));
  assert.ok(
    notes.future_improvements.some((n) => /not validated together on a shadow database/.test(n)),
  );
});

Deno.test("every file carries the validation evidence of the task that produced it", async () => {
  const { result } = await assembleDeliverable(tradeJournalRun());
  const byPath = new Map(result.validation.evidence.map((e) => [e.path, e]));
  const indexMigration = byPath.get(
    "supabase/migrations/20261125143003_add_journal_query_indexes.sql",
  )!;
  assert.deepEqual(indexMigration.task, {
    ok: true,
    errors: 0,
    warnings: 1,
    findings: ["[warning] index_on_empty_table: planned on synthetic rows (line 2)"],
  });
  assert.equal(byPath.get("docs/setup.md")!.task_key, "T3, T5");
  assert.equal(result.validation.integration, null);
  assert.equal(
    byPath.get("supabase/migrations/20261125143000_create_profiles.sql")!.integration,
    null,
  );
});

Deno.test("with integration evidence, the pgTAP files are delivered and the evidence names the shadow run", async () => {
  const { files, result } = await assembleDeliverable({
    ...tradeJournalRun(),
    validation: passedIntegration,
  });
  const test = files.find((f) => f.path === "supabase/tests/database/profiles.test.sql")!;
  assert.equal(test.kind, "test");
  assert.deepEqual(result.sections.tests, [
    "supabase/functions/tests/_env.ts",
    "supabase/functions/tests/trade-stats_test.ts",
    "supabase/tests/database/profiles.test.sql",
  ]);
  const byPath = new Map(result.validation.evidence.map((e) => [e.path, e]));
  assert.equal(
    byPath.get("supabase/migrations/20261125143000_create_profiles.sql")!.integration,
    "applied from scratch on postgresql in 7 ms",
  );
  assert.equal(
    byPath.get("supabase/tests/database/profiles.test.sql")!.integration,
    "19/19 pgTAP tests passed on postgresql",
  );
  assert.match(
    byPath.get("supabase/rollbacks/20261125143000_create_profiles.down.sql")!.integration!,
    /^rollback verified/,
  );
  assert.ok(result.sections.setup.steps.some((s) => s.command === "supabase test db --linked"));
});

Deno.test("assembling twice gives the same deliverable", async () => {
  assert.deepEqual(
    await assembleDeliverable({ ...tradeJournalRun(), validation: passedIntegration }),
    await assembleDeliverable({ ...tradeJournalRun(), validation: passedIntegration }),
  );
});

Deno.test("paths outside the project are left out, and a later task's file replaces an earlier one", async () => {
  const input = tradeJournalRun();
  const [t1, , , , t5] = input.tasks;
  input.artifacts.push(
    { task_id: t1.id, kind: "other", path: "../etc/passwd", content: "x", meta: {}, ordinal: 50 },
    {
      task_id: t1.id,
      kind: "deploy_config",
      path: "supabase/config.toml",
      content: "a",
      meta: {},
      ordinal: 51,
    },
    {
      task_id: t5.id,
      kind: "deploy_config",
      path: "supabase/config.toml",
      content: "b",
      meta: {},
      ordinal: 52,
    },
  );
  const { files, result } = await assembleDeliverable(input);
  assert.ok(!files.some((f) => f.path.includes("passwd")));
  assert.equal(files.find((f) => f.path === "supabase/config.toml")!.content, "b");
  const notes = result.sections.notes.future_improvements.join("\n");
  assert.match(notes, /Left out "\.\.\/etc\/passwd"/);
  assert.match(notes, /supabase\/config\.toml from T5 replaced the one from T1/);
});

Deno.test("document sections stored one row each as `doc.md#n` are joined back into one document", async () => {
  const plain = await assembleDeliverable(tradeJournalRun());
  const input = tradeJournalRun();
  const seen = new Map<string, number>();
  for (const a of input.artifacts) {
    const key = `${a.task_id} ${a.path}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n > 1) a.path = `${a.path}#${n}`;
  }
  const numbered = await assembleDeliverable(input);
  assert.deepEqual(
    numbered.files.map((f) => [f.path, f.content]),
    plain.files.map((f) => [f.path, f.content]),
  );
});
