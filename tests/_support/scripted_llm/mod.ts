/**
 * The scripted OpenAI-compatible server for tests and the offline demo. Point `OPENAI_BASE_URL` at
 * its `url` and the product's real LLM adapter talks to it over loopback.
 *
 * @example
 * ```ts
 * await using llm = await startScriptedLlm({
 *   scenarioFiles: [new URL("../../fixtures/llm/todo_app.json", import.meta.url)],
 * });
 * const config = loadLlmConfig({ OPENAI_API_KEY: "test", OPENAI_BASE_URL: llm.url, OPENAI_MODEL: "scripted" });
 * // … run the code under test …
 * llm.requests[0].messages; // what the prompt contained
 * ```
 */
export {
  type ProviderQuirk,
  type RecordedRequest,
  type Responder,
  type ScriptedLlm,
  type ScriptedLlmOptions,
  startScriptedLlm,
} from "./server.ts";
export {
  loadScenarioFile,
  parseScenario,
  Scenario,
  type ScenarioInput,
  ScriptedAnswer,
  ScriptRule,
} from "./scenario.ts";
export { type Picked, type RequestLabels, ScriptPlayer, type Unmatched } from "./match.ts";
export { scriptedTokens } from "./completion.ts";
