import assert from "node:assert/strict";
import { platformFiles } from "../../supabase/local/platform.ts";
import { validateIntegration } from "./integration.ts";
import { orderMigrations } from "./migration_order.ts";
import { pgliteDeliveryShadow } from "./pglite_shadow.ts";
import { tradeJournalRun } from "./testdata/trade_journal.ts";

function migrations(tamper: (sql: string) => string = (s) => s) {
  return orderMigrations(tradeJournalRun()).map((m) => ({
    path: m.path,
    up: tamper(m.up),
    down: m.down,
  }));
}

Deno.test("on PGlite the trade journal applies from scratch, its pgTAP tests pass and the rollback restores the schema", async () => {
  const shadow = pgliteDeliveryShadow({ platformSql: await platformFiles() });
  const { report, tests } = await validateIntegration(shadow, { migrations: migrations() });
  assert.equal(report.backend, "pglite");
  assert.deepEqual(report.migrations.map((m) => m.ok), [true, true, true, true]);
  assert.deepEqual(
    report.tests.map((t) => [t.path, t.ok, t.failures]),
    tests.map((t) => [t.path, true, []]),
  );
  assert.equal(tests.length, 5);
  assert.ok(report.fixtures.every((f) => f.ok), JSON.stringify(report.fixtures));
  assert.deepEqual(report.rollback?.ok, true);
  assert.equal(report.ok, true);
});

Deno.test("on PGlite an UPDATE policy without a SELECT policy fails the owner's update test", async () => {
  const shadow = pgliteDeliveryShadow({ platformSql: await platformFiles() });
  const noSelect = (sql: string) =>
    sql.replace(
      `create policy "owners read their profile" on public.profiles
  for select to authenticated using (id = (select auth.uid()));`,
      "",
    );
  const { report } = await validateIntegration(shadow, { migrations: migrations(noSelect) });
  assert.equal(report.ok, false);
  const profiles = report.tests.find((t) => t.path.endsWith("/profiles.test.sql"))!;
  // The structure is what was delivered; only the behaviour shows the update silently does nothing.
  assert.equal(profiles.failed, 1, profiles.failures.join("\n"));
  assert.match(
    profiles.failures[0],
    /the owner can update their own row\n[^]*have: 0\n[^]*want: 1/,
  );
});
