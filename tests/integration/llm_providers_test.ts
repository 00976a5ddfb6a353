/**
 * The LLM port against providers that are not OpenAI: the scripted server plays each quirk real
 * OpenAI-compatible endpoints have (refusing `json_schema` or `strict` or any `response_format`,
 * refusing tools, answering only through function calls, JSON in a code fence or after prose, no
 * `usage`, Azure's deployments and `api-version`, a slow first answer), and the real `openai`
 * client talks to it over loopback. Each quirk ends in a valid answer or a clear `llm_*` error.
 */
import assert from "node:assert/strict";
import { AppError } from "../../shared/errors/mod.ts";
import {
  type ChatMessage,
  createOpenAiLlm,
  InMemoryUsageRecorder,
  loadLlmConfig,
} from "../../shared/llm/mod.ts";
import { Understanding } from "../../shared/plan/schema.ts";
import {
  type ProviderQuirk,
  type ScriptedAnswer,
  startScriptedLlm,
} from "../_support/scripted_llm/mod.ts";

const understanding: Understanding = {
  goal: "Per-user todo lists",
  requirements: ["lists and items"],
  assumptions: ["Supabase Auth"],
  ambiguities: [],
  complexity: "moderate",
  scope: ["schema", "security"],
  questions: [],
};

const messages: ChatMessage[] = [
  { role: "system", content: "You are the lead engineer." },
  { role: "user", content: "Build a todo app with per-user lists." },
];

async function provider(
  quirks: ProviderQuirk[],
  env: Record<string, string> = {},
  answers: ScriptedAnswer[] = [{ kind: "json", value: understanding }],
) {
  const server = await startScriptedLlm({
    quirks,
    scenarios: [{ rules: [{ name: "understanding", answers }] }],
  });
  const usage = new InMemoryUsageRecorder();
  const llm = createOpenAiLlm(
    loadLlmConfig({
      OPENAI_API_KEY: "test-key",
      OPENAI_BASE_URL: quirks.includes("azure") ? server.azureUrl : server.url,
      OPENAI_MODEL: "scripted-model",
      OPENAI_TIMEOUT_MS: "5000",
      OPENAI_MAX_RETRIES: "0",
      ...env,
    }),
    { usage },
  );
  const ask = (agent = "orchestrator") =>
    llm.complete({ schema: Understanding, schemaName: "understanding", messages, agent });
  return { server, usage, ask, [Symbol.asyncDispose]: () => server.close() };
}

Deno.test("a provider refusing json_schema gets JSON mode with the schema in the prompt, and only once", async () => {
  await using p = await provider(["no_json_schema"]);
  const first = await p.ask();
  assert.deepEqual(first.value, understanding);
  const [refused, accepted] = p.server.requests;
  assert.equal(refused.outcome, "format_refused");
  assert.equal(refused.body.response_format?.type, "json_schema");
  // The strict schema was refused; the schema without strict is a json_schema too, then JSON mode.
  const mode = p.server.requests.at(-1)!;
  assert.equal(mode.body.response_format?.type, "json_object");
  assert.match(mode.messages.at(-1)!.content, /matches this JSON schema/);
  assert.ok(accepted);
  // Remembered: the next call goes straight to what worked.
  const before = p.server.requests.length;
  await p.ask();
  assert.equal(p.server.requests.length, before + 1);
  assert.equal(p.server.requests.at(-1)!.body.response_format?.type, "json_object");
});

Deno.test("a provider refusing strict gets the same schema without strict", async () => {
  await using p = await provider(["no_strict"]);
  assert.deepEqual((await p.ask()).value, understanding);
  assert.equal(p.server.requests.length, 2);
  const sent = p.server.requests[1].body.response_format;
  assert.equal(sent?.type, "json_schema");
  assert.equal(sent?.json_schema?.strict, undefined);
  assert.equal(sent?.json_schema?.name, "understanding");
});

Deno.test("a provider refusing any response_format but calling tools answers through a forced function call, remembered", async () => {
  await using p = await provider(["no_response_format"]);
  const first = await p.ask();
  assert.deepEqual(first.value, understanding);
  assert.equal(first.reasks, 0);
  assert.deepEqual(
    p.server.requests.map((r) => [r.body.response_format?.type ?? null, r.outcome]),
    [
      ["json_schema", "format_refused"],
      ["json_schema", "format_refused"],
      ["json_object", "format_refused"],
      [null, "json"],
    ],
  );
  const called = p.server.requests[3];
  assert.deepEqual(called.body.tool_choice, {
    type: "function",
    function: { name: "understanding" },
  });
  const tool = called.body.tools?.[0] as
    | { type: string; function: { name: string; parameters: { properties: object } } }
    | undefined;
  assert.equal(tool?.type, "function");
  assert.equal(tool?.function.name, "understanding");
  // The function's parameters are the schema the other steps send.
  assert.ok("complexity" in (tool?.function.parameters.properties ?? {}));
  assert.equal(called.schemaName, "understanding");

  // Remembered: the next call goes straight to the tool call.
  const before = p.server.requests.length;
  assert.deepEqual((await p.ask()).value, understanding);
  assert.equal(p.server.requests.length, before + 1);
  assert.equal(p.server.requests.at(-1)!.body.tool_choice !== undefined, true);
});

Deno.test("a tool-called answer that breaks the schema is re-asked with the issues, like any other", async () => {
  await using p = await provider(["no_response_format"], {}, [
    { kind: "json", value: { ...understanding, complexity: "galactic" } },
    { kind: "json", value: understanding },
  ]);
  const result = await p.ask();
  assert.deepEqual(result.value, understanding);
  assert.equal(result.reasks, 1);
  const reasked = p.server.requests.at(-1)!;
  assert.equal(reasked.reask, 1);
  assert.ok(reasked.body.tool_choice, "the re-ask stays at the tool-call step");
  assert.ok(reasked.messages.some((m) => m.role === "assistant" && m.content.includes("galactic")));
  assert.match(reasked.messages.at(-2)?.content ?? "", /complexity/);
});

Deno.test("a provider refusing any response_format and tools gets a plain prompt stating the schema", async () => {
  await using p = await provider(["no_response_format", "no_tools"]);
  assert.deepEqual((await p.ask()).value, understanding);
  const last = p.server.requests.at(-1)!;
  assert.equal(last.body.response_format, undefined);
  assert.equal(last.body.tools, undefined);
  assert.match(last.messages.at(-1)!.content, /"complexity"/);
  assert.equal(p.server.requests.filter((r) => r.outcome === "format_refused").length, 4);
});

Deno.test("a provider answering only through function calls: the answer is read from the call's arguments", async () => {
  await using p = await provider(["tool_answers_only"]);
  const result = await p.ask();
  assert.deepEqual(result.value, understanding);
  assert.equal(result.reasks, 0);
  // Asked with a strict json_schema, which it accepted; it answered with a call anyway.
  assert.equal(p.server.requests.length, 1);
  assert.equal(p.server.requests[0].body.response_format?.type, "json_schema");

  // Without usage too: the estimate counts the call's arguments, not an empty content.
  await using bare = await provider(["tool_answers_only", "no_usage"]);
  const estimated = await bare.ask();
  assert.equal(estimated.usage.estimated, true);
  assert.ok(
    estimated.usage.completion_tokens >= Math.floor(JSON.stringify(understanding).length / 4),
    JSON.stringify(estimated.usage),
  );
});

Deno.test("a provider answering only through function calls gets invalid arguments re-asked, then llm_invalid_output", async () => {
  await using p = await provider(["tool_answers_only"], {}, [
    { kind: "text", text: '{"goal": ' },
    { kind: "json", value: { goal: "only a goal" } },
    { kind: "json", value: { goal: "only a goal" } },
  ]);
  try {
    await p.ask();
    assert.fail("expected llm_invalid_output");
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    assert.equal(e.code, "llm_invalid_output");
    const rejections = (e.details as { rejections: { kind: string }[] }).rejections;
    assert.deepEqual(rejections.map((r) => r.kind), [
      "malformed_json",
      "schema_mismatch",
      "schema_mismatch",
    ]);
  }
  assert.equal(p.server.requests.length, 3);
});

Deno.test("OPENAI_STRUCTURED_OUTPUT=tool_call pins the forced function call", async () => {
  await using p = await provider([], { OPENAI_STRUCTURED_OUTPUT: "tool_call" });
  assert.deepEqual((await p.ask()).value, understanding);
  assert.equal(p.server.requests.length, 1);
  assert.equal(p.server.requests[0].body.response_format, undefined);
  assert.equal(p.server.requests[0].outcome, "json");
  assert.ok(p.server.requests[0].body.tool_choice);
});

Deno.test("OPENAI_STRUCTURED_OUTPUT pins the mode: no refusal is paid for", async () => {
  await using p = await provider(["no_response_format"], { OPENAI_STRUCTURED_OUTPUT: "prompt" });
  assert.deepEqual((await p.ask()).value, understanding);
  assert.equal(p.server.requests.length, 1);
});

Deno.test("JSON in a code fence or after a sentence is read", async () => {
  for (const quirk of ["fenced", "prefixed"] as const) {
    await using p = await provider([quirk]);
    const result = await p.ask();
    assert.deepEqual(result.value, understanding, quirk);
    assert.equal(result.reasks, 0, quirk);
  }
});

Deno.test("an answer without usage is estimated and marked as estimated", async () => {
  await using p = await provider(["no_usage"]);
  const result = await p.ask();
  assert.equal(result.usage.estimated, true);
  assert.ok(result.usage.prompt_tokens > 0 && result.usage.completion_tokens > 0);
  assert.equal(p.usage.entries[0].estimated, true);

  await using plain = await provider([]);
  const reported = await plain.ask();
  assert.equal(reported.usage.estimated, undefined);
  assert.equal(plain.usage.entries[0].estimated, undefined);
});

Deno.test("Azure OpenAI: api-version, api-key and the agent's deployment name", async () => {
  await using p = await provider(["azure"], {
    OPENAI_API_VERSION: "2024-10-21",
    OPENAI_MODEL: "gpt-4o-deployment",
    OPENAI_MODEL_DB_ARCHITECT: "gpt-4o-mini-deployment",
  });
  assert.deepEqual((await p.ask()).value, understanding);
  assert.deepEqual((await p.ask("db-architect")).value, understanding);
  const [orchestrator, architect] = p.server.requests;
  assert.equal(orchestrator.apiVersion, "2024-10-21");
  assert.equal(orchestrator.deployment, "gpt-4o-deployment");
  assert.equal(orchestrator.headers["api-key"], "test-key");
  assert.equal(architect.deployment, "gpt-4o-mini-deployment");
});

Deno.test("a slow local server: the agent's own timeout waits for it; the default one gives up clearly", async () => {
  const slow: ScriptedAnswer[] = [{ kind: "json", value: understanding, latency_ms: 700 }];
  await using p = await provider([], {
    OPENAI_TIMEOUT_MS: "200",
    OPENAI_TIMEOUT_MS_DB_ARCHITECT: "5000",
  }, slow);
  assert.deepEqual((await p.ask("db-architect")).value, understanding);
  try {
    await p.ask("orchestrator");
    assert.fail("expected a timeout");
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "llm_unavailable");
    assert.match(e.message, /did not answer within 200 ms/);
    assert.equal((e.details as { reason?: string }).reason, "timeout");
  }
});

Deno.test("a request refused for another reason is not mistaken for a format refusal", async () => {
  await using p = await provider([], {}, [{
    kind: "http_error",
    status: 400,
    message: "context length exceeded",
  }]);
  try {
    await p.ask();
    assert.fail("expected llm_unavailable");
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "llm_unavailable");
  }
  assert.equal(p.server.requests.length, 1);
});
