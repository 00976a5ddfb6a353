/**
 * Plans are contracts, end to end through the real worker functions, shadow validation and state
 * machine, with scripted agents: a plan checkpoint (`indexes` after T1) runs on the run's
 * accumulated output before T1's dependents start, fails on an unindexed foreign key (only `info`
 * for T1's own validation), is attributed to T1 and recovered by T1's retry with the findings;
 * and an API task that consumes a contract names a column the schema does not have, is caught as a
 * `contract_violation` naming the contract, its producer and the column, and retried. Each verdict
 * is a `checkpoint.*` / `contract.*` event on the run's channel and is stored with the attempt
 * (`GET /runs/:id`); each recovery is a `recovery.decision`.
 */
import assert from "node:assert/strict";
import type { ScenarioInput } from "../_support/scripted_llm/mod.ts";
import { startProduct } from "../_support/stack.ts";
import { dbArchitectAnswer, securityAnswer } from "../fixtures/trade_journal/scenario.ts";
import { runChanges } from "../_support/events.ts";

type Agent = "db-architect" | "security" | "api-data";
const usage = { prompt_tokens: 100, completion_tokens: 100 };

interface PlanParts {
  tasks: { id: string; agent: Agent; depends_on: string[] }[];
  checkpoints: { after: string; validate: string[] }[];
  contracts: { name: string; producer: string; consumers: string[]; description: string }[];
}

function orchestrator(plan: PlanParts): ScenarioInput {
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
          complexity: "moderate",
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
          tasks: plan.tasks.map((t) => ({
            ...t,
            title: `${t.agent} for the trade journal`,
            input: `The trade journal's ${t.agent} work.`,
            output: ["migration"],
            tables: ["positions", "trades", "tags", "trade_tags"],
          })),
          checkpoints: plan.checkpoints,
          contracts: plan.contracts,
          integration: [],
        },
      }],
    }],
  };
}

const json = (value: unknown) => ({
  kind: "json" as const,
  value: structuredClone(value) as never,
});

const settled = (s: string) =>
  ["completed", "failed", "cancelled", "awaiting_clarification"].includes(s);

const UNINDEXED = "create index trades_position_id_idx on public.trades (position_id);\n";

/** db-architect's answer without the index on trades.position_id (a foreign key). */
async function unindexedAnswer() {
  const valid = await dbArchitectAnswer();
  const [m] = valid.artifacts.migrations;
  assert.ok(m.up_sql.includes(UNINDEXED), "the fixture indexes trades.position_id");
  return {
    ...valid,
    artifacts: { migrations: [{ ...m, up_sql: m.up_sql.replace(UNINDEXED, "") }] },
  };
}

interface Event {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
}

async function events(app: Awaited<ReturnType<typeof startProduct>>, runId: string) {
  return await runChanges(app.db.sql, runId) as Event[];
}

/** The stored validation of a task's attempt (what its retry learns from). */
async function attemptValidation(
  app: Awaited<ReturnType<typeof startProduct>>,
  runId: string,
  key: string,
  attempt: number,
) {
  const [row] = await app.db.sql<{ validation: Record<string, unknown> }[]>`
    select a.validation from backend_team.task_attempts a
      join backend_team.tasks t on t.id = a.task_id
     where t.run_id = ${runId} and t.key = ${key} and a.attempt = ${attempt}`;
  return row.validation;
}

interface Detail {
  tasks: {
    key: string;
    status: string;
    validation: Record<string, unknown> | null;
    attempts: { attempt: number; status: string }[];
  }[];
  recovery: {
    class: string;
    strategy: string;
    from_task: string;
    to_task: string;
    reason: string;
  }[];
  gates: {
    type: string;
    task: string;
    attempt: number;
    ok: boolean;
    name: string;
    suites: string[] | null;
    producer: string | null;
    responsible: string[];
    failures: number;
  }[];
}

Deno.test("a failing checkpoint holds back the dependents, is attributed to its task and recovered by its retry", async () => {
  await using app = await startProduct({
    scenarios: [
      orchestrator({
        tasks: [
          { id: "T1", agent: "db-architect", depends_on: [] },
          { id: "T2", agent: "security", depends_on: ["T1"] },
        ],
        checkpoints: [{ after: "T1", validate: ["indexes"] }],
        contracts: [],
      }),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await unindexedAnswer()), json(await dbArchitectAnswer())],
        }],
      },
      {
        rules: [{
          name: "security",
          match: { agent: "security" },
          answers: [json(await securityAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const done = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status), 120_000);
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification]),
  );

  const detail = await app.getRun(alice.token, run.id) as unknown as Detail;
  const [t1, t2] = detail.tasks;
  assert.deepEqual(t1.attempts.map((a) => [a.attempt, a.status]), [[1, "invalid"], [
    2,
    "succeeded",
  ]]);
  assert.equal(t2.status, "succeeded");
  // The first attempt passed its own validation; the checkpoint failed it.
  const first = await attemptValidation(app, run.id, "T1", 1) as {
    stage: string;
    checkpoints: { after: string; suites: string[]; ok: boolean; responsible: string[] }[];
    findings: { rule: string; level: string; message: string }[];
  };
  assert.equal(first.stage, "checkpoint");
  assert.deepEqual(first.checkpoints.map((c) => [c.after, c.suites, c.ok, c.responsible]), [
    ["T1", ["indexes"], false, ["T1"]],
  ]);
  const failing = first.findings.filter((f) => f.level === "error");
  assert.deepEqual([...new Set(failing.map((f) => f.rule))], ["unindexed_foreign_keys"]);
  assert.match(failing[0].message, /^checkpoint after T1 \(indexes\): .*trades/);
  const accepted = t1.validation as {
    checkpoints: { ok: boolean; validated: boolean }[];
    gates_ms: number;
    durationMs: number;
  };
  assert.deepEqual(accepted.checkpoints.map((c) => [c.ok, c.validated]), [[true, true]]);
  assert.ok(accepted.gates_ms > 0, "the accumulated output was validated");
  console.log(
    `[metrics] T1: own validation ${accepted.durationMs} ms, checkpoint (indexes) ` +
      `${accepted.gates_ms} ms`,
  );
  // GET /runs/:id lists each verdict.
  assert.deepEqual(
    detail.gates.map((g) => [g.type, g.task, g.attempt, g.ok, g.name, g.responsible]),
    [
      ["checkpoint.failed", "T1", 1, false, "after T1: indexes", ["T1"]],
      ["checkpoint.passed", "T1", 2, true, "after T1: indexes", []],
    ],
  );
  assert.ok(detail.gates[0].failures >= 1);

  // Recovery: classified, retried on the same agent with the findings, and said why.
  assert.equal(detail.recovery.length, 1);
  const [decision] = detail.recovery;
  assert.deepEqual(
    [decision.strategy, decision.from_task, decision.to_task],
    ["retry", "T1", "T1"],
  );
  assert.match(
    decision.reason,
    /checkpoint after T1 \(indexes\) failed: unindexed_foreign_keys in T1's output/,
  );
  const dbRequests = app.llm.requests.filter((r) => r.agent === "db-architect");
  assert.equal(dbRequests.length, 2);
  assert.match(dbRequests[1].messages.map((m) => m.content).join("\n"), /unindexed_foreign_keys/);
  assert.equal(app.llm.requests.filter((r) => r.agent === "security").length, 1);

  // On the run's channel: failed, the decision, passed — and T2 queued only after it passed.
  const log = await events(app, run.id);
  const kinds = log.filter((e) =>
    e.type.startsWith("checkpoint.") || e.type === "recovery.decision"
  )
    .map((e) => [e.type, e.payload.task ?? e.payload.from_task, e.payload.attempt ?? null]);
  assert.deepEqual(kinds, [
    ["checkpoint.failed", "T1", 1],
    ["recovery.decision", "T1", null],
    ["checkpoint.passed", "T1", 2],
  ]);
  const failed = log.find((e) => e.type === "checkpoint.failed")!.payload as {
    suites: string[];
    responsible: string[];
    failures: { rule: string; task: string; file: string }[];
  };
  assert.deepEqual(failed.suites, ["indexes"]);
  assert.deepEqual(failed.responsible, ["T1"]);
  assert.deepEqual([failed.failures[0].rule, failed.failures[0].task], [
    "unindexed_foreign_keys",
    "T1",
  ]);
  // In log order (a row's changes in the order its transaction made them).
  const passedAt = log.findIndex((e) => e.type === "checkpoint.passed");
  const t2Queued = log.findIndex((e) =>
    e.type === "task.status" && e.payload.key === "T2" && e.payload.status === "queued"
  );
  assert.ok(passedAt >= 0 && t2Queued > passedAt, "T2 started only after the checkpoint passed");
});

Deno.test("a checkpoint failing on an earlier task's output sends that task back, and the gated task waits for it", async () => {
  await using app = await startProduct({
    scenarios: [
      orchestrator({
        tasks: [
          { id: "T1", agent: "db-architect", depends_on: [] },
          { id: "T2", agent: "security", depends_on: ["T1"] },
        ],
        // After the security task: the unindexed foreign key is in T1's migration, not T2's.
        checkpoints: [{ after: "T2", validate: ["RLS isolates users", "indexes"] }],
        contracts: [],
      }),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await unindexedAnswer()), json(await dbArchitectAnswer())],
        }],
      },
      {
        rules: [{
          name: "security",
          match: { agent: "security" },
          answers: [json(await securityAnswer()), json(await securityAnswer())],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const done = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status), 120_000);
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification]),
  );

  const detail = await app.getRun(alice.token, run.id) as unknown as Detail;
  const [t1, t2] = detail.tasks;
  assert.deepEqual(t1.attempts.map((a) => [a.attempt, a.status]), [[1, "invalid"], [
    2,
    "succeeded",
  ]]);
  assert.deepEqual(t2.attempts.map((a) => [a.attempt, a.status]), [[1, "invalid"], [
    2,
    "succeeded",
  ]]);
  // The decision is T1's: the task the finding is attributed to is the one retried.
  assert.deepEqual(
    detail.recovery.map((d) => [d.class, d.strategy, d.from_task, d.to_task]),
    [["schema", "retry", "T1", "T1"]],
  );
  assert.match(
    detail.recovery[0].reason,
    /checkpoint after T2 \(rls, indexes\) failed: unindexed_foreign_keys in T1's \(accepted\) output/,
  );
  assert.deepEqual(
    detail.gates.map((g) => [g.type, g.task, g.attempt, g.responsible]),
    [["checkpoint.failed", "T2", 1, ["T1"]], ["checkpoint.passed", "T2", 2, []]],
  );
  // T1's retry was told what the checkpoint found in its output.
  const dbRequests = app.llm.requests.filter((r) => r.agent === "db-architect");
  assert.equal(dbRequests.length, 2);
  const retry = dbRequests[1].messages.map((m) => m.content).join("\n");
  assert.match(retry, /\[unindexed_foreign_keys\]/);
  assert.match(retry, /checkpoint after T2 \(rls, indexes\)/);
  const causeValidation = await attemptValidation(app, run.id, "T1", 1) as { stage: string };
  assert.equal(causeValidation.stage, "checkpoint");
  // Only the final outputs are delivered: T1's withdrawn artifacts are gone.
  const [{ n }] = await app.db.sql<{ n: number }[]>`
    select count(*)::int as n from backend_team.artifacts a join backend_team.tasks t on t.id = a.task_id
     where t.run_id = ${run.id} and t.key = 'T1' and a.kind = 'migration'`;
  assert.equal(n, 1);
});

/** api-data's answer: endpoints on positions, optionally naming a column it does not have. */
function apiAnswer(column: string) {
  return {
    summary: "PostgREST endpoints for positions.",
    artifacts: {
      endpoints: [{
        method: "GET" as const,
        path: `/rest/v1/positions?select=id,symbol,${column}&order=opened_at.desc`,
        kind: "postgrest" as const,
        description: "The caller's positions, newest first.",
        auth: "authenticated; RLS shows the caller's own rows only",
        request: null,
        response: JSON.stringify({
          type: "array",
          items: {
            type: "object",
            properties: { id: { type: "integer" }, symbol: { type: "string" }, [column]: {} },
          },
        }),
        errors: [{ status: 401, code: "PGRST301", when: "no or invalid token" }],
      }],
      migrations: [],
      files: [],
    },
    notes: [],
    assumptions: [],
  };
}

Deno.test("a consumer sees its contract, and an endpoint naming a column the schema lacks is a contract_violation, retried", async () => {
  const contract = {
    name: "positions_api",
    producer: "T1",
    consumers: ["T2"],
    description: "public.positions(id, symbol, side, opened_at, closed_at) read by the API",
  };
  await using app = await startProduct({
    scenarios: [
      orchestrator({
        tasks: [
          { id: "T1", agent: "db-architect", depends_on: [] },
          { id: "T2", agent: "api-data", depends_on: ["T1"] },
        ],
        checkpoints: [],
        contracts: [contract],
      }),
      {
        rules: [{
          name: "db",
          match: { agent: "db-architect" },
          answers: [json(await dbArchitectAnswer())],
        }],
      },
      {
        rules: [{
          name: "api",
          match: { agent: "api-data" },
          answers: [json(apiAnswer("size")), json(apiAnswer("closed_at"))],
        }],
      },
    ],
  });
  const alice = await app.newUser();
  const run = await app.submit(alice.token, "A trade journal");
  const done = await app.waitForRun(alice.token, run.id, (d) => settled(d.run.status), 120_000);
  assert.equal(
    done.run.status,
    "completed",
    JSON.stringify([done.run.error, done.run.clarification]),
  );

  // The consumer's context carries the contract it must honour; the producer's, what it provides.
  const apiRequests = app.llm.requests.filter((r) => r.agent === "api-data");
  assert.equal(apiRequests.length, 2);
  const firstPrompt = apiRequests[0].messages.map((m) => m.content).join("\n");
  assert.match(firstPrompt, /## Contracts\n\nYou must honour these contracts/);
  assert.match(firstPrompt, /`positions_api`, provided by T1 \(db-architect\): public\.positions/);
  const dbPrompt = app.llm.requests.find((r) => r.agent === "db-architect")!.messages
    .map((m) => m.content).join("\n");
  assert.match(dbPrompt, /`positions_api`, used by T2/);
  // The retry names the contract, the producer and the missing column.
  const retryPrompt = apiRequests[1].messages.map((m) => m.content).join("\n");
  assert.match(retryPrompt, /\[contract_violation\]/);
  assert.match(retryPrompt, /public\.positions\.size/);
  assert.match(retryPrompt, /contract "positions_api" with T1 \(db-architect\)/);

  const detail = await app.getRun(alice.token, run.id) as unknown as Detail;
  const t2 = detail.tasks.find((t) => t.key === "T2")!;
  assert.deepEqual(t2.attempts.map((a) => [a.attempt, a.status]), [[1, "invalid"], [
    2,
    "succeeded",
  ]]);
  const first = await attemptValidation(app, run.id, "T2", 1) as {
    stage: string;
    contracts: {
      name: string;
      producer: string;
      checked: boolean;
      ok: boolean;
      violations: { object: string }[];
    }[];
  };
  assert.equal(first.stage, "contract");
  assert.deepEqual(
    first.contracts.map((
      c,
    ) => [c.name, c.producer, c.checked, c.ok, c.violations.map((v) => v.object)]),
    [["positions_api", "T1", true, false, ["public.positions.size"]]],
  );
  assert.deepEqual(
    detail.recovery.map((d) => [d.class, d.strategy, d.from_task, d.to_task]),
    [["schema", "retry", "T2", "T2"]],
  );
  assert.match(
    detail.recovery[0].reason,
    /contract "positions_api" from T1 \(db-architect\) broken by T2: public\.positions\.size not in the schema/,
  );

  assert.deepEqual(
    detail.gates.map((
      g,
    ) => [g.type, g.task, g.attempt, g.name, g.producer, g.responsible, g.failures]),
    [
      ["contract.failed", "T2", 1, "positions_api", "T1", ["T2"], 1],
      ["contract.passed", "T2", 2, "positions_api", "T1", [], 0],
    ],
  );
  const log = await events(app, run.id);
  assert.deepEqual(
    log.filter((e) => e.type.startsWith("contract.")).map((
      e,
    ) => [e.type, e.payload.contract, e.payload.attempt]),
    [["contract.failed", "positions_api", 1], ["contract.passed", "positions_api", 2]],
  );
});
