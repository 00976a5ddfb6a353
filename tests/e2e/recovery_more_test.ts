/**
 * Recovery end to end, continued (the real workers, shadow validation and a scripted LLM on
 * loopback): a task still invalid after its retries is split in two by the planner (a refused split
 * re-asked first), the amended plan stays a valid DAG and its dependents complete on the new
 * tasks; a plan still invalid after its corrections asks the user instead of failing the run, and
 * the answer (another model, guidance) resumes planning; a money budget (`cost_budget_usd`) stops a
 * retry before it starts, and a raised one resumes the run. At delivery, an integration failure
 * blamed on a task that can no longer be redone asks instead of hanging, and `skip` withdraws the
 * skipped task's files and those of the tasks built on it.
 */
import assert from "node:assert/strict";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { dbArchitectAnswer } from "../fixtures/trade_journal/scenario.ts";
import { type Plan, validatePlan } from "../../shared/plan/mod.ts";
import { loadDelivery } from "../../shared/delivery/delivery_store.ts";
import { recoverIntegration } from "../../shared/delivery/recover_integration.ts";
import { resumeEscalatedTasks } from "../../shared/orchestration/run_store.ts";
import { abandonSplit } from "../../shared/orchestration/decompose.ts";
import { freshDatabase } from "../_support/db.ts";
import { runChanges } from "../_support/events.ts";

type Agent = "db-architect" | "security";
const usage = { prompt_tokens: 100, completion_tokens: 100 };

const understanding = {
  goal: "A trade journal",
  requirements: ["journal tables"],
  assumptions: ["owner-only access"],
  ambiguities: [],
  complexity: "moderate",
  scope: ["schema"],
  questions: [],
};

function planOf(tasks: { id: string; agent: Agent; depends_on: string[] }[]) {
  return {
    goal: "A trade journal",
    strategy: "sequential",
    tasks: tasks.map((t) => ({
      ...t,
      title: `${t.agent} for the trade journal`,
      input: `The trade journal's ${t.agent} work.`,
      output: ["migration"],
      tables: ["positions", "trades", "tags", "trade_tags"],
    })),
    checkpoints: [],
    contracts: [],
    integration: [],
  };
}

function orchestrator(
  tasks: { id: string; agent: Agent; depends_on: string[] }[],
  more: ScenarioInput["rules"] = [],
): ScenarioInput {
  return {
    rules: [{
      name: "understand",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [{ kind: "json", usage, value: understanding }],
    }, {
      name: "plan",
      match: { agent: "orchestrator", phase: "plan" },
      answers: [{ kind: "json", usage, value: planOf(tasks) }],
    }, ...more],
  };
}

const json = (value: unknown, extra: Record<string, unknown> = {}) => ({
  kind: "json" as const,
  value: structuredClone(value) as never,
  ...extra,
});

/** db-architect's answer with an index on a column positions does not have (a schema error). */
async function brokenSchema() {
  const broken = structuredClone(await dbArchitectAnswer());
  broken.artifacts.migrations[0].up_sql +=
    "\ncreate index positions_ticker_idx on public.positions (ticker);\n";
  return broken;
}

/** A second, small db-architect migration: documents positions (its rollback restores it). */
async function commentAnswer() {
  const valid = await dbArchitectAnswer();
  return {
    ...valid,
    summary: "Documents the positions table.",
    artifacts: {
      migrations: [{
        name: "document_positions",
        description: "Documents what a position is.",
        up_sql: "comment on table public.positions is 'Reviewed: one instrument per position.';\n",
        down_sql: "comment on table public.positions is " +
          "'A position in one instrument, opened and closed by trades.';\n",
        policies: [],
      }],
    },
  };
}

/** A security review that finds nothing to change. */
function securityNoop() {
  return {
    summary: "Owner-only RLS is in place on every table; nothing to change.",
    artifacts: {
      migrations: [{
        name: "note_security_review",
        description: "Records the review on the trades table.",
        up_sql: "comment on table public.trades is 'Reviewed by security: owner-only RLS.';\n",
        down_sql: "comment on table public.trades is " +
          "'A fill: part of a position bought or sold at a price.';\n",
        policies: [],
      }],
      findings: [],
    },
    notes: [],
    assumptions: [],
  };
}

interface Decision {
  class: string;
  strategy: string;
  from_task: string | null;
  to_task: string | null;
  reason: string;
}

async function decisionEvents(app: Awaited<ReturnType<typeof startProduct>>, runId: string) {
  return (await runChanges(app.db.sql, runId))
    .filter((e) => e.type === "recovery.decision")
    .map((e) => e.payload as unknown as Decision);
}

const settled = (s: string) =>
  ["completed", "failed", "cancelled", "awaiting_clarification"].includes(s);

const splitTask = (id: string, depends_on: string[], title: string) => ({
  id,
  agent: "db-architect",
  title,
  input: `${title}, with owner-only RLS.`,
  output: ["migration"],
  depends_on,
  tables: ["positions", "trades", "tags", "trade_tags"],
});

Deno.test("a task still invalid after its retries is split in two; the DAG stays valid and its dependents complete", async () => {
  const broken = await brokenSchema();
  await using app = await startProduct({
    scenarios: [
      orchestrator([
        { id: "T1", agent: "db-architect", depends_on: [] },
        { id: "T2", agent: "security", depends_on: ["T1"] },
      ], [{
        name: "split",
        match: { agent: "orchestrator", phase: "split" },
        // S1 needs T2, which needs T1's replacement: a cycle, refused and sent back.
        answers: [json({
          reason: "The schema and its documentation are separate concerns.",
          tasks: [splitTask("S1", ["T2"], "The tables"), splitTask("S2", ["S1"], "Document them")],
        }, { usage })],
      }, {
        name: "split-fix",
        match: { agent: "orchestrator", phase: "split-fix" },
        answers: [json({
          reason: "The tables first, then their documentation.",
          tasks: [splitTask("S1", [], "The tables"), splitTask("S2", ["S1"], "Document them")],
        }, { usage })],
      }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [
            json(broken),
            json(broken),
            json(broken),
            json(await dbArchitectAnswer()),
            json(await commentAnswer()),
          ],
        }],
      },
      {
        rules: [{
          name: "security",
          match: { agent: "security" },
          answers: [json(securityNoop())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const done = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification]),
  );
  const tasks = await app.db.sql<
    {
      key: string;
      agent: string;
      status: string;
      depends_on: string[];
      input: { split_of?: string };
      error: { code?: string } | null;
    }[]
  >`
    select key, agent, status, depends_on, input, error from backend_team.tasks
     where run_id = ${run.id} order by length(key), key`;
  assert.deepEqual(tasks.map((t) => [t.key, t.status, t.depends_on, t.input.split_of ?? null]), [
    ["T1", "cancelled", [], null],
    ["T2", "succeeded", ["T4"], null],
    ["T3", "succeeded", [], "T1"],
    ["T4", "succeeded", ["T3"], "T1"],
  ]);
  assert.equal(tasks[0].error?.code, "superseded");

  const [stored] = await app.db.sql<{ plan: Plan; strategy: string }[]>`
    select plan, strategy from backend_team.runs where id = ${run.id}`;
  assert.deepEqual(stored.plan.tasks.map((t) => [t.id, t.depends_on]), [
    ["T2", ["T4"]],
    ["T3", []],
    ["T4", ["T3"]],
  ]);
  assert.deepEqual(validatePlan(stored.plan), [], "the amended plan is a valid DAG");
  assert.equal(stored.strategy, "sequential");

  const events = await decisionEvents(app, run.id);
  assert.deepEqual(events.map((e) => [e.class, e.strategy, e.from_task, e.to_task]), [
    ["schema", "retry", "T1", "T1"],
    ["schema", "retry", "T1", "T1"],
    ["schema", "decompose", "T1", null],
    ["schema", "decompose", "T1", "T3, T4"],
  ]);
  assert.match(events[3].reason, /split T1 into T3 \(db-architect\), T4 \(db-architect\)/);

  const splits = app.llm.requests.filter((r) =>
    r.agent === "orchestrator" && /^split/.test(r.phase ?? "")
  );
  assert.equal(splits.length, 2, "one refused split, re-asked once");
  const asked = splits[0].messages.map((m) => m.content).join("\n");
  assert.match(asked, /The failing task: T1 \(db-architect\)/);
  assert.match(asked, /apply_error|positions_ticker_idx|ticker/, "the planner sees the findings");
  assert.match(splits[1].messages.at(-1)!.content, /cycle/);
  assert.equal(app.llm.requests.filter((r) => r.agent === "db-architect").length, 5);
  assert.equal(app.llm.requests.filter((r) => r.agent === "security").length, 1);

  const deliverable = await app.api(alice.token, `/runs/${run.id}/deliverable`);
  const body = await deliverable.json() as { files: { path: string; content: string }[] };
  const sql = body.files.filter((f) => f.path.endsWith(".sql")).map((f) => f.content).join("\n");
  assert.doesNotMatch(sql, /positions_ticker_idx/, "the superseded task delivers nothing");
  assert.match(sql, /Reviewed: one instrument per position/);
  assert.match(sql, /Reviewed by security/);
});

Deno.test("a split the planner cannot get right escalates the task with the recovery questions; guidance resumes it", async () => {
  const broken = await brokenSchema();
  // S1 depends on itself: refused, and the corrections repeat it.
  const cyclic = {
    reason: "Two parts.",
    tasks: [splitTask("S1", ["S1"], "The tables"), splitTask("S2", ["S1"], "Document them")],
  };
  await using app = await startProduct({
    scenarios: [
      orchestrator([{ id: "T1", agent: "db-architect", depends_on: [] }], [{
        name: "split",
        match: { agent: "orchestrator", phase: "split" },
        answers: [json(cyclic, { usage })],
      }, {
        name: "split-fix",
        match: { agent: "orchestrator", phase: "split-fix" },
        answers: [json(cyclic, { usage }), json(cyclic, { usage })],
      }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(broken), json(broken), json(broken), json(await dbArchitectAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as {
    escalation: string;
    reason: string;
    task_key: string;
    questions: { id: string }[];
  };
  assert.deepEqual([clarification.escalation, clarification.task_key], ["validation", "T1"]);
  assert.match(clarification.reason, /split was refused after 2 corrections: .*cycle/);
  assert.equal(clarification.questions[0].id, "guidance");
  assert.deepEqual(waiting.tasks.map((t) => [t.key, t.status]), [["T1", "escalated"]]);
  const events = await decisionEvents(app, run.id);
  assert.deepEqual(events.map((e) => e.strategy), ["retry", "retry", "decompose", "escalate"]);

  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { guidance: "Drop the ticker index.", action: "retry" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
  const asked = app.llm.requests.filter((r) => r.agent === "db-architect");
  assert.equal(asked.length, 4);
  assert.match(asked[3].messages.map((m) => m.content).join("\n"), /Drop the ticker index/);
});

Deno.test("a plan still invalid after its corrections asks the user; another model and guidance resume planning", async () => {
  // T1 depends on T9, which does not exist: invalid however often it is asked.
  const invalid = planOf([{ id: "T1", agent: "db-architect", depends_on: ["T9"] }]);
  const valid = planOf([{ id: "T1", agent: "db-architect", depends_on: [] }]);
  await using app = await startProduct({
    respond: (r) =>
      r.agent === "orchestrator" && /^plan/.test(r.phase ?? "")
        ? { kind: "json", usage, value: structuredClone(r.model === "planner-b" ? valid : invalid) }
        : undefined,
    scenarios: [
      orchestrator([]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as {
    kind: string;
    escalation: string;
    resume_to: string;
    reason: string;
    questions: { id: string; choices: string[] | null; required: boolean }[];
  };
  assert.deepEqual([clarification.kind, clarification.escalation, clarification.resume_to], [
    "recovery",
    "plan",
    "planning",
  ]);
  assert.match(clarification.reason, /unknown task T9/);
  assert.deepEqual(
    clarification.questions.map((q) => [q.id, q.choices, q.required]),
    [["guidance", null, false], ["action", ["retry", "other_model", "cancel"], true], [
      "model",
      null,
      false,
    ]],
  );
  assert.equal(waiting.tasks.length, 0);
  const planCalls = () =>
    app.llm.requests.filter((r) => r.agent === "orchestrator" && /^plan/.test(r.phase ?? ""));
  assert.equal(planCalls().length, 3, "the plan and its two corrections");

  const noModel = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "other_model" } }),
  });
  assert.equal(noModel.status, 400);
  await noModel.body?.cancel();
  const noBudget = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "raise_budget", token_budget: "900000" } }),
  });
  assert.equal(noBudget.status, 400, "raise_budget is not a choice here");
  await noBudget.body?.cancel();

  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({
      answers: { action: "other_model", model: "planner-b", guidance: "One schema task only." },
    }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) =>
      settled(d.run.status) && d.run.status !== "awaiting_clarification" || planCalls().length > 4,
  );
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification, planCalls().map((r) => r.model)]),
  );
  const last = planCalls().at(-1)!;
  assert.equal(last.model, "planner-b");
  assert.match(last.messages.map((m) => m.content).join("\n"), /One schema task only\./);
  assert.equal(planCalls().length, 4);
  assert.equal(
    app.llm.requests.filter((r) => r.phase === "understand").length,
    1,
    "understanding is not redone",
  );
});

Deno.test("a planner model that stays unavailable asks the user; retry resumes planning", async () => {
  let outage = true;
  await using app = await startProduct({
    env: { OPENAI_MAX_RETRIES: "0" },
    respond: (r) =>
      outage && r.agent === "orchestrator" && r.phase === "plan"
        ? { kind: "http_error", status: 503, message: "model overloaded" }
        : undefined,
    scenarios: [
      orchestrator([{ id: "T1", agent: "db-architect", depends_on: [] }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as { escalation: string; resume_to: string };
  assert.deepEqual([clarification.escalation, clarification.resume_to], ["model", "planning"]);
  outage = false;
  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "retry" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
});

Deno.test("the orchestrator's model unavailable while reading the request asks; another model resumes without losing the run", async () => {
  let outage = true;
  const models: (string | undefined)[] = [];
  await using app = await startProduct({
    env: { OPENAI_MAX_RETRIES: "0" },
    respond: (r) => {
      if (r.agent === "orchestrator" && r.phase === "understand") models.push(r.model);
      return outage && r.agent === "orchestrator" && r.phase === "understand"
        ? { kind: "http_error", status: 503, message: "model overloaded" }
        : undefined;
    },
    scenarios: [
      orchestrator([{ id: "T1", agent: "db-architect", depends_on: [] }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as {
    escalation: string;
    resume_to: string;
    questions: { id: string }[];
  };
  assert.deepEqual([clarification.escalation, clarification.resume_to], ["model", "understanding"]);
  assert.deepEqual(clarification.questions.map((q) => q.id), ["guidance", "action", "model"]);
  outage = false;
  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "other_model", model: "backup-model" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
  assert.equal(models.at(-1), "backup-model", JSON.stringify(models));
});

Deno.test("a plan still invalid after its corrections: cancel ends the run", async () => {
  const invalid = planOf([{ id: "T1", agent: "db-architect", depends_on: ["T1"] }]);
  await using app = await startProduct({
    respond: (r) =>
      r.agent === "orchestrator" && /^plan/.test(r.phase ?? "")
        ? { kind: "json", usage, value: structuredClone(invalid) }
        : undefined,
    scenarios: [orchestrator([])],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "cancel" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "cancelled");
});

Deno.test("a money budget that cannot pay for the next retry stops it before it starts; a raised one resumes", async () => {
  const valid = await dbArchitectAnswer();
  const broken = await brokenSchema();
  // At the scripted price ($1 / $2 per million tokens) one attempt costs $0.0035.
  const costly = { usage: { prompt_tokens: 2500, completion_tokens: 500 } };
  await using app = await startProduct({
    scenarios: [
      orchestrator([{ id: "T1", agent: "db-architect", depends_on: [] }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(broken, costly), json(valid, costly)],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  // Tokens are plentiful; money is not: $0.0006 planning + $0.0035 = $0.0041 of $0.005 spent.
  const run = await app.submit(alice.token, "A trade journal", {
    options: { token_budget: 500_000, cost_budget_usd: 0.005 },
  });
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as {
    escalation: string;
    reason: string;
    questions: { id: string }[];
  };
  assert.equal(clarification.escalation, "budget", JSON.stringify(clarification));
  assert.match(
    clarification.reason,
    /retry would cost about \$0\.0035 but only \$0\.0009 of the \$0\.005 money budget remain/,
  );
  assert.ok(clarification.questions.some((q) => q.id === "cost_budget_usd"));
  assert.equal(
    app.llm.requests.filter((r) => r.agent === "db-architect").length,
    1,
    "no retry started",
  );
  const [decision] = await decisionEvents(app, run.id);
  assert.deepEqual([decision.class, decision.strategy], ["schema", "escalate"]);

  const tooLow = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "raise_budget", cost_budget_usd: "0.001" } }),
  });
  assert.equal(tooLow.status, 400, "a money budget below what is spent");
  await tooLow.body?.cancel();
  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "raise_budget", cost_budget_usd: "0.05" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
  assert.equal(done.run.cost_budget_usd, 0.05);
  assert.equal(done.run.token_budget, 500_000, "the token budget is unchanged");
});

// Integration recovery at delivery, on the state machine directly (a real database) --------------

interface Seeded {
  db: Awaited<ReturnType<typeof freshDatabase>>;
  run: string;
  ids: Record<string, string>;
}

/** A run in `delivering` with the given tasks, each with one migration file if it succeeded. */
async function seedDelivering(
  tasks: { key: string; status: string; depends_on?: string[]; error?: unknown }[],
): Promise<Seeded> {
  const db = await freshDatabase();
  const owner = crypto.randomUUID();
  await db.sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
  const [{ id: run }] = await db.sql<{ id: string }[]>`
    insert into backend_team.runs (owner_id, request, status, token_budget)
    values (${owner}, 'A trade journal', 'delivering', 200000) returning id`;
  const ids: Record<string, string> = {};
  for (const t of tasks) {
    const [{ id }] = await db.sql<{ id: string }[]>`
      insert into backend_team.tasks (run_id, owner_id, key, agent, title, status, depends_on,
                                      error, attempt)
      values (${run}, ${owner}, ${t.key}, 'db-architect', ${`task ${t.key}`}, ${t.status},
              ${t.depends_on ?? []}::text[], ${
      t.error === undefined ? null : JSON.stringify(t.error)
    }::text::jsonb, 1)
      returning id`;
    ids[t.key] = id;
    await db.sql`
      insert into backend_team.task_attempts (run_id, task_id, owner_id, attempt, status,
                                              prompt_tokens, completion_tokens, finished_at)
      values (${run}, ${id}, ${owner}, 1, 'succeeded', 1000, 200, now())`;
    await db.sql`
      insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content, meta, ordinal)
      values (${run}, ${id}, ${owner}, 'migration', ${`supabase/migrations/${t.key}.sql`},
              ${`create table public.${t.key.toLowerCase()} (id bigint primary key);`}, '{}', 1)`;
  }
  return { db, run, ids };
}

const failedApply = (key: string) => ({
  migrations: [{ path: `supabase/migrations/${key}.sql`, ok: false, error: "relation exists" }],
  tests: [],
});
const delivered = (keys: string[]) =>
  keys.map((key) => ({
    path: `supabase/migrations/${key}.sql`,
    up: `create table public.${key.toLowerCase()} (id bigint primary key);`,
    task: key,
    agent: "db-architect",
  }));

/** Answers the run's recovery question as the API does, then resumes it as the worker does. */
async function answerAndResume(s: Seeded, answers: Record<string, unknown>) {
  await s.db.sql`
    select backend_team.transition_run(${s.run}::uuid, 'executing', jsonb_build_object(
      'clarification', (select clarification from backend_team.runs where id = ${s.run}::uuid)
        || jsonb_build_object('answers', ${JSON.stringify(answers)}::text::jsonb)))`;
  return await s.db.sql.begin((tx) => resumeEscalatedTasks(tx, s.run));
}

async function statuses(s: Seeded) {
  const rows = await s.db.sql<
    { key: string; status: string; code: string | null; files: number }[]
  >`
    select t.key, t.status, t.error ->> 'code' as code,
           (select count(*)::int from backend_team.artifacts a where a.task_id = t.id) as files
      from backend_team.tasks t where t.run_id = ${s.run} order by t.key`;
  return rows.map((r) => `${r.key} ${r.status}${r.code ? `/${r.code}` : ""} files=${r.files}`);
}

Deno.test("an integration failure blamed on a task that is no longer succeeded asks instead of hanging; retry delivers again", async () => {
  const s = await seedDelivering([
    { key: "T1", status: "succeeded" },
    { key: "T2", status: "cancelled", error: { code: "superseded", message: "split" } },
  ]);
  await using _db = s.db;
  const outcome = await s.db.sql.begin((tx) =>
    recoverIntegration(tx, s.run, failedApply("T2"), delivered(["T1", "T2"]))
  );
  assert.deepEqual(outcome, { outcome: "escalated", wake: [] });
  const [run] = await s.db.sql<{ status: string; clarification: Record<string, unknown> }[]>`
    select status, clarification from backend_team.runs where id = ${s.run}`;
  assert.equal(run.status, "awaiting_clarification", "not executing with nothing queued");
  assert.equal(run.clarification.escalation, "integration");
  assert.deepEqual(run.clarification.task_keys, ["T2"]);
  assert.match(String(run.clarification.reason), /T2/);
  assert.deepEqual(await statuses(s), ["T1 succeeded files=1", "T2 cancelled/superseded files=1"]);

  // Retry: nothing can be queued, so the run delivers again (and asks again if it still fails).
  const woken = await answerAndResume(s, { action: "retry" });
  assert.deepEqual(woken, []);
  const [after] = await s.db.sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${s.run}`;
  assert.equal(after.status, "delivering");
});

Deno.test("skip after an integration escalation withdraws the skipped task's files and its dependents'; the rest is delivered", async () => {
  const s = await seedDelivering([
    { key: "T1", status: "succeeded" },
    { key: "T2", status: "succeeded", depends_on: ["T1"] },
    { key: "T3", status: "succeeded" },
  ]);
  await using _db = s.db;
  // T1 already had its integration retry: this time the run asks.
  await s.db.sql`
    insert into backend_team.recovery_decisions (run_id, owner_id, task_id, class, strategy,
                                                 from_task, to_task, reason, detail)
    select run_id, owner_id, id, 'integration', 'retry', key, key, 'earlier', '{"mode":"delivery"}'
      from backend_team.tasks where id = ${s.ids.T1}`;
  const outcome = await s.db.sql.begin((tx) =>
    recoverIntegration(tx, s.run, failedApply("T1"), delivered(["T1", "T2", "T3"]))
  );
  assert.equal(outcome.outcome, "escalated");
  assert.deepEqual(await statuses(s), [
    "T1 escalated/integration_failed files=0",
    "T2 succeeded files=1",
    "T3 succeeded files=1",
  ]);

  await answerAndResume(s, { action: "skip" });
  assert.deepEqual(await statuses(s), [
    "T1 cancelled/skipped files=0",
    "T2 cancelled/skipped files=0",
    "T3 succeeded files=1",
  ]);
  const [run] = await s.db.sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${s.run}`;
  assert.equal(run.status, "delivering");
  const input = await loadDelivery(s.db.sql, s.run);
  assert.deepEqual(input!.tasks.map((t) => t.key), ["T3"], "skipped tasks deliver nothing");
  assert.deepEqual(input!.artifacts.map((a) => a.path), ["supabase/migrations/T3.sql"]);
});

Deno.test("a split message that keeps coming back escalates its task; a duplicate split changes nothing", async () => {
  const s = await seedDelivering([{ key: "T1", status: "succeeded" }]);
  await using _db = s.db;
  await s.db.sql`update backend_team.runs set status = 'executing' where id = ${s.run}`;
  const [{ id: task }] = await s.db.sql<{ id: string }[]>`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, status, depends_on,
                                    attempt, input)
    select ${s.run}, owner_id, 'T2', 'db-architect', 'task T2', 'retrying', '{T1}', 3,
           '{"text": "the tables"}'::jsonb
      from backend_team.runs where id = ${s.run}
    returning id`;
  await s.db.sql`
    insert into backend_team.recovery_decisions (run_id, owner_id, task_id, class, strategy,
                                                 from_task, reason)
    select run_id, owner_id, id, 'schema', 'decompose', key, 'split it'
      from backend_team.tasks where id = ${task}`;
  // A split for a task that no longer waits (here: T1, succeeded) is only archived.
  const none = await s.db.sql.begin((tx) =>
    tx`select * from backend_team.apply_split(${s.ids.T1}::uuid, '{"added": []}'::jsonb, '{}'::jsonb)`
  );
  assert.equal(none.length, 0);

  const [{ msg }] = await s.db.sql<{ msg: number }[]>`
    select pgmq.send('bt_orchestrator', '{}'::jsonb) as msg`;
  await abandonSplit(s.db.sql, task, Number(msg), "splitting it was started 5 times");
  const [run] = await s.db.sql<{ status: string; clarification: Record<string, unknown> }[]>`
    select status, clarification from backend_team.runs where id = ${s.run}`;
  assert.equal(run.status, "awaiting_clarification");
  assert.equal(run.clarification.task_key, "T2");
  assert.match(String(run.clarification.reason), /started 5 times/);
  assert.deepEqual(await statuses(s), ["T1 succeeded files=1", "T2 escalated files=0"]);
  const [decision] = await s.db.sql<{ strategy: string }[]>`
    select strategy from backend_team.recovery_decisions where task_id = ${task}
     order by created_at desc limit 1`;
  assert.equal(decision.strategy, "escalate");
});

Deno.test("skipping a specialist's fix withdraws the handed-off output it was to fix, and what builds on either", async () => {
  const s = await seedDelivering([
    { key: "T1", status: "succeeded", error: { code: "handed_off", message: "RLS off" } },
    { key: "T4", status: "succeeded" },
  ]);
  await using _db = s.db;
  await s.db.sql`
    update backend_team.runs set status = 'awaiting_clarification', clarification = ${
    JSON.stringify({ kind: "recovery", task_key: "T2", task_keys: ["T2"], questions: [] })
  }::text::jsonb where id = ${s.run}`;
  await s.db.sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, status, depends_on, input)
    select ${s.run}, owner_id, 'T2', 'security', 'fix T1', 'escalated', '{T1}',
           '{"recovery_of": "T1"}'::jsonb
      from backend_team.runs where id = ${s.run}`;
  await s.db.sql`
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, status, depends_on)
    select ${s.run}, owner_id, 'T3', 'query-optimizer', 'indexes', 'pending', '{T2}'
      from backend_team.runs where id = ${s.run}`;
  await answerAndResume(s, { action: "skip" });
  assert.deepEqual(await statuses(s), [
    "T1 cancelled/skipped files=0",
    "T2 cancelled/skipped files=0",
    "T3 cancelled/skipped files=0",
    "T4 succeeded files=1",
  ]);
  const [run] = await s.db.sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${s.run}`;
  assert.equal(run.status, "delivering");
});
