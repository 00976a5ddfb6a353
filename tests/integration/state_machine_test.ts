/**
 * The run and task state machines as SQL (migrations/*_state_machine.sql) on a real database: which
 * moves are legal, that an illegal one is refused with BT409 and leaves no trace, and that every
 * legal one writes exactly one gapless `run_events` row and the same payload to `realtime.messages`
 * in the caller's transaction — committed together, rolled back together, serialised per run.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { asCaller, connect, type Sql, type TransactionSql } from "../../shared/db/mod.ts";
import { RunStatus, TaskStatus } from "../../shared/runs/mod.ts";
import { expandEvent, RunEventPayload } from "../../shared/events/mod.ts";
import { freshDatabase } from "../_support/db.ts";

/**
 * The intended run edges, written down independently of the SQL. A phase that may stop to ask the
 * user (an edge to `awaiting_clarification`) must also be one the answer can resume.
 */
const RUN_EDGES: Record<RunStatus, readonly RunStatus[]> = {
  received: ["understanding", "failed", "cancelled"],
  understanding: ["awaiting_clarification", "planning", "failed", "cancelled"],
  awaiting_clarification: [
    "understanding",
    "planning",
    "executing",
    "delivering",
    "failed",
    "cancelled",
  ],
  planning: ["awaiting_clarification", "executing", "failed", "cancelled"],
  executing: ["awaiting_clarification", "delivering", "failed", "cancelled"],
  // Back to executing when an integration failure at delivery is sent back to its tasks.
  delivering: ["awaiting_clarification", "executing", "completed", "failed", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

/**
 * The intended task edges. `running → running` and `validating → running`: a message redelivered
 * after its worker died starts the next attempt. Recovery (migrations/…_recovery.sql) adds
 * `running|retrying → escalated` (the model stayed unavailable: the user decides) and
 * `validating → pending` (the task waits for the debugger's diagnosis).
 */
const TASK_EDGES: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ["queued", "failed", "cancelled"],
  queued: ["running", "failed", "cancelled"],
  running: ["running", "validating", "succeeded", "retrying", "failed", "escalated", "cancelled"],
  validating: ["running", "pending", "succeeded", "retrying", "escalated", "failed", "cancelled"],
  retrying: ["queued", "running", "failed", "escalated", "cancelled"],
  escalated: ["queued", "failed", "cancelled"],
  // A succeeded task whose output fails integration at delivery is retried or escalated; one
  // built on a task the user skipped is skipped too (its files withdrawn).
  succeeded: ["queued", "escalated", "cancelled"],
  failed: [],
  cancelled: [],
};

const UNFINISHED_TASK: readonly TaskStatus[] = [
  "pending",
  "queued",
  "running",
  "validating",
  "retrying",
  "escalated",
];

interface PgError {
  code: string;
  message: string;
  detail?: string;
}

function parseDetail(detail: string | undefined): unknown {
  try {
    return JSON.parse(detail ?? "");
  } catch {
    return detail;
  }
}

/** The database error `work` fails with (the test fails if it succeeds). */
async function pgError(work: Promise<unknown>): Promise<PgError> {
  try {
    await work;
  } catch (e) {
    assert.ok(e instanceof Error && "code" in e, `expected a database error, got ${e}`);
    return e as unknown as PgError;
  }
  assert.fail("expected the statement to fail");
}

async function newUser(sql: Sql): Promise<string> {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return id;
}

/** A run in `status` written as seed data (no events yet, `last_seq` 0). */
async function seedRun(
  sql: Sql,
  owner: string,
  status: RunStatus,
  extra: { clarification?: unknown; token_budget?: number } = {},
): Promise<string> {
  const [row] = await sql`
    insert into backend_team.runs (owner_id, request, status, clarification, token_budget)
    values (${owner}, 'A todo API', ${status}, ${
    extra.clarification === undefined ? null : JSON.stringify(extra.clarification)
  }::text::jsonb, ${extra.token_budget ?? 200000})
    returning id`;
  return row.id;
}

/** A task of `run` in `status`, inserted as the planner does (service side). */
async function seedTask(
  sql: Sql,
  run: string,
  owner: string,
  key: string,
  status: TaskStatus = "pending",
): Promise<string> {
  const [row] = await sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, status)
    values (${run}, ${owner}, ${key}, 'db-architect', ${`task ${key}`}, ${status})
    returning id`;
  return row.id;
}

async function transitionRun(
  sql: Sql | TransactionSql,
  run: string,
  to: string,
  patch: unknown = {},
) {
  const [row] = await sql`
    select * from backend_team.transition_run(${run}::uuid, ${to}, ${
    JSON.stringify(patch)
  }::text::jsonb)`;
  return row;
}

async function transitionTask(
  sql: Sql | TransactionSql,
  task: string,
  to: string,
  patch: unknown = {},
) {
  const [row] = await sql`
    select * from backend_team.transition_task(${task}::uuid, ${to}, ${
    JSON.stringify(patch)
  }::text::jsonb)`;
  return row;
}

interface EventRow {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
  /** `now()` of the writing transaction (its start time, the same for every row it writes). */
  txAt: string;
}

/** The log's rows: one per transaction and run (its first change, later ones under `then`). */
async function rowsOf(sql: Sql, run: string): Promise<EventRow[]> {
  const rows = await sql`
    select seq::int as seq, type, payload, created_at::timestamp::text as tx_at
    from backend_team.run_events where run_id = ${run} order by seq`;
  return rows.map((r) => ({ seq: r.seq, type: r.type, payload: r.payload, txAt: r.tx_at }));
}

/** Every change in the log, in order, as a client reads the rows (`expandEvent`). */
async function eventsOf(sql: Sql, run: string): Promise<EventRow[]> {
  return (await rowsOf(sql, run)).flatMap((row) =>
    expandEvent(row.payload).map((payload) => ({
      seq: row.seq,
      type: String(payload.type),
      payload,
      txAt: row.txAt,
    }))
  );
}

interface MessageRow {
  topic: string;
  event: string;
  extension: string;
  private: boolean;
  payload: Record<string, unknown>;
  txAt: string;
}

async function messagesOf(sql: Sql, run: string): Promise<MessageRow[]> {
  const rows = await sql`
    select topic, event, extension, private, payload, inserted_at::text as tx_at
    from realtime.messages where topic = ${`run:${run}`}
    order by (payload ->> 'seq')::bigint`;
  return rows.map((r) => ({
    topic: r.topic,
    event: r.event,
    extension: r.extension,
    private: r.private,
    payload: r.payload,
    txAt: r.tx_at,
  }));
}

/**
 * Asserts one broadcast per event with the same payload (plus Realtime's id), written by the same
 * transaction: both rows default to `now()`, the transaction's start time. (`xmin` cannot tell,
 * since `realtime.send` inserts in a subtransaction.)
 */
/** One message per log row (`rows` from rowsOf), the row's whole payload, in its transaction. */
function assertBroadcastMatches(run: string, events: EventRow[], messages: MessageRow[]) {
  assert.equal(messages.length, events.length, "one realtime message per row");
  events.forEach((event, i) => {
    const message = messages[i];
    const { id, ...payload } = message.payload;
    assert.equal(typeof id, "string", "realtime.send gives each message an id");
    assert.deepEqual(payload, event.payload, `payload of event ${event.seq}`);
    assert.equal(message.topic, `run:${run}`);
    assert.equal(message.event, event.type);
    assert.equal(message.extension, "broadcast");
    assert.equal(message.private, true);
    assert.equal(
      message.txAt,
      event.txAt,
      `event ${event.seq} and its message share a transaction`,
    );
  });
}

/** Rows 1, 2, 3… without gaps; the changes of one row share its seq and come in order. */
function assertGapless(events: { seq: number }[]) {
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in seq order");
  const rows = [...new Set(seqs)];
  assert.deepEqual(rows, rows.map((_, i) => i + 1));
}

/** Waits until `n` backends of database `name` are blocked on a lock. */
async function waitForLockWaiters(sql: Sql, name: string, n: number) {
  for (let i = 0; i < 500; i++) {
    const [{ waiting }] = await sql`
      select count(*)::int as waiting from pg_stat_activity
      where datname = ${name} and wait_event_type = 'Lock'`;
    if (waiting >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`fewer than ${n} sessions ever waited on a lock`);
}

/** What one attempted transition did, as a sentence when it differs from the intended edges. */
function judgeTransition(
  move: string,
  legal: boolean,
  outcome: {
    status: string;
    error?: PgError;
    eventTypes: string[];
    /** Log rows written (one per transaction) and messages broadcast (one per row). */
    rows: number;
    messages: number;
  },
  expectedTypes: string[],
  to: string,
  from: string,
): string[] {
  const problems: string[] = [];
  const { error } = outcome;
  if (legal) {
    if (error) return [`${move} was refused: ${error.code} ${error.message}`];
    if (outcome.status !== to) problems.push(`${move} left status ${outcome.status}`);
    if (outcome.eventTypes.join() !== expectedTypes.join()) {
      problems.push(`${move} logged [${outcome.eventTypes}], not [${expectedTypes}]`);
    }
  } else {
    if (!error) problems.push(`${move} was allowed`);
    else if (error.code !== "BT409") problems.push(`${move} failed with ${error.code}`);
    else if (!isDeepStrictEqual(parseDetail(error.detail), { from, to })) {
      problems.push(`${move} has detail ${error.detail}`);
    }
    if (outcome.status !== from) problems.push(`${move} changed the status`);
    if (outcome.eventTypes.length > 0) problems.push(`${move} logged an event`);
  }
  if (outcome.rows !== (outcome.eventTypes.length > 0 ? 1 : 0)) {
    problems.push(`${move} wrote ${outcome.rows} log rows in one transaction`);
  }
  if (outcome.messages !== outcome.rows) {
    problems.push(`${move} broadcast ${outcome.messages} messages for ${outcome.rows} rows`);
  }
  return problems;
}

Deno.test("every run transition off the intended edges is refused with BT409 {from,to} and leaves no event", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const problems: string[] = [];
  for (const from of RunStatus.options) {
    for (const to of RunStatus.options) {
      const run = await seedRun(db.sql, owner, from);
      const error = await transitionRun(db.sql, run, to).then(() => undefined, (e) => e as PgError);
      const [after] = await db.sql`select status from backend_team.runs where id = ${run}`;
      const events = await eventsOf(db.sql, run);
      problems.push(...judgeTransition(
        `${from} → ${to}`,
        RUN_EDGES[from].includes(to),
        {
          status: after.status,
          error,
          eventTypes: events.map((e) => e.type),
          rows: (await rowsOf(db.sql, run)).length,
          messages: (await messagesOf(db.sql, run)).length,
        },
        to === "completed" ? ["run.status", "run.completed"] : ["run.status"],
        to,
        from,
      ));
      if (!error && events[0]?.payload.from !== from) problems.push(`${from} → ${to}: bad "from"`);
    }
  }
  assert.deepEqual(problems, [], "the run state machine differs from the intended edges");
});

Deno.test("every task transition off the intended edges is refused with BT409 {from,to} and leaves no event", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const problems: string[] = [];
  for (const from of TaskStatus.options) {
    for (const to of TaskStatus.options) {
      const run = await seedRun(db.sql, owner, "executing");
      const task = await seedTask(db.sql, run, owner, "T1", from);
      const error = await transitionTask(db.sql, task, to).then(
        () => undefined,
        (e) => e as PgError,
      );
      const [after] = await db.sql`
        select status, attempt from backend_team.tasks where id = ${task}`;
      const events = await eventsOf(db.sql, run);
      problems.push(...judgeTransition(
        `${from} → ${to}`,
        TASK_EDGES[from].includes(to),
        {
          status: after.status,
          error,
          eventTypes: events.map((e) => e.type),
          rows: (await rowsOf(db.sql, run)).length,
          messages: (await messagesOf(db.sql, run)).length,
        },
        ["task.status"],
        to,
        from,
      ));
      if (!error) {
        const payload = events[0]?.payload ?? {};
        if (payload.task_id !== task || payload.from !== from || payload.status !== to) {
          problems.push(`${from} → ${to}: event payload ${JSON.stringify(payload)}`);
        }
        if (to === "running" && after.attempt !== 1) {
          problems.push(`${from} → running did not start attempt 1`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], "the task state machine differs from the intended edges");
});

Deno.test("a run's whole life logs gapless events in order, each broadcast in its own transaction", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const user = { sub: owner, role: "authenticated" };
  const [submitted] = await asCaller(
    db.sql,
    user,
    (tx) => tx`select * from backend_team.submit_run('A todo API with per-user lists')`,
  );
  const run: string = submitted.id;
  assert.equal(submitted.status, "received");

  await transitionRun(db.sql, run, "understanding");
  await transitionRun(db.sql, run, "awaiting_clarification", {
    clarification: { questions: [{ id: "auth", text: "Email or OAuth?" }] },
  });
  await asCaller(
    db.sql,
    user,
    (tx) => tx`select backend_team.answer_clarification(${run}::uuid, '{"auth":"email"}'::jsonb)`,
  );
  await transitionRun(db.sql, run, "planning", { complexity: "moderate", strategy: "sequential" });
  const t1 = await seedTask(db.sql, run, owner, "T1");
  const t2 = await seedTask(db.sql, run, owner, "T2");
  await transitionRun(db.sql, run, "executing", { plan: { tasks: ["T1", "T2"] } });
  for (const task of [t1, t2]) {
    for (const to of ["queued", "running", "validating", "succeeded"]) {
      await transitionTask(db.sql, task, to);
    }
  }
  await transitionRun(db.sql, run, "delivering");
  const done = await transitionRun(db.sql, run, "completed", { result: { summary: "done" } });
  assert.equal(done.status, "completed");
  assert.ok(done.completed_at instanceof Date);

  const events = await eventsOf(db.sql, run);
  assertGapless(events);
  assert.equal(Number(done.last_seq), (await rowsOf(db.sql, run)).length);
  const taskSteps = (key: string) =>
    ["queued", "running", "validating", "succeeded"].map((s) => `task.status ${key} ${s}`);
  assert.deepEqual(
    events.map((e) =>
      e.type === "task.status"
        ? `${e.type} ${e.payload.key} ${e.payload.status}`
        : `${e.type} ${e.payload.status}`
    ),
    [
      "run.status received",
      "run.status understanding",
      "run.status awaiting_clarification",
      "run.status understanding",
      "run.status planning",
      "run.status executing",
      ...taskSteps("T1"),
      ...taskSteps("T2"),
      "run.status delivering",
      "run.status completed",
      "run.completed completed",
    ],
  );
  for (const event of events) {
    assert.equal(event.payload.type, event.type);
    assert.equal(event.payload.run_id, run);
    assert.equal(event.payload.seq, event.seq);
    assert.match(String(event.payload.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  }
  assert.equal(events[1].payload.from, "received");
  const started = events.filter((e) => e.type === "task.status" && e.payload.status === "running");
  assert.deepEqual(started.map((e) => e.payload.attempt), [1, 1], "running starts attempt 1");
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
  // Each step committed on its own; the completion's two events share one transaction.
  assert.equal(new Set(events.map((e) => e.txAt)).size, events.length - 1);
});

Deno.test("a rolled-back transition leaves no event, no message and the status unchanged", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "received");
  const rollback = new Error("rollback");
  await assert.rejects(
    db.sql.begin(async (tx) => {
      const [row] =
        await tx`select * from backend_team.transition_run(${run}::uuid, 'understanding')`;
      assert.equal(row.status, "understanding");
      const [{ rows, messages }] = await tx`
        select (select count(*)::int from backend_team.run_events where run_id = ${run}) as rows,
               (select count(*)::int from realtime.messages where topic = ${`run:${run}`})
                 as messages`;
      assert.equal(rows, 1, "the event row exists inside the transaction");
      assert.equal(messages, 0, "its message is sent at commit, whole");
      throw rollback;
    }),
    (e) => e === rollback,
  );
  const [after] = await db.sql`
    select status, last_seq::int as last_seq from backend_team.run_view where id = ${run}`;
  assert.deepEqual(after, { status: "received", last_seq: 0 });
  assert.deepEqual(await eventsOf(db.sql, run), []);
  assert.deepEqual(await messagesOf(db.sql, run), []);
  // The rolled-back seq was not burnt: the next event is still seq 1.
  await transitionRun(db.sql, run, "understanding");
  assert.deepEqual((await eventsOf(db.sql, run)).map((e) => e.seq), [1]);
});

Deno.test("transitions from several connections at once still give gapless, unique seqs", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const tasks: string[] = [];
  for (let i = 1; i <= 12; i++) tasks.push(await seedTask(db.sql, run, owner, `T${i}`));
  const workers = Array.from({ length: 4 }, () => connect(db.url, { max: 1 }));
  try {
    const steps = ["queued", "running", "validating", "succeeded"];
    await Promise.all(workers.map(async (worker, w) => {
      for (const task of tasks.filter((_, i) => i % workers.length === w)) {
        for (const to of steps) await transitionTask(worker, task, to);
      }
    }));
  } finally {
    await Promise.all(workers.map((worker) => worker.end()));
  }
  const events = await eventsOf(db.sql, run);
  assert.equal(events.length, tasks.length * 4);
  assertGapless(events);
  const [{ last_seq }] = await db.sql`
    select last_seq::int as last_seq from backend_team.run_view where id = ${run}`;
  assert.equal(last_seq, events.length);
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
});

Deno.test("when several connections make the same move at once, exactly one wins", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "received");
  const holder = connect(db.url, { max: 1 });
  const racers = Array.from({ length: 5 }, () => connect(db.url, { max: 1 }));
  try {
    let racing: Promise<PromiseSettledResult<unknown>[]> | undefined;
    await holder.begin(async (tx) => {
      await tx`select 1 from backend_team.runs where id = ${run} for update`;
      racing = Promise.allSettled(
        racers.map((racer) => transitionRun(racer, run, "understanding")),
      );
      await waitForLockWaiters(db.sql, db.name, racers.length);
    }); // committing releases the lock: all five go at once
    const outcomes = await racing!;
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    assert.equal(won.length, 1, "one connection moves the run");
    assert.equal(lost.length, racers.length - 1);
    for (const { reason } of lost) {
      assert.equal(reason.code, "BT409");
      assert.deepEqual(JSON.parse(reason.detail), { from: "understanding", to: "understanding" });
    }
  } finally {
    await holder.end();
    await Promise.all(racers.map((racer) => racer.end()));
  }
  const events = await eventsOf(db.sql, run);
  assert.deepEqual(events.map((e) => [e.seq, e.payload.status]), [[1, "understanding"]]);
});

for (
  const ending of [
    { name: "fail_run", status: "failed" },
    { name: "cancel_run", status: "cancelled" },
  ] as const
) {
  Deno.test(`${ending.name} ends the run and cancels each unfinished task with a task.status event`, async () => {
    await using db = await freshDatabase();
    const owner = await newUser(db.sql);
    const run = await seedRun(db.sql, owner, "executing");
    const finished = { T1: "succeeded", T2: "failed", T3: "cancelled" } as const;
    for (const [key, status] of Object.entries(finished)) {
      await seedTask(db.sql, run, owner, key, status);
    }
    for (const [i, status] of UNFINISHED_TASK.entries()) {
      await seedTask(db.sql, run, owner, `T${i + 4}`, status);
    }

    const [ended] = ending.name === "fail_run"
      ? await db.sql`
          select * from backend_team.fail_run(${run}::uuid, 'agent_failed', 'T5 gave up')`
      : await asCaller(
        db.sql,
        { sub: owner, role: "authenticated" },
        (tx) => tx`select * from backend_team.cancel_run(${run}::uuid)`,
      );
    assert.equal(ended.status, ending.status);
    assert.ok(ended.completed_at instanceof Date);
    if (ending.name === "fail_run") {
      assert.deepEqual(ended.error, { code: "agent_failed", message: "T5 gave up" });
    }

    const tasks = await db.sql`
      select key, status, finished_at is not null as finished
      from backend_team.tasks where run_id = ${run} order by length(key), key`;
    assert.deepEqual(
      tasks.map((t) => [t.key, t.status]),
      [
        ...Object.entries(finished),
        ...UNFINISHED_TASK.map((_, i) => [`T${i + 4}`, "cancelled"]),
      ],
    );
    assert.ok(tasks.slice(3).every((t) => t.finished), "cancelling stamps finished_at");

    const events = await eventsOf(db.sql, run);
    assertGapless(events);
    assert.deepEqual(
      events.map((e) => [e.type, e.payload.key ?? null, e.payload.from, e.payload.status]),
      [
        ["run.status", null, "executing", ending.status],
        ...UNFINISHED_TASK.map((from, i) => ["task.status", `T${i + 4}`, from, "cancelled"]),
      ],
    );
    assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
  });
}

Deno.test("usage over the budget fails the run with budget_exceeded and stops its tasks", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing", { token_budget: 1000 });
  await seedTask(db.sql, run, owner, "T1", "running");
  const usage = (prompt: number, completion: number) =>
    db.sql`
      select over_budget, used::int as used, token_budget::int as token_budget
      from backend_team.record_usage(${run}::uuid, ${prompt}, ${completion})`;

  assert.deepEqual([...await usage(600, 400)], [{
    over_budget: false,
    used: 1000,
    token_budget: 1000,
  }]);
  assert.equal((await eventsOf(db.sql, run)).length, 0, "usage within budget logs nothing");

  assert.deepEqual([...await usage(1, 0)], [{ over_budget: true, used: 1001, token_budget: 1000 }]);
  const [failed] = await db.sql`
    select status, error, prompt_tokens::int as prompt_tokens,
           completion_tokens::int as completion_tokens
    from backend_team.run_view where id = ${run}`;
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "budget_exceeded");
  assert.deepEqual([failed.prompt_tokens, failed.completion_tokens], [601, 400]);
  const events = await eventsOf(db.sql, run);
  assert.deepEqual(events.map((e) => [e.type, e.payload.status]), [
    ["run.status", "failed"],
    ["task.status", "cancelled"],
  ]);
  assert.equal((events[0].payload.error as { code: string }).code, "budget_exceeded");

  // Late usage of a finished run is still counted, but changes nothing else.
  assert.deepEqual([...await usage(10, 10)], [{
    over_budget: true,
    used: 1021,
    token_budget: 1000,
  }]);
  assert.equal((await eventsOf(db.sql, run)).length, events.length);

  const negative = await pgError(usage(-1, 0));
  assert.equal(negative.code, "BT400");
});

Deno.test("an answer resumes the phase named by clarification.resume_to, else understanding", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const user = { sub: owner, role: "authenticated" };
  const askers = RunStatus.options.filter((s) => RUN_EDGES[s].includes("awaiting_clarification"));
  const cases: { asker: RunStatus; resumeTo?: RunStatus }[] = [
    ...askers.map((asker) => ({ asker, resumeTo: asker })),
    { asker: "understanding" },
  ];
  for (const { asker, resumeTo } of cases) {
    const run = await seedRun(db.sql, owner, asker);
    await transitionRun(db.sql, run, "awaiting_clarification", {
      clarification: { questions: [{ id: "q1", text: "Which?" }], resume_to: resumeTo },
    });
    const [resumed] = await asCaller(
      db.sql,
      user,
      (tx) =>
        tx`select * from backend_team.answer_clarification(${run}::uuid, '{"q1":"A"}'::jsonb)`,
    ).catch((e) => assert.fail(`answering a question asked in ${asker}: ${e.message}`));
    assert.equal(resumed.status, resumeTo ?? "understanding", `asked in ${asker}`);
    assert.deepEqual(resumed.clarification.answers, { q1: "A" });
    assert.ok(resumed.clarification.answered_at);
    const events = await eventsOf(db.sql, run);
    assert.deepEqual(events.at(-1)?.payload.from, "awaiting_clarification");
    assert.deepEqual(events.at(-1)?.payload.status, resumeTo ?? "understanding");
  }

  const notWaiting = await seedRun(db.sql, owner, "planning");
  const refused = await pgError(
    asCaller(
      db.sql,
      user,
      (tx) =>
        tx`select backend_team.answer_clarification(${notWaiting}::uuid, '{"q1":"A"}'::jsonb)`,
    ),
  );
  assert.equal(refused.code, "BT409");
  assert.deepEqual(JSON.parse(refused.detail ?? "null"), { from: "planning", to: "answered" });
});

Deno.test("a task update racing the run's cancellation does not deadlock", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const task = await seedTask(db.sql, run, owner, "T1", "queued");
  // A slow task update (as with a large output document) widens the window between the task's
  // row lock and the run's; the order of the two locks must not depend on that window.
  await db.sql.unsafe(`
    create function public.slow_task_update() returns trigger language plpgsql as $$
    begin perform pg_sleep(0.3); return new; end $$;
    create trigger slow_task_update before update on backend_team.tasks
      for each row execute function public.slow_task_update()`);
  const worker = connect(db.url, { max: 1 });
  const user = connect(db.url, { max: 1 });
  try {
    const working = transitionTask(worker, task, "running").then(() => "ok", (e) => e.code);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const cancelling = user`select backend_team.cancel_run(${run}::uuid)`.then(
      () => "ok",
      (e) => e.code,
    );
    const outcomes = await Promise.all([working, cancelling]);
    assert.ok(!outcomes.includes("40P01"), `deadlock: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(outcomes, ["ok", "ok"]);
  } finally {
    await worker.end();
    await user.end();
  }
  const [after] = await db.sql`select status from backend_team.tasks where id = ${task}`;
  assert.equal(after.status, "cancelled");
  assertGapless(await eventsOf(db.sql, run));
});

Deno.test("a transaction's changes of a run are one log row, one seq and one message, sent whole at commit", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const other = await seedRun(db.sql, owner, "executing");
  const tasks = [
    await seedTask(db.sql, run, owner, "T1"),
    await seedTask(db.sql, run, owner, "T2"),
    await seedTask(db.sql, run, owner, "T3"),
  ];
  const otherTask = await seedTask(db.sql, other, owner, "T1");
  const inside = await db.sql.begin(async (tx) => {
    for (const task of tasks) await transitionTask(tx, task, "queued");
    await transitionTask(tx, otherTask, "queued"); // another run: a row of its own
    const [counts] = await tx`
      select (select count(*)::int from backend_team.run_events where run_id = ${run}) as rows,
             (select count(*)::int from realtime.messages where topic = ${`run:${run}`}) as messages`;
    return counts;
  });
  // Nothing is broadcast before commit: a subscriber never sees half a transaction.
  assert.deepEqual(inside, { rows: 1, messages: 0 });
  const rows = await rowsOf(db.sql, run);
  assert.equal(rows.length, 1);
  const events = await eventsOf(db.sql, run);
  assert.deepEqual(
    events.map((e) => [e.seq, e.payload.seq, e.payload.key, e.payload.status, e.payload.run_id]),
    ["T1", "T2", "T3"].map((key) => [1, 1, key, "queued", run]),
    "every change is there, in order, with the row's seq",
  );
  assertBroadcastMatches(run, rows, await messagesOf(db.sql, run));
  assert.deepEqual((await rowsOf(db.sql, other)).map((r) => r.seq), [1]);
  // The next transaction takes the next seq.
  await transitionRun(db.sql, run, "cancelled");
  assertGapless(await rowsOf(db.sql, run));
  assert.deepEqual((await rowsOf(db.sql, run)).map((r) => r.seq), [1, 2]);
});

Deno.test("a change rolled back with its savepoint leaves the row's other changes and the seq intact", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const t1 = await seedTask(db.sql, run, owner, "T1");
  const t2 = await seedTask(db.sql, run, owner, "T2");
  await db.sql.begin(async (tx) => {
    await transitionTask(tx, t1, "queued");
    await tx.savepoint(async (sp) => {
      await transitionTask(sp, t2, "queued");
      throw new Error("undo T2");
    }).catch(() => {});
  });
  const events = await eventsOf(db.sql, run);
  assert.deepEqual(events.map((e) => [e.seq, e.payload.key, e.payload.status]), [[
    1,
    "T1",
    "queued",
  ]]);
  const [t2Row] = await db.sql`select status from backend_team.tasks where id = ${t2}`;
  assert.equal(t2Row.status, "pending");
  // A savepoint rolled back whole, first change included: the next change opens the row afresh.
  await db.sql.begin(async (tx) => {
    await tx.savepoint(async (sp) => {
      await transitionTask(sp, t2, "queued");
      throw new Error("undo");
    }).catch(() => {});
    await transitionTask(tx, t2, "queued");
  });
  assert.deepEqual(
    (await eventsOf(db.sql, run)).map((e) => [e.seq, e.payload.key]),
    [[1, "T1"], [2, "T2"]],
  );
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
});

Deno.test("task transitions on several connections racing the run's cancellation: no deadlock, no lost cancellation, gapless", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const tasks: string[] = [];
  for (let i = 1; i <= 16; i++) tasks.push(await seedTask(db.sql, run, owner, `T${i}`, "queued"));
  const workers = Array.from({ length: 4 }, () => connect(db.url, { max: 1 }));
  const user = connect(db.url, { max: 1 });
  const codes: string[] = [];
  try {
    const working = Promise.all(workers.map(async (worker, w) => {
      for (const task of tasks.filter((_, i) => i % workers.length === w)) {
        for (const to of ["running", "validating", "succeeded"]) {
          try {
            await transitionTask(worker, task, to);
          } catch (e) {
            codes.push((e as PgError).code);
            break;
          }
        }
      }
    }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const cancelled = user`select backend_team.cancel_run(${run}::uuid)`;
    await Promise.all([working, cancelled]);
  } finally {
    await Promise.all([...workers, user].map((c) => c.end()));
  }
  // A transition that lost the race is refused (the task is cancelled), never deadlocked.
  assert.ok(codes.every((c) => c === "BT409"), `unexpected errors: ${JSON.stringify(codes)}`);
  const statuses = await db.sql`
    select status, count(*)::int as n from backend_team.tasks where run_id = ${run} group by status`;
  for (const { status } of statuses) {
    assert.ok(["succeeded", "cancelled"].includes(status), `task left ${status}`);
  }
  const [r] = await db
    .sql`select status, last_seq::int as last_seq from backend_team.run_view where id = ${run}`;
  assert.equal(r.status, "cancelled");
  const events = await eventsOf(db.sql, run);
  assertGapless(events);
  assert.equal(r.last_seq, (await rowsOf(db.sql, run)).length);
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
});

Deno.test("appending events and charging answers leave the run's row untouched; last_seq is derived", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const tasks = [
    await seedTask(db.sql, run, owner, "T1"),
    await seedTask(db.sql, run, owner, "T2"),
    await seedTask(db.sql, run, owner, "T3"),
  ];
  /** The run row's version (xmin changes with every new version of the row) and its updated_at. */
  const version = async () => {
    const [row] = await db.sql`
      select xmin::text as xmin, updated_at from backend_team.runs where id = ${run}`;
    return row;
  };
  const updates = async () => {
    await db.sql`select pg_stat_force_next_flush()`;
    await db.sql`select pg_stat_clear_snapshot()`;
    const [{ n }] = await db.sql`
      select n_tup_upd::int as n from pg_stat_user_tables
       where schemaname = 'backend_team' and relname = 'runs'`;
    return n;
  };
  const before = await version();
  const updatesBefore = await updates();
  const inside = await db.sql.begin(async (tx) => {
    for (const task of tasks) await transitionTask(tx, task, "queued");
    await tx`select backend_team.append_event(${run}::uuid, 'task.attempt', '{}'::jsonb)`;
    const [row] = await tx`
      select pg_stat_get_xact_tuples_updated('backend_team.runs'::regclass)::int as updated`;
    return row.updated;
  });
  assert.equal(inside, 0, "no run-row update inside the transaction");
  assert.deepEqual(await version(), before, "nor at commit: the run's row has the same version");
  // Several answers, each in its own transaction as the usage recorder charges them.
  for (let i = 0; i < 3; i++) {
    await db.sql`select * from backend_team.record_usage(${run}::uuid, 100, 20, 0.0001)`;
  }
  assert.deepEqual(await version(), before, "charging answers does not write the run's row");
  assert.equal(await updates(), updatesBefore, "runs' n_tup_upd is unchanged");
  const [usage] = await db.sql`
    select prompt_tokens::int as p, completion_tokens::int as c, cost_usd::float8 as usd
      from backend_team.run_usage where run_id = ${run}`;
  assert.deepEqual(usage, { p: 300, c: 60, usd: 0.0003 });

  const events = await rowsOf(db.sql, run);
  assertGapless(events);
  const [{ last_seq }] = await db.sql`
    select last_seq::int as last_seq from backend_team.run_view where id = ${run}`;
  assert.equal(last_seq, events.length);
  // A function that returns the run after appending returns last_seq exact; a status change is a
  // real change of the row and writes it (updated_at too).
  const done = await db.sql.begin(async (tx) => {
    const row = await transitionRun(tx, run, "cancelled");
    return Number(row.last_seq);
  });
  const all = await rowsOf(db.sql, run);
  assert.equal(done, all.length);
  const after = await version();
  assert.notEqual(after.xmin, before.xmin);
  assert.ok(after.updated_at > before.updated_at);
});

Deno.test("task transitions on several connections racing the run's cancellation: no deadlock, no lost cancellation, gapless", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const tasks: string[] = [];
  for (let i = 1; i <= 16; i++) tasks.push(await seedTask(db.sql, run, owner, `T${i}`, "queued"));
  const workers = Array.from({ length: 4 }, () => connect(db.url, { max: 1 }));
  const user = connect(db.url, { max: 1 });
  const codes: string[] = [];
  try {
    const working = Promise.all(workers.map(async (worker, w) => {
      for (const task of tasks.filter((_, i) => i % workers.length === w)) {
        for (const to of ["running", "validating", "succeeded"]) {
          try {
            await transitionTask(worker, task, to);
          } catch (e) {
            codes.push((e as PgError).code);
            break;
          }
        }
      }
    }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const cancelled = user`select backend_team.cancel_run(${run}::uuid)`;
    await Promise.all([working, cancelled]);
  } finally {
    await Promise.all([...workers, user].map((c) => c.end()));
  }
  // A transition that lost the race is refused (the task is cancelled), never deadlocked.
  assert.ok(codes.every((c) => c === "BT409"), `unexpected errors: ${JSON.stringify(codes)}`);
  const statuses = await db.sql`
    select status, count(*)::int as n from backend_team.tasks where run_id = ${run} group by status`;
  for (const { status } of statuses) {
    assert.ok(["succeeded", "cancelled"].includes(status), `task left ${status}`);
  }
  const [r] = await db
    .sql`select status, last_seq::int as last_seq from backend_team.run_view where id = ${run}`;
  assert.equal(r.status, "cancelled");
  const events = await eventsOf(db.sql, run);
  assertGapless(events);
  assert.equal(r.last_seq, (await rowsOf(db.sql, run)).length);
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
});

Deno.test("the task.status that ends an attempt carries its usage, verdict and artifacts; no separate events", async () => {
  await using db = await freshDatabase();
  const owner = await newUser(db.sql);
  const run = await seedRun(db.sql, owner, "executing");
  const task = await seedTask(db.sql, run, owner, "T1");
  await transitionTask(db.sql, task, "queued", { msg_id: 1 });
  const [started] = await db.sql`
    select * from backend_team.start_attempt(${task}::uuid, 1::bigint, 1)`;
  assert.equal(started.applied, true);
  const [done] = await db.sql`
    select * from backend_team.complete_attempt(${task}::uuid, 1, ${
    JSON.stringify({
      output: { ok: true },
      prompt_tokens: 120,
      completion_tokens: 30,
      cost_usd: 0.0012,
      duration_ms: 900,
      validation: { ok: true, errors: 0, warnings: 1 },
      artifacts: [
        { kind: "doc", path: "docs/a.md", content: "# A" },
        { kind: "doc", path: "docs/b.md", content: "# B" },
      ],
    })
  }::text::jsonb)`;
  assert.equal(done.applied, true);
  const events = await eventsOf(db.sql, run);
  assertGapless(events);
  assert.deepEqual(events.map((e) => [e.type, e.payload.status]), [
    ["task.status", "queued"],
    ["task.status", "running"],
    ["task.status", "succeeded"],
    ["run.status", "delivering"],
  ]);
  const succeeded = events[2].payload as Record<string, unknown>;
  assert.deepEqual(succeeded.usage, {
    attempt: 1,
    status: "succeeded",
    prompt_tokens: 120,
    completion_tokens: 30,
    cost_usd: 0.0012,
    duration_ms: 900,
  });
  assert.deepEqual(succeeded.validation, { ok: true, errors: 0, warnings: 1 });
  const artifacts = succeeded.artifacts as { kind: string; path: string; artifact_id: string }[];
  assert.deepEqual(artifacts.map((a) => [a.kind, a.path]), [["doc", "docs/a.md"], [
    "doc",
    "docs/b.md",
  ]]);
  const stored = await db.sql`
    select id from backend_team.artifacts where task_id = ${task} order by ordinal`;
  assert.deepEqual(artifacts.map((a) => a.artifact_id), stored.map((r) => r.id));
  // The client contract parses it.
  assert.equal(RunEventPayload.safeParse({ ...succeeded, seq: 3 }).success, true);
  assertBroadcastMatches(run, await rowsOf(db.sql, run), await messagesOf(db.sql, run));
});
