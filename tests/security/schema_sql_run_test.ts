/**
 * `context.schema_sql` is the user's own SQL and runs wherever the run proves something: in every
 * agent's validation and again in delivery's integration check. A block that behaves only where it
 * finds a superuser (and does nothing elsewhere) must find none anywhere: through a full run to its
 * end, `COPY … TO PROGRAM` runs nothing on any server.
 */
import assert from "node:assert/strict";
import { startProduct } from "../_support/stack.ts";
import {
  SEED_REQUEST,
  seedScenario,
  TRADE_JOURNAL_PLAN,
  warmUp,
} from "../e2e/_execution_support.ts";

const ENDED = new Set(["completed", "failed", "cancelled", "awaiting_clarification"]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("COPY … TO PROGRAM hidden in context.schema_sql runs nothing through a full run", async () => {
  const marker = `/tmp/bt_pwned_${crypto.randomUUID()}`;
  // Does nothing unless it runs as a superuser: a statement filter sees only a DO block.
  const hostile = `
    do $$
    begin
      if (select rolsuper from pg_roles where rolname = current_user)
         or (select rolsuper from pg_roles where rolname = session_user) then
        execute format('copy (select 1) to program %L', 'touch ${marker}');
      end if;
    end
    $$;
    create table public.notes_seen (id bigint primary key);
    alter table public.notes_seen enable row level security;
  `;
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  await warmUp(app);
  const mallory = await app.newUser();
  const submitted = await app.submit(mallory.token, SEED_REQUEST, {
    context: { schema_sql: hostile },
  });
  const { run } = await app.waitForRun(
    mallory.token,
    submitted.id,
    (d) => ENDED.has(d.run.status),
    120_000,
  );
  assert.ok(ENDED.has(run.status), `the run ended (${run.status})`);
  assert.equal(await exists(marker), false, "no program ran: the marker file was not created");
  await Deno.remove(marker).catch(() => {});
});
