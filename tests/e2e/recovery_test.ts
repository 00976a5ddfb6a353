/**
 * Recovery end to end, through the real worker functions and shadow validation, with scripted
 * agents: an RLS leak in db-architect's migration is routed to security and fixed there; an apply
 * error on an earlier task's table is routed to the debugger, whose diagnosis the failing task then
 * follows; a model outage ends in a typed question whose answer resumes the run without redoing
 * completed tasks; a budget too small for the next retry stops it before it starts and asks for
 * more. Each decision is visible in `GET /runs/:id` and as a `recovery.decision` event.
 */
import assert from "node:assert/strict";
import type { RecordedRequest, ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { dbArchitectAnswer, queryOptimizerAnswer } from "../fixtures/trade_journal/scenario.ts";
import { runChanges } from "../_support/events.ts";

type Agent = "db-architect" | "security" | "query-optimizer";
const usage = { prompt_tokens: 100, completion_tokens: 100 };

function orchestrator(tasks: { id: string; agent: Agent; depends_on: string[] }[]): ScenarioInput {
  return {
    rules: [{
      name: "understand",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [{
        kind: "json",
        usage,
        value: {
          goal: "A trade journal",
          requirements: ["journal tables"],
          assumptions: ["owner-only access"],
          ambiguities: [],
          complexity: tasks.length > 1 ? "moderate" : "simple",
          scope: ["schema"],
          questions: [],
        },
      }],
    }, {
      name: "plan",
      match: { agent: "orchestrator", phase: "plan" },
      answers: [{
        kind: "json",
        usage,
        value: {
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
        },
      }],
    }],
  };
}

const json = (value: unknown, extra: Record<string, unknown> = {}) => ({
  kind: "json" as const,
  value: structuredClone(value) as never,
  ...extra,
});

// RLS switched off on a table the API reaches: the validator's rls_disabled_in_public (a bypass).
const LEAK = `\nalter table public.positions disable row level security;\n`;

/** db-architect's valid answer, then RLS switched off on positions. */
async function leakyAnswer() {
  const valid = await dbArchitectAnswer();
  const [m] = valid.artifacts.migrations;
  return { ...valid, artifacts: { migrations: [{ ...m, up_sql: m.up_sql + LEAK }] } };
}

/** Security's fix: RLS back on (the rollback switches it off again). */
function securityFix() {
  return {
    summary: "RLS was disabled on positions, so every user read every position; enabled again.",
    artifacts: {
      migrations: [{
        name: "enable_rls_on_positions",
        description:
          "Enables row level security on positions; its owner-only policies apply again.",
        up_sql: `alter table public.positions enable row level security;\n`,
        down_sql: LEAK.trimStart(),
        policies: [],
      }],
      findings: [{
        severity: "critical" as const,
        table: "public.positions",
        issue: "Row level security is disabled.",
        risk: "Anyone with the anon key reads and changes every position.",
        fix: "Enable it; the owner-only policies remain.",
        sql: null,
      }],
    },
    notes: [],
    assumptions: [],
  };
}

/** A security review that finds nothing to change (RLS on positions stays on). */
function securityNoop() {
  const fix = securityFix();
  const [m] = fix.artifacts.migrations;
  return {
    ...fix,
    summary: "Owner-only RLS is in place on every table; nothing to change.",
    artifacts: {
      migrations: [{
        ...m,
        name: "note_security_review",
        description: "Records the review on the positions table.",
        up_sql: "comment on table public.positions is 'Reviewed by security: owner-only RLS.';\n",
        down_sql: "comment on table public.positions is " +
          "'A position in one instrument, opened and closed by trades.';\n",
      }],
      findings: [],
    },
  };
}

interface Decision {
  class: string;
  strategy: string;
  from_task: string | null;
  to_task: string | null;
  to_agent: string | null;
  reason: string;
}

async function decisionEvents(app: Awaited<ReturnType<typeof startProduct>>, runId: string) {
  return (await runChanges(app.db.sql, runId))
    .filter((e) => e.type === "recovery.decision")
    .map((e) => e.payload as unknown as Decision);
}

const settled = (s: string) =>
  ["completed", "failed", "cancelled", "awaiting_clarification"].includes(s);

Deno.test("an RLS leak in db-architect's migration is routed to security and fixed there", async () => {
  await using app = await startProduct({
    scenarios: [
      orchestrator([{ id: "T1", agent: "db-architect", depends_on: [] }]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await leakyAnswer())],
        }],
      },
      {
        rules: [{
          name: "security",
          match: { agent: "security" },
          answers: [json(securityFix())],
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

  const detail = await app.getRun(alice.token, run.id) as unknown as {
    tasks: { key: string; agent: string; status: string; depends_on: string[] }[];
    recovery: Decision[];
  };
  assert.deepEqual(detail.tasks.map((t) => [t.key, t.agent, t.status, t.depends_on]), [
    ["T1", "db-architect", "succeeded", []],
    ["T2", "security", "succeeded", ["T1"]],
  ]);
  assert.equal(detail.recovery.length, 1);
  assert.deepEqual(
    [
      detail.recovery[0].class,
      detail.recovery[0].strategy,
      detail.recovery[0].from_task,
      detail.recovery[0].to_task,
      detail.recovery[0].to_agent,
    ],
    ["security", "reroute", "T1", "T2", "security"],
  );
  const events = await decisionEvents(app, run.id);
  assert.deepEqual(events.map((e) => [e.class, e.strategy, e.from_task, e.to_task]), [
    ["security", "reroute", "T1", "T2"],
  ]);
  assert.equal(app.llm.requests.filter((r) => r.agent === "db-architect").length, 1, "no retry");
  const [asked] = app.llm.requests.filter((r) => r.agent === "security");
  assert.match(asked.messages.map((m) => m.content).join("\n"), /rls_disabled_in_public/);
  const [plan] = await app.db.sql<{ plan: { tasks: { id: string }[] } }[]>`
    select plan from backend_team.runs where id = ${run.id}`;
  assert.deepEqual(plan.plan.tasks.map((t) => t.id), ["T1", "T2"], "the stored plan is amended");
});

/** query-optimizer's answer with an index on a column T1's positions table does not have. */
async function crossTaskBroken() {
  const valid = await queryOptimizerAnswer();
  const [m] = valid.artifacts.migrations;
  return {
    ...valid,
    artifacts: {
      ...valid.artifacts,
      migrations: [{
        ...m,
        up_sql: `create index positions_ticker_idx on public.positions (ticker);\n` + m.up_sql,
        down_sql: m.down_sql + `\ndrop index if exists public.positions_ticker_idx;\n`,
      }],
    },
  };
}

function diagnosis() {
  return {
    summary: "positions has no ticker column (T1 named it symbol).",
    artifacts: {
      diagnoses: [{
        problem: "create index on public.positions (ticker) fails",
        cause: "T1's positions table names the instrument `symbol`, not `ticker`.",
        fix: "Index `symbol` instead of `ticker`, or drop that index.",
        sql: null,
        severity: "high" as const,
      }],
      migrations: [],
      files: [],
    },
    notes: [],
    assumptions: [],
  };
}

Deno.test("an apply error on an earlier task's table goes to the debugger, then the task follows its diagnosis", async () => {
  await using app = await startProduct({
    scenarios: [
      orchestrator([
        { id: "T1", agent: "db-architect", depends_on: [] },
        { id: "T2", agent: "query-optimizer", depends_on: ["T1"] },
      ]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
        }],
      },
      {
        rules: [{
          name: "qo",
          match: { agent: "query-optimizer" },
          answers: [json(await crossTaskBroken()), json(await queryOptimizerAnswer())],
        }],
      },
      { rules: [{ name: "debugger", match: { agent: "debugger" }, answers: [json(diagnosis())] }] },
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
  const detail = await app.getRun(alice.token, run.id) as unknown as {
    tasks: { key: string; agent: string; status: string; depends_on: string[] }[];
    recovery: Decision[];
  };
  assert.deepEqual(detail.tasks.map((t) => [t.key, t.agent, t.status, t.depends_on]), [
    ["T1", "db-architect", "succeeded", []],
    ["T2", "query-optimizer", "succeeded", ["T1", "T3"]],
    ["T3", "debugger", "succeeded", ["T1"]],
  ]);
  assert.deepEqual(
    detail.recovery.map((d) => [d.class, d.strategy, d.from_task, d.to_task, d.to_agent]),
    [
      ["integration", "reroute", "T2", "T3", "debugger"],
    ],
  );
  const qo = app.llm.requests.filter((r) => r.agent === "query-optimizer");
  assert.equal(qo.length, 2);
  assert.match(
    qo[1].messages.map((m) => m.content).join("\n"),
    /names the instrument `symbol`/,
    "the retry carries the debugger's diagnosis",
  );
  assert.equal(app.llm.requests.filter((r) => r.agent === "db-architect").length, 1);
});

Deno.test("a model outage ends in a question; answered, the run resumes without redoing completed tasks", async () => {
  let outage = true;
  const respond = (r: RecordedRequest) =>
    r.agent === "security" && outage
      ? { kind: "http_error" as const, status: 503, message: "model overloaded" }
      : undefined;
  await using app = await startProduct({
    respond,
    env: { BT_MAX_DELIVERIES: "2", OPENAI_MAX_RETRIES: "0" },
    scenarios: [
      orchestrator([
        { id: "T1", agent: "db-architect", depends_on: [] },
        { id: "T2", agent: "security", depends_on: ["T1"] },
      ]),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
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
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as {
    kind: string;
    escalation: string;
    task_key: string;
    questions: { id: string; kind: string; choices: string[] | null }[];
  };
  assert.equal(clarification.kind, "recovery");
  assert.equal(clarification.escalation, "model");
  assert.equal(clarification.task_key, "T2");
  const action = clarification.questions.find((q) => q.id === "action")!;
  assert.deepEqual(action.choices, ["retry", "raise_budget", "other_model", "skip", "cancel"]);
  assert.deepEqual(waiting.tasks.map((t) => [t.key, t.status]), [["T1", "succeeded"], [
    "T2",
    "escalated",
  ]]);
  const events = await decisionEvents(app, run.id);
  assert.deepEqual(events.map((e) => [e.class, e.strategy, e.from_task]), [[
    "model",
    "escalate",
    "T2",
  ]]);

  const bad = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "other_model" } }),
  });
  assert.equal(bad.status, 400, "another model must be named");
  await bad.body?.cancel();

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
  assert.equal(
    app.llm.requests.filter((r) => r.agent === "db-architect").length,
    1,
    "T1 is not redone",
  );
  const attempts = await app.db.sql<{ key: string; status: string }[]>`
    select t.key, a.status from backend_team.task_attempts a join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${run.id} order by t.key, a.attempt`;
  assert.deepEqual(attempts.map((a) => `${a.key} ${a.status}`), [
    "T1 succeeded",
    "T2 failed",
    "T2 failed",
    "T2 succeeded",
  ]);
  const last = app.llm.requests.filter((r) => r.agent === "security").at(-1)!;
  assert.equal(
    (last as unknown as { body: { model?: string } }).body?.model ?? "backup-model",
    "backup-model",
  );
  const security = app.llm.requests.filter((r) => r.agent === "security");
  assert.equal(security.at(-1)!.model, "backup-model", "the answer's model serves the agent now");
  assert.ok(security.slice(0, -1).every((r) => r.model === "scripted-model"));
  const [options] = await app.db.sql<{ options: { agent_models?: Record<string, string> } }[]>`
    select options from backend_team.runs where id = ${run.id}`;
  assert.deepEqual(options.options.agent_models, { security: "backup-model" });
});

Deno.test("a budget that cannot pay for the next retry stops it before it starts; a raised budget resumes", async () => {
  const valid = await dbArchitectAnswer();
  const broken = structuredClone(valid);
  broken.artifacts.migrations[0].up_sql +=
    "\ncreate index positions_ticker_idx on public.positions (ticker);\n";
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
  const run = await app.submit(alice.token, "A trade journal", { options: { token_budget: 4000 } });
  const waiting = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status));
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  const clarification = waiting.run.clarification as { escalation: string; reason: string };
  assert.equal(clarification.escalation, "budget");
  assert.match(clarification.reason, /retry would need about 3000 tokens/);
  assert.equal(
    app.llm.requests.filter((r) => r.agent === "db-architect").length,
    1,
    "no retry started",
  );
  const [decision] = await decisionEvents(app, run.id);
  assert.deepEqual([decision.class, decision.strategy], ["schema", "escalate"]);

  const tooLow = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "raise_budget", token_budget: "100" } }),
  });
  assert.equal(tooLow.status, 400);
  await tooLow.body?.cancel();
  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({ answers: { action: "raise_budget", token_budget: "50000" } }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => settled(d.run.status) && d.run.status !== "awaiting_clarification",
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
  assert.equal(done.run.token_budget, 50000);
});
