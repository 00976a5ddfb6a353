import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { agentModelVariable, loadLlmConfig, modelFor } from "./config.ts";

const complete = {
  OPENAI_API_KEY: "sk-test",
  OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
  OPENAI_MODEL: "llama3.1",
};

Deno.test("missing OPENAI_MODEL and OPENAI_BASE_URL stop start-up, each named", () => {
  try {
    loadLlmConfig({ OPENAI_API_KEY: "sk-test" });
    assert.fail("expected a configuration error");
  } catch (e) {
    assert.ok(isAppError(e, "config_missing"));
    assert.match(e.message, /OPENAI_BASE_URL is not set/);
    assert.match(e.message, /OPENAI_MODEL is not set/);
    assert.doesNotMatch(e.message, /OPENAI_API_KEY/);
  }
});

Deno.test("a base URL that is not an http(s) URL is named with the problem", () => {
  assert.throws(
    () => loadLlmConfig({ ...complete, OPENAI_BASE_URL: "localhost:11434" }),
    /OPENAI_BASE_URL: /,
  );
});

Deno.test("timeout and retries default to 2 minutes and 2 retries, and can be set", () => {
  const defaults = loadLlmConfig(complete);
  assert.equal(defaults.timeoutMs, 120_000);
  assert.equal(defaults.maxRetries, 2);
  const set = loadLlmConfig({ ...complete, OPENAI_TIMEOUT_MS: "500", OPENAI_MAX_RETRIES: "0" });
  assert.equal(set.timeoutMs, 500);
  assert.equal(set.maxRetries, 0);
  assert.throws(
    () => loadLlmConfig({ ...complete, OPENAI_TIMEOUT_MS: "soon" }),
    /OPENAI_TIMEOUT_MS/,
  );
});

Deno.test("an agent uses its OPENAI_MODEL_<AGENT> override, everyone else the default", () => {
  assert.equal(agentModelVariable("db-architect"), "OPENAI_MODEL_DB_ARCHITECT");
  const config = loadLlmConfig({ ...complete, OPENAI_MODEL_DB_ARCHITECT: "qwen2.5-coder" });
  assert.equal(modelFor(config, "db-architect"), "qwen2.5-coder");
  assert.equal(modelFor(config, "security"), "llama3.1");
  assert.equal(modelFor(config, undefined), "llama3.1");
});
