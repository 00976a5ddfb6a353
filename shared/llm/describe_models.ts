/**
 * What `npm run dev` says about models before anyone submits a run: which model (or Azure
 * deployment) each agent will use, with its timeout and price, read from the same variables the
 * functions read — or, without model settings, one line saying that nothing needing a model will
 * run and that the offline demo replays the recorded example. Pure: the environment and the agent
 * names come in, text goes out; the API key is never printed.
 *
 * @example
 * ```ts
 * console.log(describeModels(Deno.env.toObject(), ["orchestrator", ...AGENTS]));
 * // Models at https://api.openai.com/v1 (structured output: auto …):
 * //   orchestrator  gpt-4.1-mini  timeout 120 s  $0.40 in / $1.60 out per 1M tokens
 * ```
 */
import { isAppError } from "../errors/mod.ts";
import {
  agentModelVariable,
  type LlmConfig,
  loadLlmConfig,
  modelFor,
  REQUIRED_LLM_VARIABLES,
  timeoutFor,
} from "./config.ts";
import { loadPriceTable, priceOf, type PriceTable } from "./prices.ts";

/** The line printed when no model is configured (the start of it; the rest names what is unset). */
export const NO_MODEL_NOTICE = "No language model is configured";

/**
 * The models `agents` will use under `env`, one line per agent, or one line saying why none will.
 * Agents are listed in the order given.
 */
export function describeModels(
  env: Record<string, string | undefined>,
  agents: readonly string[],
): string {
  const missing = REQUIRED_LLM_VARIABLES.filter((name) => !env[name]);
  if (missing.length > 0) {
    return `${NO_MODEL_NOTICE} (${
      missing.join(", ")
    } not set): nothing that needs a model will run — ` +
      "POST /runs, `bt submit` and the MCP tool submit_run answer llm_not_configured. Set " +
      "OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL before `npm run dev` to use one; " +
      "`npm run demo` replays the recorded trade-journal example offline.";
  }
  let config: LlmConfig;
  let prices: PriceTable;
  try {
    config = loadLlmConfig(env);
    prices = loadPriceTable(env);
  } catch (e) {
    const reason = isAppError(e) ? e.message : e instanceof Error ? e.message : String(e);
    return `The model settings are not valid (${oneLine(reason)}): nothing that needs a model ` +
      "will run until they are fixed.";
  }
  const where = config.apiVersion
    ? `Azure OpenAI at ${config.baseURL} (api-version ${config.apiVersion}; models are deployments)`
    : config.baseURL;
  const mode = config.structuredOutput
    ? `${config.structuredOutput} (pinned by OPENAI_STRUCTURED_OUTPUT)`
    : "auto (strict json_schema, falling back when refused)";
  const rows = agents.map((agent) => {
    const model = modelFor(config, agent);
    const variable = agentModelVariable(agent);
    const own = variable.slice("OPENAI_MODEL_".length) in config.agentModels
      ? ` (${variable})`
      : "";
    const price = priceOf(prices, model);
    return [
      agent,
      model + own,
      `timeout ${seconds(timeoutFor(config, agent))}`,
      price
        ? `$${dollars(price.input)} in / $${dollars(price.output)} out per 1M tokens`
        : "no price: cost unknown (set BT_LLM_PRICES)",
    ];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return [
    `Models at ${where} (structured output: ${mode}):`,
    ...rows.map((r) => `  ${r.map((cell, i) => i < 3 ? cell.padEnd(widths[i]) : cell).join("  ")}`),
  ].join("\n");
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function dollars(perMillion: number): string {
  return perMillion.toFixed(2);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
