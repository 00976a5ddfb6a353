/**
 * The one way the product talks to a language model: a conversation and a zod schema in, a value
 * that schema accepted (plus what it cost) out. The core depends on this interface only, so it can
 * be driven by the OpenAI adapter against any OpenAI-compatible endpoint, including the scripted
 * server the tests and the offline demo run.
 */
import type { z } from "zod";

/** One message of a conversation. Text only: the agents exchange prompts and JSON. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Tokens spent, as the endpoint reported them (or estimated when it reported nothing). */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** True when the endpoint reported no usage for an answer and it was estimated. */
  estimated?: boolean;
}

/** What to ask. `agent`, `phase` and `runId` label the call for usage, budgets and test scripts. */
export interface CompleteRequest<S extends z.ZodType> {
  /** The answer must satisfy this schema; it is sent as a strict JSON schema and parsed locally. */
  schema: S;
  /** Name of the schema as the model sees it (`^[a-zA-Z0-9_-]{1,64}$`), e.g. `understanding`. */
  schemaName: string;
  messages: readonly ChatMessage[];
  /** Who asks, e.g. `orchestrator` or `db-architect`; selects a per-agent model override. */
  agent?: string;
  /** Which step of the agent's work, e.g. `understand` or `plan`. */
  phase?: string;
  /** The run the tokens are charged to. */
  runId?: string;
  /** Model to use instead of the configured one. */
  model?: string;
  temperature?: number;
  /** Cancels the call (e.g. when the worker's lease is lost). */
  signal?: AbortSignal;
}

/** A successful answer. */
export interface CompleteResult<T> {
  /** The answer, parsed by the request's schema. */
  value: T;
  /** Tokens of every answer this call received, re-asked ones included. */
  usage: TokenUsage;
  /** How many times the answer was re-asked because it was not valid (0 … maxReasks). */
  reasks: number;
  /** How many answers the model gave (`reasks + 1`); transport retries are not counted. */
  attempts: number;
  /** The model that answered, as the endpoint names it (else the model asked). */
  model: string;
  /** What every answer of this call cost in US dollars; `null` when the model has no price. */
  cost_usd?: number | null;
}

/** The LLM port. */
export interface LlmPort {
  /**
   * Asks until the answer satisfies `schema` (bounded re-asks), recording usage of every answer.
   * Throws `AppError` with `llm_invalid_output` (never a valid answer), `llm_unavailable` (the
   * endpoint failed after transport retries) or whatever the usage recorder throws (e.g.
   * `budget_exceeded`).
   */
  complete<S extends z.ZodType>(request: CompleteRequest<S>): Promise<CompleteResult<z.output<S>>>;
}
