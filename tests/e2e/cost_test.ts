/**
 * Acceptance tests of cost in money, end to end on the local stack with the scripted model (priced
 * at $1 per million input and $2 per million output tokens by the built-in table): every attempt
 * and every run stores what its answers cost when usage is recorded, `GET /runs/:id` shows it per
 * run, task and attempt, the deliverable's Summary states it, and `options.cost_budget_usd` stops a
 * run with `budget_exceeded` before another call. A model without a price has an unknown cost
 * (null), never a guessed one.
 */
import assert from "node:assert/strict";
import { startProduct } from "../_support/stack.ts";
import {
  attemptsOf,
  reachedDelivery,
  SEED_REQUEST,
  seedScenario,
  TRADE_JOURNAL_PLAN,
  untilSettled,
  warmUp,
} from "./_execution_support.ts";
import { expandEvent } from "../../shared/events/mod.ts";

/** The scripted model's price: US dollars of `prompt` input and `completion` output tokens. */
function scriptedCost(prompt: number, completion: number): number {
  return (prompt * 1 + completion * 2) / 1_000_000;
}

interface AttemptView {
  attempt: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number | null;
}

interface DetailView {
  run: {
    status: string;
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number | null;
    cost_budget_usd: number | null;
    error: { code: string; message: string } | null;
  };
  tasks: { key: string; cost_usd: number | null; attempts: AttemptView[] }[];
}

Deno.test("a run and each attempt store and show what their answers cost at the model's price", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  await warmUp(app);
  const alice = await app.newUser();
  const submitted = await app.submit(alice.token, SEED_REQUEST);
  const settled = await untilSettled(app, alice.token, submitted.id);
  assert.ok(reachedDelivery(settled.run), JSON.stringify(settled.run.error));

  // Stored: each attempt's cost is its tokens at the price; the run's, all its answers'.
  const attempts = await attemptsOf(app.db.sql, submitted.id);
  const costs = await app.db.sql<{ key: string; cost_usd: number | null }[]>`
    select t.key, a.cost_usd::float8 as cost_usd
      from backend_team.task_attempts a join backend_team.tasks t on t.id = a.task_id
     where a.run_id = ${submitted.id} order by length(t.key), t.key, a.attempt`;
  assert.equal(costs.length, 3);
  for (const [i, a] of attempts.entries()) {
    assert.ok(a.prompt_tokens > 0);
    assert.equal(costs[i].cost_usd, scriptedCost(a.prompt_tokens, a.completion_tokens), a.key);
  }
  const [run] = await app.db.sql<
    { prompt_tokens: number; completion_tokens: number; cost_usd: number }[]
  >`
    select prompt_tokens::int, completion_tokens::int, cost_usd::float8 as cost_usd
      from backend_team.run_usage where run_id = ${submitted.id}`;
  assert.equal(run.cost_usd, scriptedCost(run.prompt_tokens, run.completion_tokens));
  const attemptsCost = costs.reduce((n, c) => n + Math.round(c.cost_usd! * 1e6), 0) / 1e6;
  assert.ok(run.cost_usd > attemptsCost, "the run also pays for the orchestrator's answers");

  // Shown: GET /runs/:id per run, task and attempt.
  const response = await app.api(alice.token, `/runs/${submitted.id}`);
  assert.equal(response.status, 200);
  const detail = await response.json() as DetailView;
  assert.equal(detail.run.cost_usd, run.cost_usd);
  assert.equal(detail.run.cost_budget_usd, null);
  for (const [i, task] of detail.tasks.entries()) {
    assert.equal(task.attempts.length, 1);
    assert.equal(task.attempts[0].cost_usd, costs[i].cost_usd);
    assert.equal(task.cost_usd, costs[i].cost_usd);
  }

  // The task.status event that ends each attempt carries the attempt's cost.
  const events = await app.api(alice.token, `/runs/${submitted.id}/events?limit=500`);
  const { events: list } = await events.json() as {
    events: { type: string; payload: { key?: string; usage?: { cost_usd?: number } } }[];
  };
  const changes = list.flatMap((row) =>
    expandEvent(row.payload).map((payload) => ({ ...row, type: String(payload.type), payload }))
  ) as typeof list;
  const attemptEvents = changes.filter((e) => e.type === "task.status" && e.payload.usage);
  assert.deepEqual(
    attemptEvents.map((e) => e.payload.usage!.cost_usd).sort(),
    costs.map((c) => c.cost_usd).sort(),
  );
  assert.equal(changes.filter((e) => e.type === "task.attempt").length, 0);

  // The deliverable's Summary states the usage and its cost.
  await app.waitForRun(alice.token, submitted.id, (d) => d.run.status === "completed");
  const deliverable = await app.api(alice.token, `/runs/${submitted.id}/deliverable`);
  assert.equal(deliverable.status, 200);
  const { result } = await deliverable.json() as {
    result: {
      summary: {
        text: string;
        usage: { prompt_tokens: number; completion_tokens: number; cost_usd: number | null };
      };
    };
  };
  const usage = result.summary.usage;
  assert.equal(usage.cost_usd, scriptedCost(usage.prompt_tokens, usage.completion_tokens));
  assert.match(result.summary.text, /Model usage: [\d,]+ tokens, \$0\.\d+\./);
});

Deno.test("a money budget fails the run with budget_exceeded and no call is made after it", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
  });
  const alice = await app.newUser();
  const refused = await app.api(alice.token, "/runs", {
    method: "POST",
    body: JSON.stringify({ request: SEED_REQUEST, options: { cost_budget_usd: 0 } }),
  });
  assert.equal(refused.status, 400);
  await refused.body?.cancel();

  // Far less than the orchestrator's first answer costs: that answer is the last one.
  const submitted = await app.submit(alice.token, SEED_REQUEST, {
    options: { cost_budget_usd: 0.0001 },
  });
  const settled = await untilSettled(app, alice.token, submitted.id);
  assert.equal(settled.run.status, "failed");
  const detail = await (await app.api(alice.token, `/runs/${submitted.id}`)).json() as DetailView;
  assert.equal(detail.run.error?.code, "budget_exceeded");
  assert.match(detail.run.error!.message, /the run cost \$[\d.]+, over its budget of \$0\.0001/);
  assert.equal(detail.run.cost_budget_usd, 0.0001);
  assert.equal(
    detail.run.cost_usd,
    scriptedCost(detail.run.prompt_tokens, detail.run.completion_tokens),
  );
  assert.ok(detail.run.cost_usd! > 0.0001);
  // Give a late worker the chance to (wrongly) ask again, then count the calls.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(app.llm.requests.filter((r) => r.runId === submitted.id).length, 1);
});

Deno.test("a model without a price has an unknown cost, and a money budget on it is not kept silently", async () => {
  await using app = await startProduct({
    scenarios: [await seedScenario()],
    scenarioFiles: [TRADE_JOURNAL_PLAN],
    env: { OPENAI_MODEL: "house-model-without-a-price" },
  });
  await warmUp(app);
  const alice = await app.newUser();
  const free = await app.submit(alice.token, SEED_REQUEST);
  const settled = await untilSettled(app, alice.token, free.id);
  assert.ok(reachedDelivery(settled.run), JSON.stringify(settled.run.error));
  const detail = await (await app.api(alice.token, `/runs/${free.id}`)).json() as DetailView;
  assert.ok(detail.run.prompt_tokens > 0);
  assert.equal(detail.run.cost_usd, null);
  assert.ok(detail.tasks.every((t) => t.cost_usd === null && t.attempts[0].cost_usd === null));

  const budgeted = await app.submit(alice.token, SEED_REQUEST, {
    options: { cost_budget_usd: 5 },
  });
  const stopped = await untilSettled(app, alice.token, budgeted.id);
  assert.equal(stopped.run.status, "failed");
  assert.equal(stopped.run.error?.code, "budget_exceeded");
  assert.match(stopped.run.error!.message, /cost is unknown.*cannot be kept/);
  assert.equal(app.llm.requests.filter((r) => r.runId === budgeted.id).length, 1);
});
