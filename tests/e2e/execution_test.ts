/**
 * Acceptance tests of "Agents on queues", end to end through the real edge functions on the
 * local stack: the orchestrator API, the orchestrator worker (understand, plan, deliver) and the
 * nine `agent-<name>` workers, each a process of its own fed by its pgmq queue, with the real
 * `openai` client talking to the scripted LLM and every output validated on the shadow database.
 * A user submits over REST with a minted token and watches over REST and Realtime; the
 * assertions read what the product stored: tasks, attempts, artifacts, events, queues.
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import type { AgentName } from "../../shared/plan/schema.ts";
import type { RunEvent } from "../../shared/runs/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { type RecordedRequest, scriptedTokens } from "../_support/scripted_llm/mod.ts";
import {
  COMPRESSION_PLAN,
  COMPRESSION_REQUEST,
  compressionScenario,
  fortyTables,
} from "../fixtures/context_compression/scenario.ts";
import {
  NINE_AGENTS_PLAN,
  NINE_AGENTS_REQUEST,
  NINE_AGENTS_TASKS,
  nineAgentAnswers,
  nineAgentsScenario,
} from "../fixtures/nine_agents/scenario.ts";
import {
  dbArchitectAnswer,
  queryOptimizerAnswer,
  securityAnswer,
} from "../fixtures/trade_journal/scenario.ts";
import {
  assertArtifactsOf,
  attemptsOf,
  eventLine,
  eventRowsOf,
  eventsOf,
  reachedDelivery,
  SEED_REQUEST,
  seedScenario,
  taskArtifactsOf,
  TRADE_JOURNAL_PLAN,
  until,
  untilSettled,
  wakeWorker,
  warmUp,
} from "./_execution_support.ts";

Deno.test("the seed example runs db-architect, then security and query-optimizer side by side, and stores every artifact", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario(700)],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, SEED_REQUEST);
  const { run, tasks } = await untilSettled(app, alice.token, submitted.id);
  assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);

  assert.deepEqual(
    tasks.map((t) => [t.key, t.agent, t.status, t.attempt]),
    [
      ["T1", "db-architect", "succeeded", 1],
      ["T2", "security", "succeeded", 1],
      ["T3", "query-optimizer", "succeeded", 1],
    ],
  );
  const [t1, t2, t3] = await attemptsOf(app.db.sql, run.id);
  assert.deepEqual([t1, t2, t3].map((a) => [a.key, a.attempt, a.status]), [
    ["T1", 1, "succeeded"],
    ["T2", 1, "succeeded"],
    ["T3", 1, "succeeded"],
  ]);
  // T1 finished before either dependent started; T2 and T3 ran at the same time.
  assert.ok(t1.finished_at! <= t2.started_at && t1.finished_at! <= t3.started_at);
  assert.ok(
    t2.started_at < t3.finished_at! && t3.started_at < t2.finished_at!,
    `T2 ${t2.started_at.toISOString()}–${t2.finished_at!.toISOString()} and ` +
      `T3 ${t3.started_at.toISOString()}–${t3.finished_at!.toISOString()} overlap`,
  );

  const artifacts = await taskArtifactsOf(app.db.sql, run.id);
  assertArtifactsOf(artifacts, "T1", "db-architect", await dbArchitectAnswer());
  assertArtifactsOf(artifacts, "T2", "security", await securityAnswer());
  assertArtifactsOf(artifacts, "T3", "query-optimizer", await queryOptimizerAnswer());
  assert.ok(artifacts.some((a) => a.kind === "doc"), "docs are stored");

  // Tokens: each attempt records exactly what its LLM call cost; the run adds up every call.
  const requests = app.llm.requests.filter((r) => r.runId === run.id);
  const prompted = (r: RecordedRequest) =>
    scriptedTokens(r.messages.map((m) => m.content).join(""));
  const answers: Record<string, unknown> = {
    "db-architect": await dbArchitectAnswer(),
    security: await securityAnswer(),
    "query-optimizer": await queryOptimizerAnswer(),
  };
  for (const attempt of [t1, t2, t3]) {
    const [asked, ...again] = requests.filter((r) => r.agent === attempt.agent);
    assert.equal(again.length, 0, `${attempt.key} asked the model once`);
    assert.equal(attempt.prompt_tokens, prompted(asked), `${attempt.key} prompt tokens`);
    assert.equal(
      attempt.completion_tokens,
      scriptedTokens(JSON.stringify(answers[attempt.agent])),
      `${attempt.key} completion tokens`,
    );
    assert.ok(attempt.context_tokens! > 0, "the context package's size is recorded");
  }
  const orchestrator = requests.filter((r) => r.agent === "orchestrator");
  assert.deepEqual(orchestrator.map((r) => r.phase), ["understand", "plan"]);
  const [charged] = await app.db.sql<{ prompt_tokens: number; completion_tokens: number }[]>`
    select prompt_tokens::int, completion_tokens::int from backend_team.run_usage
     where run_id = ${run.id}`;
  assert.equal(
    charged.prompt_tokens,
    orchestrator.reduce((n, r) => n + prompted(r), 0) + t1.prompt_tokens + t2.prompt_tokens +
      t3.prompt_tokens,
    "the run is charged the orchestrator's and every attempt's prompt tokens",
  );
  assert.equal(run.prompt_tokens, charged.prompt_tokens, "and shows them");
  assert.ok(
    charged.completion_tokens > t1.completion_tokens + t2.completion_tokens +
        t3.completion_tokens,
    "and their completion tokens",
  );
});

Deno.test("a plan touching all nine agents runs every task once, in dependency order, to delivery", async () => {
  await using app = await startProduct({
    scenarios: [await nineAgentsScenario()],
    scenarioFiles: [NINE_AGENTS_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, NINE_AGENTS_REQUEST);
  const { run, tasks } = await untilSettled(app, alice.token, submitted.id, 90_000);
  assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);
  assert.equal(run.strategy, "hybrid");

  assert.deepEqual(
    tasks.map((t) => [t.key, t.agent, t.depends_on, t.status, t.attempt]),
    NINE_AGENTS_TASKS.map((t) => [t.key, t.agent, t.depends_on, "succeeded", 1]),
  );
  for (const task of tasks) {
    const validation = task.validation as { ok?: boolean } | null;
    assert.equal(validation?.ok, true, `${task.key} passed validation`);
  }
  const attempts = await attemptsOf(app.db.sql, run.id);
  assert.deepEqual(
    attempts.map((a) => [a.key, a.attempt, a.status]),
    NINE_AGENTS_TASKS.map((t) => [t.key, 1, "succeeded"]),
  );
  const byKey = new Map(attempts.map((a) => [a.key, a]));
  for (const task of NINE_AGENTS_TASKS) {
    for (const dep of task.depends_on) {
      assert.ok(
        byKey.get(dep)!.finished_at! <= byKey.get(task.key)!.started_at,
        `${task.key} started after ${dep} finished`,
      );
    }
  }

  const answers = await nineAgentAnswers();
  const artifacts = await taskArtifactsOf(app.db.sql, run.id);
  for (const task of NINE_AGENTS_TASKS) {
    assertArtifactsOf(artifacts, task.key, task.agent, answers[task.agent] as never);
  }
  const asked = app.llm.requests.filter((r) => r.runId === run.id && r.agent !== "orchestrator");
  assert.deepEqual(
    asked.map((r) => r.agent).sort(),
    NINE_AGENTS_TASKS.map((t) => t.agent).sort(),
    "each agent was asked exactly once",
  );
});

interface Broadcast {
  event: string;
  payload: Record<string, unknown>;
}

/** A broadcast's event payload, without the message id Realtime adds to it. */
function eventOf(m: Broadcast): Record<string, unknown> {
  const { id: _id, ...payload } = m.payload;
  return payload;
}

Deno.test("every state change of a run arrives on its Realtime channel in order, without gaps or duplicates", async () => {
  // The model answers the orchestrator's first question only once the user is subscribed, so
  // the subscription is in place before the run does any work.
  const subscribed = Promise.withResolvers<void>();
  await using app = await startProduct({
    scenarios: [await nineAgentsScenario()],
    scenarioFiles: [NINE_AGENTS_PLAN],
    respond: async (request) => {
      if (request.phase === "understand") await subscribed.promise;
      return undefined;
    },
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, NINE_AGENTS_REQUEST);

  const supabase = createClient(app.stack.apiUrl, app.stack.anonKey, {
    accessToken: () => Promise.resolve(alice.token),
  });
  await supabase.realtime.setAuth();
  const received: Broadcast[] = [];
  const statuses: string[] = [];
  const channel = supabase.channel(`run:${submitted.id}`, { config: { private: true } })
    .on("broadcast", { event: "*" }, (m) => received.push(m as unknown as Broadcast))
    .subscribe((status) => statuses.push(status));
  try {
    await until("subscribed", () => statuses.includes("SUBSCRIBED"));
    // Catch up on what happened before the subscription.
    const before = await eventRowsOf(app, alice.token, submitted.id);
    subscribed.resolve();

    const { run } = await untilSettled(app, alice.token, submitted.id, 90_000);
    assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);
    // The log may still grow (delivery): compare a moment where Realtime has caught up with it.
    let log: RunEvent[] = [];
    let live: Broadcast[] = [];
    await until("Realtime delivered the whole log", async () => {
      log = await eventRowsOf(app, alice.token, run.id);
      live = received.slice();
      return live.at(-1)?.payload.seq === log.at(-1)?.seq;
    }, 30_000);

    const seqs = live.map((m) => m.payload.seq as number);
    const first = seqs[0];
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => first + i),
      "Realtime delivered consecutive seqs, in order, each once",
    );
    assert.ok(
      before.length >= first - 1,
      `the catch-up (${before.length} events) covers everything before Realtime's first (${first})`,
    );
    const union = new Map<number, Record<string, unknown>>();
    for (const e of before) union.set(e.seq, e.payload);
    for (const m of live) {
      const caught = union.get(m.payload.seq as number);
      if (caught) assert.deepEqual(eventOf(m), caught, "both paths carry the same event");
      union.set(m.payload.seq as number, eventOf(m));
    }
    assert.deepEqual(
      [...union.keys()].sort((a, b) => a - b),
      log.map((e) => e.seq),
      "together they are the run's whole log",
    );
    assert.deepEqual(log.map((e) => e.seq), log.map((_, i) => i + 1), "the log is seq 1..N");
    for (const m of live) {
      const event = log[(m.payload.seq as number) - 1];
      assert.equal(m.event, event.type);
      assert.deepEqual(eventOf(m), event.payload);
    }
    // Subscribed before the model answered: everything from planning on was seen live.
    const planning = log.find((e) => eventLine(e) === "run.status planning")!;
    assert.ok(first <= planning.seq, `Realtime started at ${first}, before planning`);
    const lines = (await eventsOf(app, alice.token, run.id)).map(eventLine);
    for (const task of NINE_AGENTS_TASKS) {
      for (const status of ["pending", "queued", "running", "validating", "succeeded"]) {
        assert.equal(
          lines.filter((l) => l === `task.status ${status} ${task.key}`).length,
          1,
          `${task.key} ${status} once`,
        );
      }
    }
    assert.ok(lines.includes("run.status delivering"));
  } finally {
    subscribed.resolve();
    await supabase.removeChannel(channel);
    await supabase.realtime.disconnect();
  }
});

Deno.test("a redelivered message for a task that already succeeded changes nothing", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, SEED_REQUEST);
  const { run } = await untilSettled(app, alice.token, submitted.id);
  assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);

  const sql = app.db.sql;
  const [t3] = await sql<{ id: string; msg_id: number }[]>`
    select id, msg_id::int from backend_team.tasks where run_id = ${run.id} and key = 'T3'`;
  const [original] = await sql<{ message: Record<string, unknown> }[]>`
    select message from pgmq.a_bt_query_optimizer where msg_id = ${t3.msg_id}`;
  assert.deepEqual(original.message, { task_id: t3.id, run_id: run.id });
  const attemptsBefore = await attemptsOf(sql, run.id);
  const artifactsBefore = await taskArtifactsOf(sql, run.id);
  const taskEvents = async () =>
    (await eventsOf(app, alice.token, run.id)).filter((e) =>
      (e.payload as { task_id?: string }).task_id === t3.id
    );
  const eventsBefore = await taskEvents();

  /** Wakes the worker and waits until message `id` is handled (archived). */
  const handled = async (id: number) => {
    await wakeWorker(app, "agent-query-optimizer");
    await until(`message ${id} is archived`, async () => {
      const [row] = await sql<{ archived: number; waiting: number }[]>`
        select (select count(*)::int from pgmq.a_bt_query_optimizer where msg_id = ${id}) as archived,
               (select count(*)::int from pgmq.q_bt_query_optimizer where msg_id = ${id}) as waiting`;
      return row.archived === 1 && row.waiting === 0;
    });
  };
  // A copy of the task's message, as a duplicate send would make.
  const [copy] = await sql<{ id: number }[]>`
    select pgmq.send('bt_query_optimizer', ${
    sql.json(original.message as never)
  }::jsonb)::int as id`;
  await handled(copy.id);
  // The task's own message delivered once more, as if its archive had been lost.
  await sql`
    with lost as (delete from pgmq.a_bt_query_optimizer where msg_id = ${t3.msg_id} returning *)
    insert into pgmq.q_bt_query_optimizer (msg_id, read_ct, enqueued_at, vt, message, headers)
    overriding system value
    select msg_id, read_ct, enqueued_at, clock_timestamp(), message, headers from lost`;
  await handled(t3.msg_id);

  assert.deepEqual(await attemptsOf(sql, run.id), attemptsBefore, "no new attempt");
  assert.deepEqual(await taskArtifactsOf(sql, run.id), artifactsBefore, "no new artifact");
  assert.deepEqual(await taskEvents(), eventsBefore, "no new event about the task");
  assert.equal(
    app.llm.requests.filter((r) => r.runId === run.id && r.agent === "query-optimizer").length,
    1,
    "the model was not asked again",
  );
});

Deno.test("a task touching 3 of 40 prior tables is sent at most 30% of the uncompressed context", async () => {
  await using app = await startProduct({
    scenarios: [compressionScenario()],
    scenarioFiles: [COMPRESSION_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const schema = await fortyTables();
  const submitted = await app.submit(alice.token, COMPRESSION_REQUEST, {
    context: { schema_sql: schema },
  });
  const { run } = await untilSettled(app, alice.token, submitted.id);
  assert.ok(reachedDelivery(run), `run ${run.status}: ${JSON.stringify(run.error)}`);

  const [attempt] = await attemptsOf(app.db.sql, run.id);
  assert.equal(attempt.status, "succeeded");
  const full = attempt.context_tokens_uncompressed!;
  assert.ok(full > schema.length / 4, `the uncompressed size (${full}) counts the whole schema`);
  assert.ok(
    attempt.context_tokens! <= 0.3 * full,
    `compressed to ${attempt.context_tokens} of ${full} tokens`,
  );
  assert.ok(attempt.prompt_tokens <= 0.3 * full, "what the model was billed is as small");

  const [asked] = app.llm.requests.filter((r) => r.runId === run.id && r.agent === "security");
  const prompt = asked.messages.map((m) => m.content).join("\n");
  for (const table of ["tasks", "task_comments", "attachments"]) {
    assert.match(prompt, new RegExp(`public\\.${table}\\b`), `${table} is in the prompt`);
  }
  for (const unrelated of ["invoice_items", "webhook_deliveries", "calendar_events"]) {
    assert.ok(!prompt.includes(unrelated), `${unrelated} is left out`);
  }
});

Deno.test("cancelling a run stops its queued work and ignores the running task's late completion", async () => {
  const answers = await nineAgentAnswers();
  const plan = {
    goal: "Two schemas and their hardening.",
    strategy: "hybrid",
    tasks: [
      task("T1", "db-architect", []),
      task("T2", "db-architect", []),
      task("T3", "security", ["T1", "T2"]),
    ],
    checkpoints: [],
    contracts: [],
    integration: [{ merge: ["T1", "T2", "T3"], into: "migrations" }],
  };
  await using app = await startProduct({
    // One task at a time per worker: T2 waits in the queue while T1's model thinks.
    env: { BT_WORKER_CONCURRENCY: "1" },
    scenarios: [{
      rules: [
        {
          name: "understand",
          match: { agent: "orchestrator", phase: "understand" },
          answers: [{ kind: "json", value: understanding() }],
        },
        {
          name: "plan",
          match: { agent: "orchestrator", phase: "plan" },
          answers: [{ kind: "json", value: plan }],
        },
        {
          name: "slow db-architect",
          match: { agent: "db-architect" },
          answers: [{ kind: "json", value: answers["db-architect"], latency_ms: 2500 }],
        },
        {
          name: "security",
          match: { agent: "security" },
          answers: [{ kind: "json", value: answers.security }],
        },
      ],
    }],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, "Two boards schemas, then harden them");
  const running = await app.waitForRun(
    alice.token,
    submitted.id,
    (d) => d.tasks.some((t) => t.key === "T1" && t.status === "running"),
    20_000,
  );
  assert.deepEqual(running.tasks.map((t) => [t.key, t.status]), [
    ["T1", "running"],
    ["T2", "queued"],
    ["T3", "pending"],
  ]);
  const sql = app.db.sql;
  const messages = await sql<{ key: string; msg_id: number }[]>`
    select key, msg_id::int from backend_team.tasks
     where run_id = ${submitted.id} and msg_id is not null order by key`;
  assert.deepEqual(messages.map((m) => m.key), ["T1", "T2"]);
  await until(
    "T1 asked its model",
    () => app.llm.requests.some((r) => r.runId === submitted.id && r.agent === "db-architect"),
  );

  const res = await app.api(alice.token, `/runs/${submitted.id}/cancel`, { method: "POST" });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).run.status, "cancelled");
  const cancelledAt = (await eventsOf(app, alice.token, submitted.id)).length;
  // T1's answer arrives 2.5 s after it asked, i.e. after the cancel; give its worker time to try.
  await new Promise((r) => setTimeout(r, 4000));

  const detail = await app.getRun(alice.token, submitted.id);
  assert.equal(detail.run.status, "cancelled");
  assert.deepEqual(detail.tasks.map((t) => [t.key, t.status]), [
    ["T1", "cancelled"],
    ["T2", "cancelled"],
    ["T3", "cancelled"],
  ]);
  for (const { key, msg_id } of messages) {
    const [row] = await sql<{ archived: number; waiting: number }[]>`
      select (select count(*)::int from pgmq.a_bt_db_architect where msg_id = ${msg_id}) as archived,
             (select count(*)::int from pgmq.q_bt_db_architect where msg_id = ${msg_id}) as waiting`;
    assert.deepEqual(row, { archived: 1, waiting: 0 }, `${key}'s message left the queue`);
  }
  assert.deepEqual(await taskArtifactsOf(sql, submitted.id), [], "the late answer stored nothing");
  const attempts = await attemptsOf(sql, submitted.id);
  assert.deepEqual(attempts.map((a) => a.key), ["T1"], "the queued task never started");
  assert.equal(attempts[0].status, "cancelled", "the running attempt ended with its run");
  const log = await eventsOf(app, alice.token, submitted.id);
  assert.equal(log.length, cancelledAt, "nothing happened to the run after it was cancelled");
  assert.deepEqual(log.slice(-4).map(eventLine), [
    "run.status cancelled",
    "task.status cancelled T1",
    "task.status cancelled T2",
    "task.status cancelled T3",
  ]);
  assert.deepEqual(
    app.llm.requests.filter((r) => r.runId === submitted.id && r.agent !== "orchestrator")
      .map((r) => r.agent),
    ["db-architect"],
    "only the running task had asked the model",
  );
});

function task(id: string, agent: AgentName, dependsOn: string[]) {
  return {
    id,
    agent,
    title: `${agent} ${id}`,
    input: `Do the ${agent} part of the boards.`,
    output: ["migration"],
    depends_on: dependsOn,
    tables: ["boards", "cards"],
  };
}

function understanding() {
  return {
    goal: "Boards schemas, hardened.",
    requirements: ["boards and cards"],
    assumptions: [],
    ambiguities: [],
    complexity: "complex",
    scope: ["schema", "security"],
    questions: [],
  };
}
