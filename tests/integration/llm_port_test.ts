/**
 * The LLM port against an OpenAI-compatible server on loopback: the real `openai` client sends real
 * HTTP to the scripted LLM, so retries, timeouts, headers and bodies are the ones a production
 * endpoint would see. Each test scripts the endpoint's behaviour and asserts what the caller gets
 * and what the prompts contained.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { AppError } from "../../shared/errors/mod.ts";
import {
  type ChatMessage,
  createOpenAiLlm,
  InMemoryUsageRecorder,
  type LlmPort,
  loadLlmConfig,
  type OpenAiLlmOptions,
} from "../../shared/llm/mod.ts";
import { Plan, Understanding } from "../../shared/plan/schema.ts";
import {
  type ScenarioInput,
  type ScriptedAnswer,
  type ScriptedLlm,
  type ScriptedLlmOptions,
  scriptedTokens,
  startScriptedLlm,
} from "../_support/scripted_llm/mod.ts";

const FIXTURES = new URL("../fixtures/llm/", import.meta.url);
const RUN_ID = "8b0c8f5e-2f43-4d1e-9a53-0f4a4c2f1d10";

const understanding: Understanding = {
  goal: "Per-user todo lists",
  requirements: ["lists and items"],
  assumptions: ["Supabase Auth"],
  ambiguities: [],
  complexity: "moderate",
  scope: ["schema", "security"],
  questions: [],
};

const askUnderstanding: ChatMessage[] = [
  { role: "system", content: "You are the lead engineer." },
  { role: "user", content: "Build a todo app with per-user lists." },
];

interface Harness extends AsyncDisposable {
  llm: LlmPort;
  server: ScriptedLlm;
  usage: InMemoryUsageRecorder;
}

/** A scripted server, a recorder and the port configured for them. */
async function harness(
  script: ScriptedLlmOptions,
  env: Record<string, string> = {},
  options: { budgetTokens?: number } & Partial<OpenAiLlmOptions> = {},
): Promise<Harness> {
  const server = await startScriptedLlm(script);
  const usage = new InMemoryUsageRecorder({ budgetTokens: options.budgetTokens });
  const config = loadLlmConfig({
    OPENAI_API_KEY: "test-key",
    OPENAI_BASE_URL: server.url,
    OPENAI_MODEL: "scripted-model",
    OPENAI_TIMEOUT_MS: "5000",
    ...env,
  });
  const llm = createOpenAiLlm(config, { usage, ...options });
  return { llm, server, usage, [Symbol.asyncDispose]: () => server.close() };
}

/** One rule answering every request with `answers` in order. */
function script(...answers: ScriptedAnswer[]): { scenarios: ScenarioInput[] } {
  return { scenarios: [{ rules: [{ name: "scripted", answers }] }] };
}

function askForUnderstanding(llm: LlmPort) {
  return llm.complete({
    schema: Understanding,
    schemaName: "understanding",
    messages: askUnderstanding,
    agent: "orchestrator",
    phase: "understand",
    runId: RUN_ID,
  });
}

/** Runs `fn`, expecting an AppError with `code`; returns it. */
async function rejectsWith(fn: () => Promise<unknown>, code: string): Promise<AppError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof AppError, `expected an AppError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected an AppError ${code}`);
}

Deno.test("a valid answer comes back parsed, labelled, and its tokens are recorded for the run", async () => {
  await using h = await harness({ scenarioFiles: [new URL("todo_app.json", FIXTURES)] });
  const result = await askForUnderstanding(h.llm);

  assert.equal(result.value.complexity, "complex");
  assert.equal(result.reasks, 0);
  assert.equal(result.attempts, 1);
  assert.equal(result.model, "scripted-model");

  const [request] = h.server.requests;
  assert.equal(h.server.requests.length, 1);
  assert.equal(request.headers["authorization"], "Bearer test-key");
  assert.equal(request.agent, "orchestrator");
  assert.equal(request.phase, "understand");
  assert.equal(request.runId, RUN_ID);
  assert.equal(request.reask, 0);
  assert.equal(request.model, "scripted-model");
  assert.deepEqual(request.messages, askUnderstanding);
  const format = request.body.response_format as {
    type: string;
    json_schema: { name: string; strict: boolean; schema: { required: string[] } };
  };
  assert.equal(format.type, "json_schema");
  assert.equal(format.json_schema.name, "understanding");
  assert.equal(format.json_schema.strict, true);
  assert.ok(format.json_schema.schema.required.includes("questions"));

  const promptTokens = scriptedTokens(askUnderstanding.map((m) => m.content).join(""));
  assert.equal(result.usage.prompt_tokens, promptTokens);
  assert.ok(result.usage.completion_tokens > 50);
  assert.deepEqual(h.usage.entries, [{
    runId: RUN_ID,
    agent: "orchestrator",
    phase: "understand",
    model: "scripted-model",
    prompt_tokens: promptTokens,
    completion_tokens: result.usage.completion_tokens,
    // Priced by the built-in table's "scripted" entry ($1 / $2 per million tokens).
    cost_usd: (promptTokens * 1 + result.usage.completion_tokens * 2) / 1_000_000,
    reask: 0,
  }]);
  assert.equal(result.cost_usd, h.usage.entries[0].cost_usd);
});

Deno.test("an agent with its own model variable is asked with that model, others with the default", async () => {
  await using h = await harness(script({ kind: "json", value: understanding }), {
    OPENAI_MODEL_DB_ARCHITECT: "big-model",
  });
  const messages = askUnderstanding;
  const schema = Understanding;
  await h.llm.complete({ schema, schemaName: "u", messages, agent: "db-architect" });
  await h.llm.complete({ schema, schemaName: "u", messages, agent: "security" });
  assert.deepEqual(h.server.requests.map((r) => r.model), ["big-model", "scripted-model"]);
});

Deno.test("a rate-limited request is retried by the SDK after retry-after and then succeeds", async () => {
  await using h = await harness(script(
    { kind: "http_error", status: 429, message: "slow down", retry_after_ms: 50 },
    { kind: "json", value: understanding },
  ));
  const started = performance.now();
  const result = await askForUnderstanding(h.llm);
  assert.ok(performance.now() - started >= 50, "the SDK waited for retry-after");

  assert.deepEqual(result.value, understanding);
  assert.equal(result.reasks, 0);
  assert.deepEqual(h.server.requests.map((r) => [r.outcome, r.retryCount]), [
    ["http_error", 0],
    ["json", 1],
  ]);
  assert.equal(h.usage.entries.length, 1, "only the answer costs tokens");
});

Deno.test("an endpoint failing with HTTP 500 on every retry ends in llm_unavailable naming the status", async () => {
  await using h = await harness(
    script({ kind: "http_error", status: 500, message: "upstream exploded", retry_after_ms: 5 }),
    { OPENAI_MAX_RETRIES: "2" },
  );
  const error = await rejectsWith(() => askForUnderstanding(h.llm), "llm_unavailable");
  assert.match(error.message, /HTTP 500/);
  assert.match(error.message, /upstream exploded/);
  assert.match(error.message, /3 attempt/);
  assert.equal(error.status, 503);
  assert.deepEqual(
    { ...(error.details as Record<string, unknown>), requestId: null },
    {
      reason: "http_error",
      status: 500,
      baseURL: h.server.url,
      model: "scripted-model",
      requestId: null,
    },
  );
  assert.equal(h.server.requests.length, 3);
  assert.equal(h.usage.entries.length, 0);
});

Deno.test("malformed JSON is re-asked with the parse error and the model's own answer", async () => {
  const broken = '{"goal": "Per-user todo lists", "requirements": [';
  await using h = await harness(script(
    { kind: "text", text: broken },
    { kind: "json", value: understanding },
  ));
  const result = await askForUnderstanding(h.llm);

  assert.deepEqual(result.value, understanding);
  assert.equal(result.reasks, 1);
  assert.equal(result.attempts, 2);
  const [first, second] = h.server.requests;
  assert.equal(second.reask, 1);
  assert.deepEqual(second.messages.slice(0, 2), first.messages);
  assert.deepEqual(second.messages[2], { role: "assistant", content: broken });
  assert.equal(second.messages[3].role, "user");
  assert.match(second.messages[3].content, /not valid JSON/);
  assert.match(second.messages[3].content, /`understanding` schema/);

  assert.deepEqual(h.usage.entries.map((e) => e.reask), [0, 1]);
  const sum = h.usage.entries.reduce((n, e) => n + e.prompt_tokens + e.completion_tokens, 0);
  assert.equal(result.usage.prompt_tokens + result.usage.completion_tokens, sum);
});

Deno.test("a schema-invalid answer is re-asked with each zod issue at its path", async () => {
  const plan = JSON.parse(await Deno.readTextFile(new URL("todo_app.json", FIXTURES)))
    .rules[1].answers[0].value;
  const badPlan = structuredClone(plan);
  badPlan.tasks[0].id = "task-1";
  badPlan.tasks[1].agent = "dba";
  await using h = await harness(script(
    { kind: "json", value: badPlan },
    { kind: "json", value: plan },
  ));
  const result = await h.llm.complete({
    schema: Plan,
    schemaName: "plan",
    messages: [{ role: "user", content: "Plan the todo app." }],
    agent: "orchestrator",
    phase: "plan",
  });

  assert.equal(result.value.tasks.length, 5);
  assert.equal(result.reasks, 1);
  const followUp = h.server.requests[1].messages.at(-1)!.content;
  assert.match(followUp, /does not match the schema/);
  assert.match(followUp, /- tasks\[0\]\.id: task ids look like T1, T2, …/);
  assert.match(followUp, /- tasks\[1\]\.agent: /);
  assert.equal(h.server.requests[1].messages.at(-2)!.content, JSON.stringify(badPlan));
});

Deno.test("a refusal is re-asked, quoting the refusal", async () => {
  await using h = await harness(script(
    { kind: "refusal", refusal: "I can't help with that." },
    { kind: "json", value: understanding },
  ));
  const result = await askForUnderstanding(h.llm);
  assert.deepEqual(result.value, understanding);
  assert.equal(result.reasks, 1);
  const followUp = h.server.requests[1].messages.at(-1)!.content;
  assert.match(followUp, /refused to answer: "I can't help with that\."/);
  assert.equal(h.usage.entries.length, 2, "the refusal's tokens are recorded too");
});

Deno.test("three invalid answers fail with llm_invalid_output after exactly two re-asks", async () => {
  await using h = await harness(script({ kind: "json", value: { goal: "" } }));
  const error = await rejectsWith(() => askForUnderstanding(h.llm), "llm_invalid_output");

  assert.equal(h.server.requests.length, 3);
  assert.deepEqual(h.server.requests.map((r) => r.reask), [0, 1, 2]);
  assert.match(error.message, /no valid understanding .* after 2 re-ask/);
  const details = error.details as { reasks: number; rejections: { kind: string }[] };
  assert.equal(details.reasks, 2);
  assert.deepEqual(details.rejections.map((r) => r.kind), Array(3).fill("schema_mismatch"));
  assert.equal(h.usage.entries.length, 3, "every rejected answer's tokens are recorded");
  assert.equal(h.server.requests[2].messages.length, askUnderstanding.length + 4);
});

Deno.test("an endpoint that never answers fails with a timeout within the configured bound", async () => {
  await using h = await harness(script({ kind: "hang", ms: 30_000 }), {
    OPENAI_TIMEOUT_MS: "300",
    OPENAI_MAX_RETRIES: "1",
  });
  const started = performance.now();
  const error = await rejectsWith(() => askForUnderstanding(h.llm), "llm_unavailable");
  const elapsed = performance.now() - started;

  // two attempts of 300 ms plus the SDK's first backoff (at most 500 ms)
  assert.ok(elapsed >= 600, `gave up after ${elapsed} ms, before two timeouts`);
  assert.ok(elapsed < 2500, `took ${elapsed} ms`);
  assert.match(error.message, /did not answer within 300 ms \(2 attempt/);
  assert.equal((error.details as { reason: string }).reason, "timeout");
  assert.equal(h.server.requests.length, 2);
});

Deno.test("an answer that takes the run over its token budget stops it before any re-ask", async () => {
  await using h = await harness(
    script({ kind: "text", text: "not json at all" }, { kind: "json", value: understanding }),
    {},
    { budgetTokens: 10 },
  );
  const error = await rejectsWith(() => askForUnderstanding(h.llm), "budget_exceeded");
  assert.match(error.message, /over its budget of 10/);
  assert.equal(h.server.requests.length, 1, "no re-ask after the budget stop");
  assert.equal(h.usage.totalTokens(RUN_ID), h.usage.entries[0].prompt_tokens + 4);
});

Deno.test("a request no scenario rule answers fails with a message saying why each rule declined", async () => {
  await using h = await harness({ scenarioFiles: [new URL("todo_app.json", FIXTURES)] });
  const error = await rejectsWith(
    () =>
      h.llm.complete({
        schema: Plan,
        schemaName: "plan",
        messages: [{ role: "user", content: "Plan a blog." }],
        agent: "orchestrator",
        phase: "plan",
      }),
    "llm_unavailable",
  );
  assert.match(error.message, /HTTP 404/);
  assert.match(error.message, /no scenario rule answers agent="orchestrator" phase="plan"/);
  assert.match(error.message, /rule "understand todo app": phase is "plan", wants "understand"/);
  assert.match(error.message, /rule "plan todo app": no message contains "todo"/);
  assert.equal(h.server.requests.length, 1, "a 404 is not retried");
});

Deno.test("an unreachable endpoint fails with llm_unavailable naming where it tried", async () => {
  const h = await harness(script({ kind: "json", value: understanding }), {
    OPENAI_MAX_RETRIES: "0",
  });
  await h.server.close();
  const error = await rejectsWith(() => askForUnderstanding(h.llm), "llm_unavailable");
  assert.match(error.message, new RegExp(`could not reach the LLM at ${h.server.url}`));
  assert.equal((error.details as { reason: string }).reason, "connection");
});

Deno.test("the example scenarios' orchestrator answers satisfy Understanding and Plan", async () => {
  await using h = await harness({
    scenarioFiles: [new URL("todo_app.json", FIXTURES), new URL("make_it_faster.json", FIXTURES)],
  });
  const ask = <S extends z.ZodType>(schema: S, phase: string, content: string) =>
    h.llm.complete({
      schema,
      schemaName: phase,
      messages: [{ role: "user", content }],
      agent: "orchestrator",
      phase,
    });
  assert.equal((await ask(Understanding, "understand", "a todo app")).value.complexity, "complex");
  assert.equal((await ask(Plan, "plan", "a todo app")).value.strategy, "hybrid");
  const vague = await ask(Understanding, "understand", "make it faster");
  assert.equal(vague.value.complexity, "ambiguous");
  assert.deepEqual(vague.value.questions.map((q) => q.id), ["slow_query", "table_size"]);
  assert.equal((await ask(Plan, "plan", "slow: positions by user")).value.tasks.length, 1);
  assert.ok(h.server.requests.every((r) => r.outcome === "json"));
});
