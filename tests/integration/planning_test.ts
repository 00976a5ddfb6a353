/**
 * Acceptance tests of "Understand, decompose and plan": the real orchestrator worker
 * (`handleRunMessage` behind a `QueueWorker` on `bt_orchestrator`) against a fresh database with
 * every migration, the real `openai` client talking to the scripted LLM on loopback, and runs
 * submitted and answered by a signed-in user through the state machine's SQL functions (and once
 * through the real REST API). Each test asserts what a user relies on: the run's status, its
 * stored understanding and plan, its task rows and queue messages, its event log, and what the
 * prompts sent to the model contained.
 */
import assert from "node:assert/strict";
import { createOrchestratorApp } from "../../shared/api/mod.ts";
import { LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { asCaller, type Sql } from "../../shared/db/mod.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";
import {
  answerAs,
  newUser,
  type RunWorker,
  startRunWorker,
  submitAs,
} from "../_support/run_worker.ts";
import {
  type RecordedRequest,
  type ScenarioInput,
  type ScriptedLlm,
  startScriptedLlm,
} from "../_support/scripted_llm/mod.ts";
import { runChanges } from "../_support/events.ts";

const LLM = new URL("../fixtures/llm/", import.meta.url);
const TRADE_JOURNAL = new URL("trade_journal_plan.json", LLM);
const PLANNING = (name: string) => new URL(`planning/${name}.json`, LLM);
const SEED_REQUEST = "Design the schema for a trade journal with positions, trades, and tags";

interface Setup extends AsyncDisposable {
  db: TestDatabase;
  llm: ScriptedLlm;
  worker: RunWorker;
  user: string;
}

/** A fresh database, a user, the scripted LLM (inline rules first) and the worker. */
async function setup(
  scenarioFiles: URL[],
  scenarios: ScenarioInput[] = [],
  options: { vtSeconds?: number } = {},
): Promise<Setup> {
  const db = await freshDatabase();
  const llm = await startScriptedLlm({ scenarios, scenarioFiles });
  const worker = await startRunWorker({
    sql: db.sql,
    llmUrl: llm.url,
    vtSeconds: options.vtSeconds,
  });
  const user = await newUser(db.sql);
  return {
    db,
    llm,
    worker,
    user,
    async [Symbol.asyncDispose]() {
      await worker.stop();
      await llm.close();
      await db.close();
    },
  };
}

interface RunRow {
  status: string;
  complexity: string | null;
  strategy: string | null;
  understanding: Record<string, unknown> | null;
  plan: { tasks: { id: string }[]; strategy: string } | null;
  clarification: {
    questions?: Record<string, unknown>[];
    answers?: Record<string, unknown> | null;
    reason?: string;
    resume_to?: string;
  } | null;
  prompt_version: string | null;
  error: { code: string; message: string } | null;
  prompt_tokens: number;
  completion_tokens: number;
}

async function readRun(sql: Sql, id: string): Promise<RunRow> {
  const [row] = await sql<RunRow[]>`
    select status, complexity, strategy, understanding, plan, clarification, prompt_version, error,
           prompt_tokens::int, completion_tokens::int
      from backend_team.run_view where id = ${id}`;
  return row;
}

interface TaskRow {
  id: string;
  key: string;
  agent: string;
  title: string;
  status: string;
  depends_on: string[];
  remaining_deps: number;
  msg_id: number | null;
  input: { text: string; tables: string[] };
}

async function tasksOf(sql: Sql, runId: string): Promise<TaskRow[]> {
  const rows = await sql<TaskRow[]>`
    select id, key, agent, title, status, depends_on, remaining_deps, msg_id::int, input
      from backend_team.tasks where run_id = ${runId} order by length(key), key`;
  return [...rows];
}

/** `type status [key]` of each event, in seq order (checking seq is 1, 2, 3 … without gaps). */
async function eventLog(sql: Sql, runId: string): Promise<string[]> {
  const rows = await runChanges(sql, runId);
  return rows.map((r) =>
    [r.type, r.payload.status, r.payload.key].filter((x) => x !== undefined).join(" ")
  );
}

/** Messages waiting in an agent's (or the orchestrator's) queue. */
async function queued(sql: Sql, queue: string): Promise<Record<string, unknown>[]> {
  const rows = await sql<{ message: Record<string, unknown> }[]>`
    select message from ${sql(`pgmq`)}.${sql(`q_${queue}`)} order by msg_id`;
  return rows.map((r) => r.message);
}

/** The orchestrator's requests for one phase, in order. */
function asked(llm: ScriptedLlm, phase: string): RecordedRequest[] {
  return llm.requests.filter((r) => r.agent === "orchestrator" && r.phase === phase);
}

/** Text of a request's last message (the follow-up when it is a re-ask). */
function lastMessage(request: RecordedRequest): string {
  return request.messages.at(-1)?.content ?? "";
}

Deno.test("the trade journal request is understood, planned as a hybrid DAG and its first task queued", async () => {
  await using t = await setup([TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "executing", JSON.stringify(run.error));
  assert.equal(run.complexity, "complex");
  assert.equal(run.strategy, "hybrid");
  assert.equal(run.understanding?.complexity, "complex");
  assert.deepEqual(run.understanding?.scope, ["schema", "security", "queries"]);
  assert.deepEqual(run.plan?.tasks.map((task) => task.id), ["T1", "T2", "T3"]);
  assert.equal(run.plan?.strategy, "hybrid");
  assert.match(run.prompt_version ?? "", /^orchestrator@[0-9a-f]{12}$/);
  assert.equal(run.prompt_version, t.worker.prompt.version);
  assert.ok(run.prompt_tokens > 0 && run.completion_tokens > 0, "tokens are charged to the run");

  const tasks = await tasksOf(t.db.sql, runId);
  assert.deepEqual(
    tasks.map((task) => [task.key, task.agent, task.depends_on, task.remaining_deps, task.status]),
    [
      ["T1", "db-architect", [], 0, "queued"],
      ["T2", "security", ["T1"], 1, "pending"],
      ["T3", "query-optimizer", ["T1"], 1, "pending"],
    ],
  );
  assert.equal(tasks[0].title, "Schema for positions, trades and tags");
  assert.deepEqual(tasks[0].input.tables, ["positions", "trades", "tags", "trade_tags"]);
  assert.match(tasks[0].input.text, /^Create positions/);

  assert.deepEqual(await queued(t.db.sql, "bt_db_architect"), [
    { task_id: tasks[0].id, run_id: runId },
  ]);
  assert.deepEqual(await queued(t.db.sql, "bt_security"), []);
  assert.deepEqual(await queued(t.db.sql, "bt_query_optimizer"), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), [], "the run's message is finished");
  assert.deepEqual(t.worker.wakes, [["db-architect"]]);

  assert.deepEqual(await eventLog(t.db.sql, runId), [
    "run.status received",
    "run.status understanding",
    "run.status planning",
    "task.status pending T1",
    "task.status pending T2",
    "task.status pending T3",
    "run.status executing",
    "task.status queued T1",
  ]);

  // Understanding is asked with the request; planning with the request and the understanding.
  const [understandRequest] = asked(t.llm, "understand");
  const [planRequest] = asked(t.llm, "plan");
  assert.equal(understandRequest.schemaName, "understanding");
  assert.equal(understandRequest.runId, runId);
  assert.match(lastMessage(understandRequest), /Request:\nDesign the schema for a trade journal/);
  assert.equal(planRequest.schemaName, "plan");
  assert.match(lastMessage(planRequest), /What you understood:[\s\S]*"complexity": "complex"/);
  assert.equal(t.llm.requests.length, 2);
  assert.deepEqual(t.worker.errors, []);
});

Deno.test("a one-index request is planned as a single query-optimizer task", async () => {
  await using t = await setup([PLANNING("simple_index")]);
  const runId = await submitAs(t.db.sql, t.user, "Add an index on trades(user_id, opened_at)");
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "executing", JSON.stringify(run.error));
  assert.equal(run.complexity, "simple");
  assert.equal(run.strategy, "sequential");
  const tasks = await tasksOf(t.db.sql, runId);
  assert.deepEqual(
    tasks.map((task) => [task.key, task.agent, task.depends_on, task.status]),
    [["T1", "query-optimizer", [], "queued"]],
  );
  assert.deepEqual(await queued(t.db.sql, "bt_query_optimizer"), [
    { task_id: tasks[0].id, run_id: runId },
  ]);
  assert.deepEqual(t.worker.wakes, [["query-optimizer"]]);
});

Deno.test("a complex plan queues its ready tasks only up to the run's max_parallel", async () => {
  await using t = await setup([PLANNING("complex_dashboard")]);
  const runId = await submitAs(
    t.db.sql,
    t.user,
    "Build the backend for a trading dashboard: watchlists, price alerts pushed live, fix the slow journal queries, deploy from CI",
    { max_parallel: 2 },
  );
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "executing", JSON.stringify(run.error));
  assert.equal(run.strategy, "hybrid");
  const tasks = await tasksOf(t.db.sql, runId);
  assert.deepEqual(
    tasks.map((task) => [task.key, task.agent, task.remaining_deps, task.status]),
    [
      ["T1", "db-architect", 0, "queued"],
      ["T2", "monitor", 0, "queued"],
      ["T3", "deployment", 0, "pending"], // ready, but two tasks are already in flight
      ["T4", "security", 1, "pending"],
      ["T5", "query-optimizer", 2, "pending"],
      ["T6", "edge-functions", 2, "pending"],
      ["T7", "websocket", 1, "pending"],
    ],
  );
  assert.deepEqual(tasks[5].depends_on, ["T4", "T5"]);
  assert.equal((await queued(t.db.sql, "bt_db_architect")).length, 1);
  assert.equal((await queued(t.db.sql, "bt_monitor")).length, 1);
  assert.equal((await queued(t.db.sql, "bt_deployment")).length, 0);
  assert.deepEqual(t.worker.wakes.flat().sort(), ["db-architect", "monitor"]);
});

Deno.test("an ambiguous request waits for typed answers, then is understood with them and planned", async () => {
  await using t = await setup([PLANNING("make_it_faster")]);
  const runId = await submitAs(t.db.sql, t.user, "Make it faster");
  await t.worker.drain();

  const waiting = await readRun(t.db.sql, runId);
  assert.equal(waiting.status, "awaiting_clarification", JSON.stringify(waiting.error));
  assert.equal(waiting.complexity, "ambiguous");
  assert.deepEqual(waiting.clarification?.questions, [
    {
      id: "slow_query",
      text: "Which query or endpoint is slow? Paste it if you can.",
      kind: "text",
      choices: null,
      required: true,
    },
    {
      id: "table_size",
      text: "Roughly how many rows does the main table hold?",
      kind: "choice",
      choices: ["under 100k", "100k to 10M", "over 10M"],
      required: false,
    },
    {
      id: "can_change_schema",
      text: "May the fix change the schema (not only add indexes)?",
      kind: "boolean",
      choices: null,
      required: false,
    },
  ]);
  assert.equal(waiting.clarification?.answers, null);
  assert.equal(waiting.clarification?.reason, "No query, table or endpoint is named.");
  assert.deepEqual(await tasksOf(t.db.sql, runId), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), []);
  assert.deepEqual(asked(t.llm, "plan"), [], "nothing is planned before the answers");

  await answerAs(t.db.sql, t.user, runId, {
    slow_query: "the list of my open positions",
    table_size: "100k to 10M",
    can_change_schema: false,
  });
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), [{ run_id: runId }]);
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "executing", JSON.stringify(run.error));
  assert.equal(run.complexity, "simple");
  assert.equal(run.clarification?.answers?.slow_query, "the list of my open positions");
  const second = asked(t.llm, "understand")[1];
  assert.ok(second, "the request is understood again with the answers");
  const text = lastMessage(second);
  assert.match(text, /The user answered your questions:/);
  assert.match(
    text,
    /Which query or endpoint is slow\? Paste it if you can\.: "the list of my open positions"/,
  );
  assert.match(text, /Roughly how many rows does the main table hold\?: "100k to 10M"/);
  assert.match(text, /May the fix change the schema \(not only add indexes\)\?: false/);
  assert.match(lastMessage(asked(t.llm, "plan")[0]), /the list of my open positions/);
  assert.deepEqual(
    (await tasksOf(t.db.sql, runId)).map((task) => [task.key, task.agent, task.status]),
    [["T1", "query-optimizer", "queued"]],
  );
  assert.deepEqual(await eventLog(t.db.sql, runId), [
    "run.status received",
    "run.status understanding",
    "run.status awaiting_clarification",
    "run.status understanding",
    "run.status planning",
    "task.status pending T1",
    "run.status executing",
    "task.status queued T1",
  ]);
});

Deno.test("through the REST API a user sees the questions, has bad answers refused, and answers", async () => {
  await using t = await setup([PLANNING("make_it_faster")]);
  const background: Promise<unknown>[] = [];
  const app = createOrchestratorApp({
    sql: t.db.sql,
    jwtSecret: LOCAL_JWT_SECRET,
    onRunSubmitted: () => t.worker.drain(),
    onRunAnswered: () => t.worker.drain(),
    waitUntil: (work) => background.push(work),
    logError: (e) => background.push(Promise.reject(e)),
  });
  // A new request from parts, so the app never touches the server request's `signal`.
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) =>
      app.fetch(new Request(req.url, { method: req.method, headers: req.headers, body: req.body })),
  );
  try {
    const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: t.user });
    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/orchestrator${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const settle = async () => {
      while (background.length > 0) await Promise.all(background.splice(0));
    };

    const created = await api("/runs", { request: "Make it faster" });
    assert.equal(created.status, 202);
    await settle();
    const runId: string = created.body.run.id;
    const waiting = await api(`/runs/${runId}`);
    assert.equal(waiting.body.run.status, "awaiting_clarification");
    assert.deepEqual(
      waiting.body.run.clarification.questions.map((q: { id: string; kind: string }) => q.kind),
      ["text", "choice", "boolean"],
    );

    const refused = await api(`/runs/${runId}/answers`, {
      answers: { table_size: "a few", can_change_schema: "yes" },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "validation_failed");
    assert.equal((await api(`/runs/${runId}`)).body.run.status, "awaiting_clarification");

    const answered = await api(`/runs/${runId}/answers`, {
      answers: { slow_query: "my open positions page", table_size: "over 10M" },
    });
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    await settle();
    const detail = await api(`/runs/${runId}`);
    assert.equal(detail.body.run.status, "executing", JSON.stringify(detail.body.run.error));
    assert.deepEqual(
      detail.body.tasks.map((task: { key: string; agent: string }) => [task.key, task.agent]),
      [["T1", "query-optimizer"]],
    );
    assert.match(lastMessage(asked(t.llm, "understand")[1]), /"my open positions page"/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a rate-limited LLM is retried and the run is planned", async () => {
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [{
      name: "rate limited once",
      match: { phase: "understand" },
      answers: [{ kind: "http_error", status: 429, retry_after_ms: 20 }],
      exhausted: "fall_through",
    }],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  assert.equal((await readRun(t.db.sql, runId)).status, "executing");
  assert.deepEqual(
    asked(t.llm, "understand").map((r) => [r.outcome, r.retryCount]),
    [["http_error", 0], ["json", 1]],
  );
  assert.equal((await tasksOf(t.db.sql, runId)).length, 3);
});

Deno.test("an LLM that keeps failing while the request is read asks the user (retry, another model, cancel) with a safe message", async () => {
  await using t = await setup([], [{
    rules: [{
      name: "down",
      answers: [{
        kind: "http_error",
        status: 500,
        message: "the model is overloaded",
        retry_after_ms: 10,
      }],
    }],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  // A person can save this run (retry later, another model): it asks instead of failing.
  assert.equal(run.status, "awaiting_clarification");
  const c = run.clarification as {
    kind: string;
    escalation: string;
    resume_to: string;
    reason: string;
    questions: { id: string; choices: string[] | null }[];
  };
  assert.deepEqual([c.kind, c.escalation, c.resume_to], ["recovery", "model", "understanding"]);
  // The user reads what happened; the endpoint's address and words are for the log.
  assert.equal(
    c.reason,
    "The orchestrator's model is unavailable: the language model answered HTTP 500",
  );
  assert.deepEqual(c.questions.find((q) => q.id === "action")?.choices, [
    "retry",
    "other_model",
    "cancel",
  ]);
  assert.equal(t.llm.requests.length, 3, "the SDK's two retries, then no more");
  assert.deepEqual(await tasksOf(t.db.sql, runId), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), [], "the message is finished");
  assert.deepEqual(
    (await eventLog(t.db.sql, runId)).at(-1),
    "run.status awaiting_clarification",
  );
});

Deno.test("a plan that is not JSON is asked again with the parse error", async () => {
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [{
      name: "broken JSON once",
      match: { phase: "plan" },
      answers: [{
        kind: "text",
        text: '{"goal": "trade journal", "strategy": "hybrid", "tasks": [',
      }],
      exhausted: "fall_through",
    }],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  assert.equal((await readRun(t.db.sql, runId)).status, "executing");
  const [first, again] = asked(t.llm, "plan");
  assert.equal(first.reask, 0);
  assert.equal(again.reask, 1);
  assert.match(
    lastMessage(again),
    /Your previous answer was rejected: the answer is not valid JSON/,
  );
  assert.equal(again.messages.at(-2)?.role, "assistant", "the broken answer is shown back");
  assert.equal((await tasksOf(t.db.sql, runId)).length, 3);
});

Deno.test("a plan that does not match the schema is asked again naming the field", async () => {
  const plan = JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[1].answers[0].value;
  const { output: _dropped, ...withoutOutput } = plan.tasks[1];
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [{
      name: "T2 without output once",
      match: { phase: "plan" },
      answers: [{
        kind: "json",
        value: { ...plan, tasks: [plan.tasks[0], withoutOutput, plan.tasks[2]] },
      }],
      exhausted: "fall_through",
    }],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  assert.equal((await readRun(t.db.sql, runId)).status, "executing");
  const again = asked(t.llm, "plan")[1];
  assert.match(lastMessage(again), /does not match the schema:\n- tasks\[1\]\.output: /);
  assert.equal((await tasksOf(t.db.sql, runId)).length, 3);
});

Deno.test("a cyclic plan is sent back with the cycle, then with the wrong strategy, until it is valid", async () => {
  await using t = await setup([PLANNING("cycle_then_fixed"), TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "executing", JSON.stringify(run.error));
  const fixes = asked(t.llm, "plan-fix");
  assert.equal(fixes.length, 2);
  assert.equal(
    lastMessage(fixes[0]),
    "That plan cannot run. Fix exactly these problems and answer with the whole corrected plan:\n" +
      "- dependency cycle: T1 -> T2 -> T1",
  );
  assert.match(
    lastMessage(fixes[1]),
    /- strategy is "parallel" but the dependency graph is hybrid/,
  );
  // The model sees its own plan before the problems with it.
  assert.match(fixes[0].messages.at(-2)?.content ?? "", /"depends_on":\["T2"\]/);
  assert.deepEqual(
    (await tasksOf(t.db.sql, runId)).map((task) => [task.key, task.depends_on]),
    [["T1", []], ["T2", ["T1"]], ["T3", ["T1"]]],
  );
});

Deno.test("a plan naming an unknown agent is sent back naming it, then planned", async () => {
  await using t = await setup([PLANNING("unknown_agent_then_fixed"), TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  assert.equal((await readRun(t.db.sql, runId)).status, "executing");
  const again = asked(t.llm, "plan")[1];
  assert.ok(again, "the plan is asked again");
  // The answer is shown back, then the field that is wrong and the agents there are.
  assert.match(again.messages.at(-2)?.content ?? "", /"agent":"frontend"/);
  const followUp = lastMessage(again);
  assert.match(followUp, /does not match the schema:\n- tasks\[1\]\.agent: /);
  for (const agent of ["db-architect", "security", "query-optimizer", "websocket"]) {
    assert.ok(followUp.includes(`"${agent}"`), `the follow-up lists ${agent}`);
  }
  assert.deepEqual(
    (await tasksOf(t.db.sql, runId)).map((task) => task.agent),
    ["db-architect", "security", "query-optimizer"],
  );
});

Deno.test("a plan that stays invalid asks the user (plan_invalid, naming the problem) instead of failing", async () => {
  await using t = await setup([PLANNING("persistently_invalid"), TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "awaiting_clarification");
  assert.equal(run.error, null);
  const clarification = run.clarification as {
    kind: string;
    escalation: string;
    resume_to: string;
    reason: string;
    findings: { rule: string; message: string }[];
  };
  assert.deepEqual(
    [clarification.kind, clarification.escalation, clarification.resume_to],
    ["recovery", "plan", "planning"],
  );
  assert.match(clarification.reason, /task T3 depends on unknown task T9/);
  assert.equal(clarification.findings[0].rule, "plan_invalid");
  assert.equal(asked(t.llm, "plan").length + asked(t.llm, "plan-fix").length, 3);
  assert.deepEqual(await tasksOf(t.db.sql, runId), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), []);
});

Deno.test("a run that goes over its token budget fails with budget_exceeded and gets no tasks", async () => {
  const plan = JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[1].answers[0].value;
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [
      {
        name: "small understanding",
        match: { phase: "understand" },
        answers: [{
          kind: "json",
          value: JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[0].answers[0].value,
          usage: { prompt_tokens: 400, completion_tokens: 100 },
        }],
      },
      {
        name: "big plan",
        match: { phase: "plan" },
        answers: [{
          kind: "json",
          value: plan,
          usage: { prompt_tokens: 400, completion_tokens: 4000 },
        }],
      },
    ],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST, { token_budget: 1000 });
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "failed");
  assert.equal(run.error?.code, "budget_exceeded");
  assert.equal(run.error?.message, "the run used 4900 tokens, over its budget of 1000");
  assert.deepEqual([run.prompt_tokens, run.completion_tokens], [800, 4100]);
  assert.equal(t.llm.requests.length, 2, "nothing is asked after the budget is spent");
  assert.deepEqual(await tasksOf(t.db.sql, runId), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), []);
});

Deno.test("a redelivered message for a run already executing changes nothing", async () => {
  await using t = await setup([TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  await t.worker.drain();
  const before = {
    run: await readRun(t.db.sql, runId),
    tasks: await tasksOf(t.db.sql, runId),
    events: await eventLog(t.db.sql, runId),
    queued: await queued(t.db.sql, "bt_db_architect"),
  };
  assert.equal(before.run.status, "executing");

  await t.db.sql`select pgmq.send('bt_orchestrator', ${t.db.sql.json({ run_id: runId })})`;
  await t.worker.drain();

  assert.deepEqual(await readRun(t.db.sql, runId), before.run);
  assert.deepEqual(await tasksOf(t.db.sql, runId), before.tasks);
  assert.deepEqual(await eventLog(t.db.sql, runId), before.events);
  assert.deepEqual(await queued(t.db.sql, "bt_db_architect"), before.queued);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), [], "the duplicate is finished");
  assert.equal(t.llm.requests.length, 2, "no LLM call");
  assert.deepEqual(t.worker.wakes, [["db-architect"]], "nobody else is woken");
  assert.deepEqual(t.worker.errors, []);
});

Deno.test("a run cancelled while it is being understood stays cancelled and its message is finished", async () => {
  const understanding = JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[0].answers[0]
    .value;
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [{
      name: "slow understanding",
      match: { phase: "understand" },
      answers: [{ kind: "json", value: understanding, latency_ms: 400 }],
    }],
  }]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  const draining = t.worker.drain();
  while (asked(t.llm, "understand").length === 0) await new Promise((r) => setTimeout(r, 10));
  await asCaller(
    t.db.sql,
    { role: "authenticated", sub: t.user },
    (tx) => tx`select backend_team.cancel_run(${runId}::uuid)`,
  );
  await draining;

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "cancelled");
  assert.deepEqual(await tasksOf(t.db.sql, runId), []);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), [], "the message is finished");
  assert.deepEqual(asked(t.llm, "plan"), []);
  assert.deepEqual(t.worker.errors, [], "the worker is not surprised");
});

Deno.test("a worker stopped during an LLM call cancels it and leaves the run to the next worker", async () => {
  const understanding = JSON.parse(await Deno.readTextFile(TRADE_JOURNAL)).rules[0].answers[0]
    .value;
  await using t = await setup([TRADE_JOURNAL], [{
    rules: [{
      name: "slow understanding once",
      match: { phase: "understand" },
      answers: [{ kind: "json", value: understanding, latency_ms: 5000 }],
      exhausted: "fall_through",
    }],
  }], { vtSeconds: 1 });
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  const draining = t.worker.drain();
  while (asked(t.llm, "understand").length === 0) await new Promise((r) => setTimeout(r, 10));
  const stopping = performance.now();
  await t.worker.stop();
  await draining;
  assert.ok(performance.now() - stopping < 2000, "the LLM call is cancelled, not waited for");
  assert.equal((await readRun(t.db.sql, runId)).status, "understanding", "not failed");
  assert.equal((await queued(t.db.sql, "bt_orchestrator")).length, 1, "the message stays");

  await using next = await startRunWorker({ sql: t.db.sql, llmUrl: t.llm.url, vtSeconds: 1 });
  while ((await readRun(t.db.sql, runId)).status !== "executing") {
    await next.drain();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await tasksOf(t.db.sql, runId)).length, 3);
  assert.deepEqual(next.errors, []);
});

Deno.test("a run whose message keeps coming back without finishing is failed, not retried forever", async () => {
  await using t = await setup([TRADE_JOURNAL]);
  const runId = await submitAs(t.db.sql, t.user, SEED_REQUEST);
  // Five deliveries that never finished (workers that died on the message).
  for (let i = 0; i < 5; i++) await t.db.sql`select * from pgmq.read('bt_orchestrator', 0, 1)`;
  await t.worker.drain();

  const run = await readRun(t.db.sql, runId);
  assert.equal(run.status, "failed");
  assert.equal(run.error?.code, "dead_lettered");
  assert.match(run.error?.message ?? "", /picked up 5 times while received without finishing/);
  assert.equal(t.llm.requests.length, 0);
  assert.deepEqual(await queued(t.db.sql, "bt_orchestrator"), []);
});
