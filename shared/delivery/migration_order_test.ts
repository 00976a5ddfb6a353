import assert from "node:assert/strict";
import { migrationVersion, orderMigrations, taskOrder } from "./migration_order.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

Deno.test("tasks come in dependency order, ties by key with T10 after T9", () => {
  const tasks = [
    { key: "T10", depends_on: [] },
    { key: "T2", depends_on: ["T3"] },
    { key: "T3", depends_on: [] },
    { key: "T9", depends_on: [] },
    { key: "T1", depends_on: ["T10"] },
  ];
  assert.deepEqual(taskOrder(tasks).map((t) => t.key), ["T3", "T2", "T9", "T10", "T1"]);
});

Deno.test("migration versions are 14 digits, one second apart, counted from the run's creation", () => {
  assert.equal(migrationVersion("2026-11-25T14:30:00.999Z", 0), "20261125143000");
  assert.equal(migrationVersion("2026-11-25T14:30:00.999Z", 1), "20261125143001");
  assert.equal(migrationVersion("2026-12-31T23:59:59Z", 1), "20270101000000");
  assert.equal(migrationVersion(new Date("2026-01-02T03:04:05Z"), 0), "20260102030405");
});

Deno.test("the trade journal's migrations follow the plan, named for the Supabase CLI", () => {
  const ordered = orderMigrations(tradeJournalRun());
  assert.deepEqual(ordered.map((m) => m.path), [
    "supabase/migrations/20261125143000_create_profiles.sql",
    "supabase/migrations/20261125143001_create_positions_and_trades.sql",
    "supabase/migrations/20261125143002_create_tags.sql",
    "supabase/migrations/20261125143003_add_journal_query_indexes.sql",
  ]);
  assert.deepEqual(ordered.map((m) => m.task.key), ["T1", "T1", "T1", "T2"]);
  assert.equal(ordered[0].down, "drop table public.profiles;\n");
  assert.equal(
    ordered[0].rollbackPath,
    "supabase/rollbacks/20261125143000_create_profiles.down.sql",
  );
  const versions = ordered.map((m) => m.version);
  assert.deepEqual([...versions].sort(), versions);
  assert.equal(new Set(versions).size, versions.length);
});

Deno.test("a dependent task's migrations come after its dependency's, whatever the artifact order", () => {
  const input = tradeJournalRun();
  // The index task listed first and its artifacts given lower ordinals: still applied after T1.
  input.tasks.reverse();
  for (const a of input.artifacts) if (a.task_id === input.tasks[3].id) a.ordinal = -10;
  const names = orderMigrations(input).map((m) => m.name);
  assert.deepEqual(names, [
    "create_profiles",
    "create_positions_and_trades",
    "create_tags",
    "add_journal_query_indexes",
  ]);
});

Deno.test("a migration file that already carries a version is renamed, and name clashes get a suffix", () => {
  const input = tradeJournalRun();
  const t5 = input.tasks.find((t) => t.key === "T5")!;
  input.artifacts.push(
    {
      task_id: t5.id,
      kind: "migration",
      path: "supabase/migrations/20240101000000_create_tags.sql",
      content: "select 1;",
      meta: { down: "select 2;" },
      ordinal: 99,
    },
  );
  const last = orderMigrations(input).at(-1)!;
  assert.equal(last.path, "supabase/migrations/20261125143004_create_tags_2.sql");
  assert.equal(last.down, "select 2;");
});
