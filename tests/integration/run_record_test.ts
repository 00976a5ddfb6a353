/**
 * The one run record (shared/runs `RunRecord`) against the real product database: a run row as
 * postgres.js returns it (bigint counts as strings, numeric dollars, timestamptz as Date, the
 * documents the state machine writes) is read by `loadRunRecord` into the typed record every worker
 * uses, keeping what the state machine adds that no request schema knows; a row that does not fit
 * fails loudly instead of reaching a worker half-read.
 */
import assert from "node:assert/strict";
import { loadRunRecord, RunRecord } from "../../shared/runs/mod.ts";
import { parseRow } from "../../shared/runs/rows.ts";
import { freshDatabase } from "../_support/db.ts";

Deno.test("a stored run reads as one typed record, with the state machine's own fields kept", async () => {
  await using db = await freshDatabase();
  const { sql } = db;
  const owner = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
  const [{ id }] = await sql<{ id: string }[]>`
    insert into backend_team.runs (owner_id, request, context, options, token_budget)
    values (${owner}, 'A trade journal', ${
    sql.json({ schema_sql: "create table public.legacy (id bigint primary key);" })
  }::jsonb,
            ${sql.json({ token_budget: 50_000, max_parallel: 2 })}::jsonb, 50000)
    returning id`;
  await sql`select backend_team.transition_run(${id}::uuid, 'understanding')`;
  await sql`select backend_team.transition_run(${id}::uuid, 'awaiting_clarification', ${
    sql.json({
      clarification: {
        kind: "recovery",
        task_key: "T2",
        questions: [{ id: "action", kind: "choice" }],
        answers: null,
        resume_to: "understanding",
      },
    })
  }::jsonb)`;
  await sql`
    update backend_team.runs
       set options = options || '{"agent_models": {"security": "backup-model"}}'::jsonb
     where id = ${id}`;
  await sql`select backend_team.record_usage(${id}::uuid, 1200, 300, 0.00072)`;

  const run = await loadRunRecord(sql, id);
  assert.ok(run);
  assert.equal(run.id, id);
  assert.equal(run.owner_id, owner);
  assert.equal(run.status, "awaiting_clarification");
  assert.equal(run.request, "A trade journal");
  assert.equal(run.context.schema_sql, "create table public.legacy (id bigint primary key);");
  assert.deepEqual(run.options, {
    token_budget: 50_000,
    max_parallel: 2,
    agent_models: { security: "backup-model" },
  });
  assert.equal(run.clarification?.task_key, "T2");
  assert.equal(run.clarification?.resume_to, "understanding");
  assert.equal(run.clarification?.kind, "recovery");
  assert.deepEqual(
    [run.token_budget, run.prompt_tokens, run.completion_tokens, run.cost_usd],
    [50_000, 1200, 300, 0.00072],
    "bigint and numeric columns are numbers",
  );
  assert.equal(typeof run.created_at, "string");
  assert.ok(!Number.isNaN(Date.parse(run.created_at)));
  assert.equal(run.understanding, null);
  assert.equal(run.plan, null);

  assert.equal(await loadRunRecord(sql, crypto.randomUUID()), undefined);
});

Deno.test("a run row that does not fit the record fails loudly, naming the schema", () => {
  const row = {
    id: crypto.randomUUID(),
    owner_id: crypto.randomUUID(),
    status: "sleeping",
    request: "x",
    context: {},
    options: {},
    understanding: null,
    plan: null,
    clarification: null,
    token_budget: "200000",
    prompt_tokens: "0",
    completion_tokens: "0",
    cost_usd: null,
    created_at: new Date(),
  };
  assert.throws(() => parseRow(RunRecord, row), /a RunRecord row does not match its schema/);
  assert.equal(parseRow(RunRecord, { ...row, status: "received" }).token_budget, 200_000);
});
