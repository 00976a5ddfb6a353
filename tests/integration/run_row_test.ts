/**
 * The run's row outside the per-event and per-answer path (issue 17): `last_seq` and the events
 * page's `has_more` derived from the events themselves, LLM answers charged to `run_usage` with the
 * budget still exact when answers race on several connections, and the usage row as private as
 * the run. (That appending events and charging answers leave the run's row at the same version is
 * in state_machine_test.ts.)
 */
import assert from "node:assert/strict";
import { asCaller, type Claims, connect, type Sql } from "../../shared/db/mod.ts";
import { getRun, listEvents, submitRun } from "../../shared/runs/repository.ts";
import { freshDatabase } from "../_support/db.ts";

async function newUser(sql: Sql): Promise<Claims & { sub: string }> {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return { sub: id, role: "authenticated", aud: "authenticated" };
}

Deno.test("the run's last_seq is its latest event's seq, and has_more stays right page by page", async () => {
  await using db = await freshDatabase();
  const alice = await newUser(db.sql);
  const run = await submitRun(db.sql, alice, { request: "A todo API" });
  assert.equal(run.last_seq, 1, "submit_run's run.status received");
  for (let i = 0; i < 6; i++) {
    await db.sql`select backend_team.append_event(${run.id}::uuid, 'task.attempt', '{}'::jsonb)`;
  }
  const [{ max }] = await db.sql`
    select max(seq)::int as max from backend_team.run_events where run_id = ${run.id}`;
  assert.equal(max, 7);
  assert.equal((await getRun(db.sql, alice, run.id)).run.last_seq, max);
  const pages: [number[], boolean][] = [];
  let after = 0;
  for (;;) {
    const page = await listEvents(db.sql, alice, run.id, { after, limit: 3 });
    pages.push([page.events.map((e) => e.seq), page.has_more]);
    after = page.next_after;
    if (!page.has_more) break;
  }
  assert.deepEqual(pages, [[[1, 2, 3], true], [[4, 5, 6], true], [[7], false]]);
  // A page that ends exactly at the last event has no more.
  assert.equal((await listEvents(db.sql, alice, run.id, { after: 4, limit: 3 })).has_more, false);
  assert.equal((await listEvents(db.sql, alice, run.id, { after: 7, limit: 3 })).has_more, false);
  // The usage columns keep their place in the run's JSON, from run_usage.
  await db.sql`select backend_team.record_usage(${run.id}::uuid, 120, 30, 0.0012)`;
  const shown = (await getRun(db.sql, alice, run.id)).run;
  assert.deepEqual([shown.prompt_tokens, shown.completion_tokens, shown.cost_usd], [
    120,
    30,
    0.0012,
  ]);
  assert.equal(shown.last_seq, 7, "charging an answer logs no event");
});

Deno.test("answers racing on 4 connections: totals exact, only the one that crosses the budget fails the run", async () => {
  await using db = await freshDatabase();
  const alice = await newUser(db.sql);
  const [{ id: run }] = await db.sql`
    insert into backend_team.runs (owner_id, request, status, token_budget)
    values (${alice.sub}, 'A todo API', 'executing', 1000) returning id`;
  await db.sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, status)
    values (${run}, ${alice.sub}, 'T1', 'db-architect', 'x', 'running')`;
  const connections = Array.from({ length: 4 }, () => connect(db.url, { max: 1 }));
  const answers: { used: number; over: boolean }[] = [];
  try {
    // 40 answers of 30 tokens: the 34th takes the run from 990 to 1020.
    await Promise.all(connections.map(async (c) => {
      for (let i = 0; i < 10; i++) {
        const [row] = await c`
          select over_budget, used::int as used
            from backend_team.record_usage(${run}::uuid, 20, 10, 0.00001)`;
        answers.push({ used: row.used, over: row.over_budget });
      }
    }));
  } finally {
    await Promise.all(connections.map((c) => c.end()));
  }
  // Serialised: every answer saw the totals of all the answers charged before it.
  assert.deepEqual(
    answers.map((a) => a.used).sort((x, y) => x - y),
    Array.from({ length: 40 }, (_, i) => (i + 1) * 30),
  );
  assert.ok(answers.every((a) => a.over === a.used > 1000));
  const [usage] = await db.sql`
    select prompt_tokens::int as p, completion_tokens::int as c, cost_usd::float8 as usd
      from backend_team.run_usage where run_id = ${run}`;
  assert.deepEqual(usage, { p: 800, c: 400, usd: 0.0004 });
  const events = await db.sql`
    select type, payload from backend_team.run_events where run_id = ${run} order by seq`;
  const failed = events.filter((e) => e.type === "run.status" && e.payload.status === "failed");
  assert.equal(failed.length, 1, "the run is failed once");
  assert.equal(failed[0].payload.error.code, "budget_exceeded");
  assert.equal(
    failed[0].payload.error.message,
    "the run used 1020 tokens, over its budget of 1000",
    "by the answer that crossed it",
  );
  const [r] = await db.sql`select status from backend_team.runs where id = ${run}`;
  assert.equal(r.status, "failed");
});

Deno.test("another user cannot read a run's usage row, its owner can", async () => {
  await using db = await freshDatabase();
  const alice = await newUser(db.sql);
  const bob = await newUser(db.sql);
  const run = await submitRun(db.sql, alice, { request: "A todo API" });
  await db.sql`select backend_team.record_usage(${run.id}::uuid, 1200, 300, 0.00072)`;
  const read = (claims: Claims) =>
    asCaller(db.sql, claims, async (tx) => {
      const usage = await tx`
        select prompt_tokens::int as p from backend_team.run_usage where run_id = ${run.id}`;
      const view = await tx`
        select prompt_tokens::int as p from backend_team.run_view where id = ${run.id}`;
      return { usage: usage.map((u) => u.p), view: view.map((v) => v.p) };
    });
  assert.deepEqual(await read(alice), { usage: [1200], view: [1200] });
  assert.deepEqual(await read(bob), { usage: [], view: [] });
  await assert.rejects(
    asCaller(
      db.sql,
      bob,
      (tx) => tx`update backend_team.run_usage set prompt_tokens = 0 where run_id = ${run.id}`,
    ),
    (e: { code?: string }) => e.code === "42501",
  );
  await assert.rejects(
    asCaller(db.sql, { role: "anon" }, (tx) => tx`select 1 from backend_team.run_usage`),
    (e: { code?: string }) => e.code === "42501",
  );
});
