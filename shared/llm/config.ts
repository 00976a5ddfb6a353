/**
 * Where the LLM lives and how patient to be with it, from the environment. Parsed once at start-up
 * so a missing `OPENAI_MODEL` or a malformed `OPENAI_BASE_URL` stops the process with its name
 * instead of failing the first run. Any OpenAI-compatible endpoint works (OpenAI, Ollama, vLLM,
 * OpenRouter, LM Studio, Azure OpenAI, the scripted test server); a single agent can use another
 * model through `OPENAI_MODEL_<AGENT>` (e.g. `OPENAI_MODEL_DB_ARCHITECT`; on Azure, a deployment
 * name) and another timeout through `OPENAI_TIMEOUT_MS_<AGENT>` (local servers are slow to their
 * first token). `OPENAI_API_VERSION` switches to Azure OpenAI (`api-version` on every request,
 * the model naming the deployment). `OPENAI_STRUCTURED_OUTPUT` pins how answers are constrained
 * (`json_schema`, `json_object`, `tool_call` or `prompt`); by default (`auto`) the adapter starts with a strict
 * JSON schema and falls back when the endpoint refuses it.
 *
 * Functions that may run without a model (the workers and the API, before anyone set one) ask
 * {@link llmConfigProblem} first: it names what is missing in one line a user can act on.
 *
 * @example
 * ```ts
 * const config = loadLlmConfig();
 * modelFor(config, "db-architect"); // OPENAI_MODEL_DB_ARCHITECT ?? OPENAI_MODEL
 * ```
 */
import { z } from "zod";
import { loadConfig } from "../config/mod.ts";
import { AppError } from "../errors/mod.ts";

/** The variables the LLM adapter reads. */
export const LlmEnv = z.object({
  OPENAI_API_KEY: z.string().min(1),
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }),
  OPENAI_MODEL: z.string().min(1),
  /** Per attempt, in milliseconds; the SDK retries a timed-out attempt like any transport error. */
  OPENAI_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Transport retries of the SDK (429, 5xx, connection errors, timeouts). */
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Azure OpenAI's `api-version`; set, the endpoint is treated as Azure's. */
  OPENAI_API_VERSION: z.string().min(1).optional(),
  /** How answers are constrained; `auto` falls back from `json_schema` when it is refused. */
  OPENAI_STRUCTURED_OUTPUT: z.enum(["auto", "json_schema", "json_object", "tool_call", "prompt"])
    .default("auto"),
});

/** How the adapter asks for structured output (see `OPENAI_STRUCTURED_OUTPUT`). */
export type StructuredOutputMode = "json_schema" | "json_object" | "tool_call" | "prompt";

/** The LLM adapter's configuration. */
export interface LlmConfig {
  apiKey: string;
  baseURL: string;
  model: string;
  /** Per-agent models keyed by the variable's suffix (`DB_ARCHITECT` for `db-architect`). */
  agentModels: Record<string, string>;
  timeoutMs: number;
  /** Per-agent timeouts keyed like `agentModels` (`OPENAI_TIMEOUT_MS_<AGENT>`). */
  agentTimeoutsMs?: Record<string, number>;
  maxRetries: number;
  /** Azure OpenAI's `api-version`, when the endpoint is Azure's. */
  apiVersion?: string;
  /** A pinned structured-output mode; unset, `auto` (start strict, fall back when refused). */
  structuredOutput?: StructuredOutputMode;
}

const AGENT_MODEL_PREFIX = "OPENAI_MODEL_";
const AGENT_TIMEOUT_PREFIX = "OPENAI_TIMEOUT_MS_";

/** The variables a model needs; without them {@link llmConfigProblem} says what to do. */
export const REQUIRED_LLM_VARIABLES = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"];

/**
 * Why no model can be used with `env`, in one line a user can act on, or `undefined` when the
 * variables a model needs are all set (whether they are well-formed is `loadLlmConfig`'s to say).
 *
 * @example
 * ```ts
 * llmConfigProblem({}); // "no language model is configured: OPENAI_API_KEY, … are not set. …"
 * ```
 */
export function llmConfigProblem(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string | undefined {
  const missing = REQUIRED_LLM_VARIABLES.filter((name) => !env[name]);
  if (missing.length === 0) return undefined;
  return `no language model is configured: ${missing.join(", ")} ${
    missing.length === 1 ? "is" : "are"
  } not set. Set OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL for the functions (any ` +
    "OpenAI-compatible endpoint; `supabase secrets set` on a project, the environment of " +
    "`npm run dev` locally). Without a key, `npm run demo` replays the recorded trade-journal " +
    "example offline.";
}

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
  const agentTimeoutsMs: Record<string, number> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (name.startsWith(AGENT_TIMEOUT_PREFIX)) {
      const ms = Number(value);
      if (!Number.isSafeInteger(ms) || ms <= 0) {
        throw new AppError(
          "config_missing",
          `configuration error: ${name}: must be a positive whole number of milliseconds`,
          { variables: [name] },
        );
      }
      agentTimeoutsMs[name.slice(AGENT_TIMEOUT_PREFIX.length)] = ms;
    } else if (name.startsWith(AGENT_MODEL_PREFIX)) {
      agentModels[name.slice(AGENT_MODEL_PREFIX.length)] = value;
    }
  }
  return {
    apiKey: parsed.OPENAI_API_KEY,
    baseURL: parsed.OPENAI_BASE_URL,
    model: parsed.OPENAI_MODEL,
    agentModels,
    timeoutMs: parsed.OPENAI_TIMEOUT_MS,
    agentTimeoutsMs,
    maxRetries: parsed.OPENAI_MAX_RETRIES,
    apiVersion: parsed.OPENAI_API_VERSION,
    structuredOutput: parsed.OPENAI_STRUCTURED_OUTPUT === "auto"
      ? undefined
      : parsed.OPENAI_STRUCTURED_OUTPUT,
  };
}

/** The timeout of `agent`'s calls: its `OPENAI_TIMEOUT_MS_<AGENT>`, else `OPENAI_TIMEOUT_MS`. */
export function timeoutFor(config: LlmConfig, agent: string | undefined): number {
  if (agent === undefined) return config.timeoutMs;
  const key = agentModelVariable(agent).slice(AGENT_MODEL_PREFIX.length);
  return config.agentTimeoutsMs?.[key] ?? config.timeoutMs;
}

/** The model `agent` uses: its override when one is set, else the default model. */
export function modelFor(config: LlmConfig, agent: string | undefined): string {
  if (agent === undefined) return config.model;
  const key = agentModelVariable(agent).slice(AGENT_MODEL_PREFIX.length);
  return config.agentModels[key] ?? config.model;
}
