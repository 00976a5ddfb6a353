/**
 * Where the LLM lives and how patient to be with it, from the environment. Parsed once at start-up
 * so a missing `OPENAI_MODEL` or a malformed `OPENAI_BASE_URL` stops the process with its name
 * instead of failing the first run. Any OpenAI-compatible endpoint works (OpenAI, Ollama, vLLM,
 * OpenRouter, the scripted test server); a single agent can use another model through
 * `OPENAI_MODEL_<AGENT>` (e.g. `OPENAI_MODEL_DB_ARCHITECT`).
 *
 * @example
 * ```ts
 * const config = loadLlmConfig();
 * modelFor(config, "db-architect"); // OPENAI_MODEL_DB_ARCHITECT ?? OPENAI_MODEL
 * ```
 */
import { z } from "zod";
import { loadConfig } from "../config/mod.ts";

/** The variables the LLM adapter reads. */
export const LlmEnv = z.object({
  OPENAI_API_KEY: z.string().min(1),
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }),
  OPENAI_MODEL: z.string().min(1),
  /** Per attempt, in milliseconds; the SDK retries a timed-out attempt like any transport error. */
  OPENAI_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Transport retries of the SDK (429, 5xx, connection errors, timeouts). */
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
});

/** The LLM adapter's configuration. */
export interface LlmConfig {
  apiKey: string;
  baseURL: string;
  model: string;
  /** Per-agent models keyed by the variable's suffix (`DB_ARCHITECT` for `db-architect`). */
  agentModels: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
}

const AGENT_MODEL_PREFIX = "OPENAI_MODEL_";

/** The variable that overrides the model of `agent`: `db-architect` → `OPENAI_MODEL_DB_ARCHITECT`. */
export function agentModelVariable(agent: string): string {
  return AGENT_MODEL_PREFIX + agent.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Reads the LLM configuration from `env` (default: the process environment), naming what is bad. */
export function loadLlmConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): LlmConfig {
  const parsed = loadConfig(LlmEnv, env);
  const agentModels: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(AGENT_MODEL_PREFIX) && value) {
      agentModels[name.slice(AGENT_MODEL_PREFIX.length)] = value;
    }
  }
  return {
    apiKey: parsed.OPENAI_API_KEY,
    baseURL: parsed.OPENAI_BASE_URL,
    model: parsed.OPENAI_MODEL,
    agentModels,
    timeoutMs: parsed.OPENAI_TIMEOUT_MS,
    maxRetries: parsed.OPENAI_MAX_RETRIES,
  };
}

/** The model `agent` uses: its override when one is set, else the default model. */
export function modelFor(config: LlmConfig, agent: string | undefined): string {
  if (agent === undefined) return config.model;
  const key = agentModelVariable(agent).slice(AGENT_MODEL_PREFIX.length);
  return config.agentModels[key] ?? config.model;
}
