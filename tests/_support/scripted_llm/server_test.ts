import assert from "node:assert/strict";
import { startScriptedLlm } from "./server.ts";

const chat = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const request = {
  model: "m",
  messages: [{
    role: "user",
    content: [{ type: "text", text: "hello " }, { type: "text", text: "there" }],
  }],
  response_format: {
    type: "json_schema",
    json_schema: { name: "greeting", strict: true, schema: {} },
  },
};

Deno.test("a JSON answer becomes a chat completion with deterministic usage", async () => {
  await using llm = await startScriptedLlm({
    scenarios: [{
      rules: [{
        name: "hi",
        match: { schema: "greeting" },
        answers: [{ kind: "json", value: { hi: 1 } }],
      }],
    }],
  });
  assert.match(llm.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  const response = await chat(llm.url, request, {
    "x-bt-agent": "a",
    "x-bt-phase": "p",
    "x-bt-reask": "1",
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "m");
  assert.deepEqual(body.choices[0].message, {
    role: "assistant",
    content: '{"hi":1}',
    refusal: null,
  });
  assert.equal(body.choices[0].finish_reason, "stop");
  // "hello there" = 11 characters → 3 tokens; '{"hi":1}' = 8 → 2
  assert.deepEqual(body.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });

  const [recorded] = llm.requests;
  assert.deepEqual(recorded.messages, [{ role: "user", content: "hello there" }]);
  assert.equal(recorded.agent, "a");
  assert.equal(recorded.phase, "p");
  assert.equal(recorded.reask, 1);
  assert.equal(recorded.schemaName, "greeting");
  assert.equal(recorded.answeredBy, "hi");
  assert.equal(recorded.outcome, "json");
});

Deno.test("a responder answers first and can leave requests to the rules", async () => {
  await using llm = await startScriptedLlm({
    scenarios: [{ rules: [{ name: "fallback", answers: [{ kind: "text", text: "from rules" }] }] }],
    respond: (r) => r.agent === "special" ? { kind: "refusal", refusal: "not today" } : undefined,
  });
  const special = await (await chat(llm.url, request, { "x-bt-agent": "special" })).json();
  assert.equal(special.choices[0].message.refusal, "not today");
  assert.equal(special.choices[0].message.content, null);
  const other = await (await chat(llm.url, request)).json();
  assert.equal(other.choices[0].message.content, "from rules");
  assert.deepEqual(llm.requests.map((r) => r.answeredBy), ["responder", "fallback"]);
});

Deno.test("an HTTP error carries its retry headers and an OpenAI-style body", async () => {
  await using llm = await startScriptedLlm({
    scenarios: [{
      rules: [{
        name: "busy",
        answers: [{ kind: "http_error", status: 429, retry_after_ms: 1500 }],
      }],
    }],
  });
  const response = await chat(llm.url, request);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after-ms"), "1500");
  assert.equal(response.headers.get("retry-after"), "2");
  assert.deepEqual((await response.json()).error.type, "rate_limit_exceeded");
});

Deno.test("latency delays an answer", async () => {
  await using llm = await startScriptedLlm({
    scenarios: [{
      rules: [{ name: "slow", answers: [{ kind: "json", value: 1, latency_ms: 80 }] }],
    }],
  });
  const started = performance.now();
  await (await chat(llm.url, request)).body?.cancel();
  assert.ok(performance.now() - started >= 80);
});

Deno.test("closing the server ends a hanging answer at once", async () => {
  const llm = await startScriptedLlm({
    scenarios: [{ rules: [{ name: "hang", answers: [{ kind: "hang", ms: 60_000 }] }] }],
  });
  const pending = chat(llm.url, request).then((r) => r.body?.cancel(), () => undefined);
  while (llm.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  const started = performance.now();
  await llm.close();
  await pending;
  assert.ok(performance.now() - started < 1000);
});

Deno.test("models are listed, and other paths and bad bodies get clear errors", async () => {
  await using llm = await startScriptedLlm({ models: ["a", "b"] });
  const models = await (await fetch(`${llm.url}/models`)).json();
  assert.deepEqual(models.data.map((m: { id: string }) => m.id), ["a", "b"]);

  const embeddings = await fetch(`${llm.url}/embeddings`, { method: "POST", body: "{}" });
  assert.equal(embeddings.status, 404);
  assert.match((await embeddings.json()).error.message, /not POST \/v1\/embeddings/);

  const bad = await chat(llm.url, { model: "m" });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /not a chat completion request/);

  const streaming = await chat(llm.url, { ...request, stream: true });
  assert.equal(streaming.status, 400);
  await streaming.body?.cancel();
  assert.equal(llm.requests.length, 0);
});

Deno.test("a forced function call is answered as one; no_tools refuses tools, tool_answers_only answers every request with a call", async () => {
  const rules = [{
    name: "hi",
    match: { schema: "greeting" },
    answers: [{ kind: "json" as const, value: { hi: 1 } }],
  }];
  const { response_format: _, ...plain } = request;
  const forced = {
    ...plain,
    tools: [{ type: "function", function: { name: "greeting", parameters: {} } }],
    tool_choice: { type: "function", function: { name: "greeting" } },
  };
  {
    await using llm = await startScriptedLlm({ scenarios: [{ rules }] });
    const body = await (await chat(llm.url, forced)).json();
    assert.equal(llm.requests[0].schemaName, "greeting", "the forced function names the schema");
    const choice = body.choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls[0].type, "function");
    assert.equal(choice.message.tool_calls[0].function.name, "greeting");
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { hi: 1 });
    // Not forced (no tool_choice): the answer is content, as OpenAI may answer.
    const free = await (await chat(llm.url, { ...request, tools: forced.tools })).json();
    assert.equal(free.choices[0].message.content, '{"hi":1}');
  }
  {
    await using llm = await startScriptedLlm({ scenarios: [{ rules }], quirks: ["no_tools"] });
    const refused = await chat(llm.url, forced);
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).error.param, "tools");
    assert.equal(llm.requests[0].outcome, "format_refused");
  }
  {
    await using llm = await startScriptedLlm({
      scenarios: [{ rules }],
      quirks: ["tool_answers_only"],
    });
    const body = await (await chat(llm.url, request)).json();
    assert.equal(body.choices[0].message.content, null);
    assert.equal(body.choices[0].message.tool_calls[0].function.name, "greeting");
  }
});
