/**
 * The validate → retry → escalate loop end to end, through the real worker functions: an agent
 * output that fails on the shadow database is sent back to the same agent with the findings and
 * the fix asked for; a fixed answer is accepted; an agent that keeps failing is escalated to the
 * user, who answers over the API, and the task runs again with the answer in its context.
 */
import assert from "node:assert/strict";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { dbArchitectAnswer } from "../fixtures/trade_journal/scenario.ts";
import { runChanges } from "../_support/events.ts";

const REQUEST = "Create the positions table for my trading app";

function orchestrator(): ScenarioInput {
  return {
    rules: [{
      name: "understand",
      match: { agent: "orchestrator", phase: "understand" },
      answers: [{
        kind: "json",
        value: {
          goal: "A positions table",
          requirements: ["positions table"],
          assumptions: ["owner-only access"],
          ambiguities: [],
          complexity: "simple",
          scope: ["schema"],
          questions: [],
        },
      }],
    }, {
      name: "plan",
      match: { agent: "orchestrator", phase: "plan" },
      answers: [{
        kind: "json",
        value: {
          goal: "A positions table",
          strategy: "sequential",
          tasks: [{
            id: "T1",
            agent: "db-architect",
            title: "Trade journal schema",
            input: "Create the journal tables with owner-only RLS.",
            output: ["migration"],
            depends_on: [],
            tables: ["positions", "trades", "tags", "trade_tags"],
          }],
          checkpoints: [],
          contracts: [],
          integration: [],
        },
      }],
    }],
  };
}

/** The valid answer with an index on a column that does not exist: it cannot apply. */
async function brokenAnswer() {
  const valid = await dbArchitectAnswer();
  const [migration] = valid.artifacts.migrations;
  return {
    ...valid,
    artifacts: {
      migrations: [{
        ...migration,
        up_sql: migration.up_sql +
          "\ncreate index positions_ticker_idx on public.positions (ticker);\n",
      }],
    },
  };
}

function agentAnswers(answers: object[]): ScenarioInput {
  return {
    rules: [{
      name: "db-architect",
      match: { agent: "db-architect" },
      answers: answers.map((value) => ({
        kind: "json" as const,
        value: structuredClone(value) as never,
      })),
    }],
  };
}

Deno.test("an output that fails validation is sent back with its findings and the fixed one is accepted", async () => {
  await using app = await startProduct({
    scenarios: [orchestrator(), agentAnswers([await brokenAnswer(), await dbArchitectAnswer()])],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, REQUEST);
  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => ["completed", "failed", "awaiting_clarification"].includes(d.run.status),
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));

  const attempts = await app.db.sql<{ attempt: number; status: string; validation: unknown }[]>`
    select attempt, status, validation from backend_team.task_attempts order by attempt`;
  assert.deepEqual(attempts.map((a) => [a.attempt, a.status]), [[1, "invalid"], [2, "succeeded"]]);
  const first = attempts[0].validation as { ok: boolean; findings: { rule: string }[] };
  assert.equal(first.ok, false);
  assert.ok(first.findings.some((f) => f.rule === "apply_error"), JSON.stringify(first));

  const asked = app.llm.requests.filter((r) => r.agent === "db-architect");
  assert.equal(asked.length, 2);
  const retryPrompt = asked[1].messages.map((m) => m.content).join("\n");
  assert.match(retryPrompt, /apply_error/, "the retry names the failed rule");
  assert.match(retryPrompt, /ticker/, "the retry carries Postgres' message");
  assert.doesNotMatch(asked[0].messages.map((m) => m.content).join("\n"), /apply_error/);

  // The task.status event that ends each attempt carries the validator's verdict.
  const events = (await runChanges(app.db.sql, run.id))
    .filter((e) => e.type === "task.status" && "validation" in e.payload);
  assert.deepEqual(
    events.map((e) => (e.payload.validation as { ok: boolean }).ok),
    [false, true],
  );
});

Deno.test("an agent that keeps failing is escalated with the findings; the user's answer resumes it", async () => {
  const broken = await brokenAnswer();
  await using app = await startProduct({
    scenarios: [orchestrator(), agentAnswers([broken, broken, broken, await dbArchitectAnswer()])],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, REQUEST);
  const waiting = await app.waitForRun(
    alice.token,
    run.id,
    (d) => ["completed", "failed", "awaiting_clarification"].includes(d.run.status),
  );
  assert.equal(waiting.run.status, "awaiting_clarification", JSON.stringify(waiting.run.error));
  assert.equal(waiting.tasks[0].status, "escalated");
  const clarification = waiting.run.clarification as {
    findings: { rule: string }[];
    questions: { id: string }[];
    resume_to: string;
  };
  assert.equal(clarification.resume_to, "executing");
  assert.ok(clarification.findings.some((f) => f.rule === "apply_error"));
  const [question] = clarification.questions;

  const answered = await app.api(alice.token, `/runs/${run.id}/answers`, {
    method: "POST",
    body: JSON.stringify({
      answers: { [question.id]: "Drop the ticker index; symbol is enough." },
    }),
  });
  assert.equal(answered.status, 200, await answered.clone().text());

  const done = await app.waitForRun(
    alice.token,
    run.id,
    (d) => ["completed", "failed"].includes(d.run.status),
  );
  assert.equal(done.run.status, "completed", JSON.stringify(done.run.error));
  const attempts = await app.db.sql<{ status: string }[]>`
    select status from backend_team.task_attempts order by attempt`;
  assert.deepEqual(attempts.map((a) => a.status), ["invalid", "invalid", "invalid", "succeeded"]);
  const asked = app.llm.requests.filter((r) => r.agent === "db-architect");
  assert.equal(asked.length, 4);
  assert.match(
    asked[3].messages.map((m) => m.content).join("\n"),
    /symbol is enough/,
    "the resumed attempt carries the user's answer",
  );
});
