/**
 * Crash safety of execution with real processes: the agent workers are edge-function processes
 * of the local stack, leasing task messages for 2 seconds. One test makes the first worker that
 * gets an LLM answer exit before storing it (`BT_CHAOS_EXIT_AFTER_LLM_FILE`); the other SIGKILLs
 * random agent processes while 50 runs execute. Whatever dies, the safety-net schedule wakes
 * the restarted function once the lease has run out, and every task completes exactly once: one
 * succeeded attempt, the lost ones abandoned, its artifacts stored once. A worker that is alive
 * keeps its lease while the model thinks longer than the lease lasts.
 */
import assert from "node:assert/strict";
import { functionOf } from "../../shared/dispatch/mod.ts";
import type { AgentName } from "../../shared/plan/schema.ts";
import { startProduct } from "../_support/stack.ts";
import {
  dbArchitectAnswer,
  queryOptimizerAnswer,
  securityAnswer,
} from "../fixtures/trade_journal/scenario.ts";
import {
  type ArtifactRow,
  assertArtifactsOf,
  attemptsOf,
  eventLine,
  eventsOf,
  reachedDelivery,
  SEED_REQUEST,
  seedScenario,
  taskArtifactsOf,
  TRADE_JOURNAL_PLAN,
  until,
  untilSettled,
  warmUp,
} from "./_execution_support.ts";

const LEASE_SECONDS = 2;

Deno.test("a worker that dies after its model answered loses that attempt; the task comes back after its lease and completes once", async () => {
  const chaosFile = await Deno.makeTempFile({ prefix: "bt_chaos_exit_after_llm_" });
  try {
    await using app = await startProduct({
      // T2 and T3 think for longer than a lease: their workers must keep renewing it.
      scenarios: [await seedScenario(LEASE_SECONDS * 1000 + 1000)],
      scenarioFiles: [TRADE_JOURNAL_PLAN],
      env: {
        BT_TASK_LEASE_SECONDS: String(LEASE_SECONDS),
        BT_CHAOS_EXIT_AFTER_LLM_FILE: chaosFile,
      },
    });
    await warmUp(app);
    const alice = await app.newUser();
    const submitted = await app.submit(alice.token, SEED_REQUEST);
    const { run, tasks } = await untilSettled(app, alice.token, submitted.id);
    assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);
    await assert.rejects(Deno.stat(chaosFile), Deno.errors.NotFound, "the crash happened");

    assert.deepEqual(tasks.map((t) => [t.key, t.status, t.attempt]), [
      ["T1", "succeeded", 2],
      ["T2", "succeeded", 1],
      ["T3", "succeeded", 1],
    ]);
    const attempts = await attemptsOf(app.db.sql, run.id);
    assert.deepEqual(attempts.map((a) => [a.key, a.attempt, a.status]), [
      ["T1", 1, "abandoned"],
      ["T1", 2, "succeeded"],
      ["T2", 1, "succeeded"],
      ["T3", 1, "succeeded"],
    ]);
    // T2 and T3 outlived their first lease without being redelivered: the lease was renewed.
    const [lost, redone] = attempts;
    const waited = redone.started_at.getTime() - lost.started_at.getTime();
    assert.ok(waited >= LEASE_SECONDS * 1000 - 500, `redelivered after the lease (${waited} ms)`);
    assert.ok(lost.finished_at !== null, "the abandoned attempt is closed");

    // The dead worker stored nothing; the second one stored everything, once.
    const artifacts = await taskArtifactsOf(app.db.sql, run.id);
    assertArtifactsOf(artifacts, "T1", "db-architect", await dbArchitectAnswer());
    assertArtifactsOf(artifacts, "T2", "security", await securityAnswer());
    assertArtifactsOf(artifacts, "T3", "query-optimizer", await queryOptimizerAnswer());
    assert.equal(
      app.llm.requests.filter((r) => r.runId === run.id && r.agent === "db-architect").length,
      2,
      "the model was asked again by the attempt that took over",
    );
    const lines = (await eventsOf(app, alice.token, run.id)).map(eventLine);
    assert.equal(lines.filter((l) => l === "task.status running T1").length, 2);
    assert.equal(lines.filter((l) => l === "task.status succeeded T1").length, 1);
    assert.ok(
      lines.indexOf("task.status succeeded T1") < lines.indexOf("task.status queued T2"),
      "the dependents were released by the completion, not before",
    );
  } finally {
    await Deno.remove(chaosFile).catch(() => {});
  }
});

Deno.test("50 runs from 10 users all complete while agent workers are killed at random", async () => {
  await using app = await startProduct({
    // A short think per answer, so kills land on work in progress.
    scenarios: [await seedScenario(150)],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
    env: {
      BT_TASK_LEASE_SECONDS: String(LEASE_SECONDS),
      // Durability is what this test proves; the index measurement (50 000 rows by default, about
      // a second of shadow work per query-optimizer task) is measured by the bench instead.
      BT_INDEX_BENCH_ROWS: "1000",
    },
  });
  await warmUp(app);
  const started = performance.now();
  const users = await Promise.all(Array.from({ length: 10 }, () => app.newUser()));
  const runs = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const user = users[i % users.length];
      return { user, id: (await app.submit(user.token, SEED_REQUEST)).id };
    }),
  );

  // Kill a random agent of the plan every 100–300 ms for the first seconds of the work.
  const victims: AgentName[] = ["db-architect", "security", "query-optimizer"];
  const killUntil = Date.now() + 6_000;
  let kills = 0;
  const chaos = (async () => {
    while (Date.now() < killUntil) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      const victim = victims[Math.floor(Math.random() * victims.length)];
      await app.stack.functions.kill(functionOf(victim));
      kills++;
    }
  })();

  const sql = app.db.sql;
  const ids = runs.map((r) => r.id);
  try {
    await until("every run settled", async () => {
      const [row] = await sql<{ open: number }[]>`
        select count(*)::int as open from backend_team.runs
         where id = any(${ids}::uuid[])
           and status not in ('delivering', 'completed', 'failed', 'cancelled')`;
      return row.open === 0;
    }, 85_000);
  } finally {
    await chaos;
  }
  const seconds = (performance.now() - started) / 1000;

  for (const { user, id } of runs) {
    const { run } = await app.getRun(user.token, id);
    assert.ok(reachedDelivery(run), `run ${id} ${run.status}: ${JSON.stringify(run.error)}`);
  }
  const tasks = await sql<{ run_id: string; key: string; status: string }[]>`
    select run_id, key, status from backend_team.tasks where run_id = any(${ids}::uuid[])`;
  assert.equal(tasks.length, 150);
  assert.ok(tasks.every((t) => t.status === "succeeded"));

  let redone = 0;
  const expected = {
    T1: ["db-architect", await dbArchitectAnswer()],
    T2: ["security", await securityAnswer()],
    T3: ["query-optimizer", await queryOptimizerAnswer()],
  } as const;
  const allArtifacts = await sql<(ArtifactRow & { run_id: string })[]>`
    select a.run_id, t.key, a.kind, a.path, a.content, a.ordinal, a.meta
      from backend_team.artifacts a join backend_team.tasks t on t.id = a.task_id
     where a.run_id = any(${ids}::uuid[])
     order by a.run_id, length(t.key), t.key, a.ordinal, a.path`;
  for (const id of ids) {
    const attempts = await attemptsOf(sql, id);
    for (const key of ["T1", "T2", "T3"] as const) {
      const mine = attempts.filter((a) => a.key === key).map((a) => a.status);
      assert.equal(mine.at(-1), "succeeded", `run ${id} ${key}: the last attempt succeeded`);
      assert.ok(
        mine.slice(0, -1).every((s) => s === "abandoned" || s === "failed"),
        `run ${id} ${key}: exactly one attempt succeeded, the others were lost (${mine})`,
      );
      redone += mine.length - 1;
    }
    const artifacts = allArtifacts.filter((a) => a.run_id === id);
    assertArtifactsOf(artifacts, "T1", ...expected.T1);
    assertArtifactsOf(artifacts, "T2", ...expected.T2);
    assertArtifactsOf(artifacts, "T3", ...expected.T3);
  }
  assert.ok(kills > 10, `${kills} kills`);
  const [lost] = await sql<{ abandoned: number; failed: number }[]>`
    select count(*) filter (where status = 'abandoned')::int as abandoned,
           count(*) filter (where status = 'failed')::int as failed
      from backend_team.task_attempts where run_id = any(${ids}::uuid[])`;
  assert.ok(lost.abandoned > 0, "the kills hit work in progress");
  assert.equal(lost.abandoned + lost.failed, redone);
  console.log(
    `50 runs reached delivery in ${seconds.toFixed(1)} s with ${kills} kills; ` +
      `${lost.abandoned} attempts were abandoned and ${lost.failed} failed, all redone`,
  );
});
