/**
 * The checkpoint migration's SQL against a real database: gate verdicts are announced only while
 * the attempt they judge is current (and only the four gate event types), and
 * `recover_checkpoint` sends an accepted earlier task back to work with the findings while the gated
 * task waits — or, when another task already built on that output, changes nothing.
 */
import assert from "node:assert/strict";
import type { Sql } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";
import { runChanges } from "../_support/events.ts";

interface Seeded {
  run: string;
  t1: string;
  t2: string;
}

/** A run executing T1 (db-architect, succeeded, one migration) and T2 (security, validating). */
async function seed(sql: Sql, extra: { t3Status?: string } = {}): Promise<Seeded> {
  const owner = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
  const [{ id: run }] = await sql`
    insert into backend_team.runs (owner_id, request, status)
    values (${owner}, 'A trade journal', 'executing') returning id`;
  const task = async (key: string, agent: string, status: string, deps: string[]) => {
    const [{ id }] = await sql`
      insert into backend_team.tasks (run_id, owner_id, key, agent, title, status, attempt, depends_on)
      values (${run}, ${owner}, ${key}, ${agent}, ${key}, ${status}, 1, ${deps}::text[])
      returning id`;
    await sql`
      insert into backend_team.task_attempts (task_id, run_id, owner_id, attempt, status, validation,
                                              finished_at)
      values (${id}, ${run}, ${owner}, 1, ${status === "succeeded" ? "succeeded" : "running"},
              ${sql.json({ ok: true, errors: 0, findings: [] })},
              ${status === "succeeded" ? new Date() : null})`;
    return id as string;
  };
  const t1 = await task("T1", "db-architect", "succeeded", []);
  await sql`
    insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content, meta, ordinal)
    values (${run}, ${t1}, ${owner}, 'migration', 'supabase/migrations/create.sql',
            'create table public.t (id bigint primary key);', '{}'::jsonb, 1)`;
  const t2 = await task("T2", "security", "validating", ["T1"]);
  if (extra.t3Status) await task("T3", "query-optimizer", extra.t3Status, ["T1"]);
  return { run, t1, t2 };
}

const FINDING = {
  rule: "unindexed_foreign_keys",
  level: "error",
  message: "checkpoint after T2 (indexes): an unindexed foreign key",
  file: "create.sql",
};
const DECISION = {
  class: "schema",
  strategy: "retry",
  from: "T1",
  toAgent: null,
  mode: null,
  cost: 200,
  escalation: null,
  reason: "checkpoint after T2 (indexes) failed: unindexed_foreign_keys in T1's output",
};
const RESULT = {
  output: {},
  artifacts: [],
  prompt_tokens: 10,
  completion_tokens: 10,
  validation: { ok: false, errors: 1, findings: [FINDING], stage: "checkpoint" },
  error: { code: "checkpoint_failed", message: "checkpoint after T2 (indexes) failed" },
};

function recover(sql: Sql, s: Seeded, attempt = 1) {
  return sql<{ applied: boolean; outcome: string | null; wake: string[] }[]>`
    select * from backend_team.recover_checkpoint(${s.t2}::uuid, ${attempt}::integer,
      ${sql.json(RESULT)}, 'T1', ${sql.json([FINDING])}, ${sql.json(DECISION)})`;
}

Deno.test("gate verdicts are announced while their attempt is current, and only gate events", async () => {
  await using db = await freshDatabase();
  const s = await seed(db.sql);
  const events = [
    { type: "checkpoint.passed", body: { after: "T2", suites: ["rls"] } },
    { type: "run.status", body: { status: "completed" } }, // not a gate event: ignored
    { type: "contract.failed", body: { contract: "c", producer: "T1", consumer: "T2" } },
  ];
  const [{ n }] = await db.sql<{ n: number }[]>`
    select backend_team.announce_gate_results(${s.t2}::uuid, 1, ${db.sql.json(events)}) as n`;
  assert.equal(n, 2);
  const rows = await runChanges(db.sql, s.run);
  assert.deepEqual(rows.map((r) => [r.type, r.payload.task, r.payload.attempt]), [
    ["checkpoint.passed", "T2", 1],
    ["contract.failed", "T2", 1],
  ]);
  // A stale attempt (or a finished task) announces nothing.
  const [{ n: stale }] = await db.sql<{ n: number }[]>`
    select backend_team.announce_gate_results(${s.t2}::uuid, 7, ${db.sql.json(events)}) as n`;
  const [{ n: done }] = await db.sql<{ n: number }[]>`
    select backend_team.announce_gate_results(${s.t1}::uuid, 1, ${db.sql.json(events)}) as n`;
  assert.deepEqual([stale, done], [0, 0]);
});

Deno.test("recover_checkpoint sends the earlier task back with the findings; the gated task waits", async () => {
  await using db = await freshDatabase();
  const { sql } = db;
  const s = await seed(sql);
  const [r] = await recover(sql, s);
  assert.deepEqual([r.applied, r.outcome, r.wake], [true, "retrying_cause", ["db-architect"]]);
  const tasks = await sql<
    { key: string; status: string; remaining_deps: number; error: unknown }[]
  >`
    select key, status, remaining_deps, error from backend_team.tasks
     where run_id = ${s.run} order by key`;
  assert.deepEqual(tasks.map((t) => [t.key, t.status, t.remaining_deps]), [
    ["T1", "queued", 0],
    ["T2", "pending", 1],
  ]);
  const attempts = await sql<
    { key: string; status: string; validation: Record<string, unknown> }[]
  >`
    select t.key, a.status, a.validation from backend_team.task_attempts a
      join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${s.run} order by t.key`;
  assert.deepEqual(attempts.map((a) => [a.key, a.status]), [["T1", "invalid"], ["T2", "invalid"]]);
  assert.equal(attempts[0].validation.stage, "checkpoint");
  assert.deepEqual(attempts[0].validation.findings, [FINDING]);
  assert.deepEqual((attempts[0].validation.task_validation as { ok: boolean }).ok, true);
  const [{ n: artifacts }] = await sql<{ n: number }[]>`
    select count(*)::int as n from backend_team.artifacts where task_id = ${s.t1}`;
  assert.equal(artifacts, 0, "the withdrawn output is not delivered");
  const [{ n: queued }] = await sql<{ n: number }[]>`
    select count(*)::int as n from pgmq.q_bt_db_architect where message ->> 'task_id' = ${s.t1}`;
  assert.equal(queued, 1);
  const decisions = await sql`
    select class, strategy, from_task, to_task, reason from backend_team.recovery_decisions
     where run_id = ${s.run}`;
  assert.deepEqual(
    decisions.map((d) => [d.class, d.strategy, d.from_task, d.to_task]),
    [["schema", "retry", "T1", "T1"]],
  );
  // The same attempt again (a duplicate worker) changes nothing.
  const [again] = await recover(sql, s);
  assert.equal(again.applied, false);
});

Deno.test("recover_checkpoint leaves an earlier task others already built on alone", async () => {
  for (const t3Status of ["succeeded", "running"]) {
    await using db = await freshDatabase();
    const { sql } = db;
    const s = await seed(sql, { t3Status });
    const [r] = await recover(sql, s);
    assert.deepEqual([r.applied, r.outcome], [false, "not_applicable"], t3Status);
    const tasks = await sql<{ key: string; status: string }[]>`
      select key, status from backend_team.tasks where run_id = ${s.run} order by key`;
    assert.deepEqual(tasks.map((t) => [t.key, t.status]), [
      ["T1", "succeeded"],
      ["T2", "validating"],
      ["T3", t3Status],
    ]);
    const [{ n }] = await sql<{ n: number }[]>`
      select count(*)::int as n from backend_team.recovery_decisions where run_id = ${s.run}`;
    assert.equal(n, 0);
  }
});
