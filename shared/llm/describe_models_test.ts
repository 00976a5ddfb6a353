import assert from "node:assert/strict";
import { describeModels, NO_MODEL_NOTICE } from "./describe_models.ts";

const AGENTS = ["orchestrator", "db-architect", "security"];
const ENV = {
  OPENAI_API_KEY: "sk-secret-never-printed",
  OPENAI_BASE_URL: "https://api.openai.com/v1",
  OPENAI_MODEL: "gpt-4.1-mini",
};

Deno.test("without a key: one line saying nothing needing a model runs, what to set, and the offline demo", () => {
  const text = describeModels({}, AGENTS);
  assert.equal(text.split("\n").length, 1);
  assert.ok(text.startsWith(NO_MODEL_NOTICE));
  assert.match(text, /OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL not set/);
  assert.match(text, /nothing that needs a model will run/);
  assert.match(text, /llm_not_configured/);
  assert.match(text, /npm run demo` replays the recorded trade-journal example offline/);
  // Only the missing ones are named as missing.
  assert.match(
    describeModels({ OPENAI_BASE_URL: ENV.OPENAI_BASE_URL, OPENAI_MODEL: "m" }, AGENTS),
    /\(OPENAI_API_KEY not set\)/,
  );
});

Deno.test("each agent's model, its override variable, timeout and price; never the key", () => {
  const text = describeModels({
    ...ENV,
    OPENAI_MODEL_DB_ARCHITECT: "gpt-4.1",
    OPENAI_TIMEOUT_MS_SECURITY: "600000",
    OPENAI_TIMEOUT_MS: "90000",
  }, AGENTS);
  const lines = text.split("\n");
  assert.equal(lines.length, 1 + AGENTS.length, text);
  assert.match(lines[0], /^Models at https:\/\/api\.openai\.com\/v1 \(structured output: auto/);
  assert.match(
    lines[1],
    /^ {2}orchestrator +gpt-4\.1-mini +timeout 90 s +\$0\.40 in \/ \$1\.60 out/,
  );
  assert.match(
    lines[2],
    /^ {2}db-architect +gpt-4\.1 \(OPENAI_MODEL_DB_ARCHITECT\) +timeout 90 s +\$2\.00 in/,
  );
  assert.match(lines[3], /^ {2}security +gpt-4\.1-mini +timeout 600 s/);
  assert.ok(!text.includes(ENV.OPENAI_API_KEY));
  // Columns line up.
  assert.equal(new Set(lines.slice(1).map((l) => l.indexOf("timeout"))).size, 1, text);
});

Deno.test("Azure deployments, a pinned structured-output mode and an unpriced model are said as such", () => {
  const text = describeModels({
    ...ENV,
    OPENAI_BASE_URL: "https://res.openai.azure.com/openai",
    OPENAI_API_VERSION: "2024-10-21",
    OPENAI_MODEL: "my-deployment",
    OPENAI_STRUCTURED_OUTPUT: "tool_call",
  }, ["orchestrator"]);
  assert.match(
    text,
    /Azure OpenAI at https:\/\/res\.openai\.azure\.com\/openai \(api-version 2024-10-21/,
  );
  assert.match(text, /structured output: tool_call \(pinned by OPENAI_STRUCTURED_OUTPUT\)/);
  assert.match(text, /my-deployment +timeout 120 s +no price: cost unknown \(set BT_LLM_PRICES\)/);
  // A price override prices it.
  assert.match(
    describeModels({
      ...ENV,
      OPENAI_MODEL: "llama3.1",
      BT_LLM_PRICES: '{"llama3.1":{"input":0,"output":0}}',
    }, [
      "orchestrator",
    ]),
    /llama3\.1 +timeout 120 s +\$0\.00 in \/ \$0\.00 out/,
  );
});

Deno.test("malformed settings: one line naming the bad variable, not a stack trace", () => {
  const text = describeModels({ ...ENV, OPENAI_BASE_URL: "not a url" }, AGENTS);
  assert.equal(text.split("\n").length, 1);
  assert.match(text, /^The model settings are not valid \(.*OPENAI_BASE_URL/);
  assert.match(
    describeModels({ ...ENV, OPENAI_TIMEOUT_MS_SECURITY: "soon" }, AGENTS),
    /OPENAI_TIMEOUT_MS_SECURITY/,
  );
});
