/**
 * The LLM port: ask for a value of a zod schema, get it parsed, with its token cost recorded. The
 * core depends on {@link LlmPort}; {@link createOpenAiLlm} implements it for any OpenAI-compatible
 * endpoint configured by {@link loadLlmConfig}.
 *
 * @example
 * ```ts
 * import { createOpenAiLlm, loadLlmConfig } from "../llm/mod.ts";
 * const llm = createOpenAiLlm(loadLlmConfig(), { usage: recorder });
 * const { value, usage, reasks } = await llm.complete({
 *   schema: Plan, schemaName: "plan", messages, agent: "orchestrator", phase: "plan", runId,
 * });
 * ```
 */
export type { ChatMessage, CompleteRequest, CompleteResult, LlmPort, TokenUsage } from "./port.ts";
export {
  agentModelVariable,
  type LlmConfig,
  llmConfigProblem,
  LlmEnv,
  loadLlmConfig,
  modelFor,
  REQUIRED_LLM_VARIABLES,
  type StructuredOutputMode,
  timeoutFor,
} from "./config.ts";
export { InMemoryUsageRecorder, type UsageEntry, type UsageRecorder } from "./usage.ts";
export {
  type AnswerCheck,
  checkAnswer,
  DEFAULT_REASK_TEMPLATE,
  describeIssues,
  type ModelAnswer,
  reaskMessages,
  type RejectedAnswer,
  type RejectionKind,
} from "./answer_check.ts";
export { LLM_REQUEST_HEADERS } from "./headers.ts";
export { describeModels, NO_MODEL_NOTICE } from "./describe_models.ts";
export { type TransportFailure } from "./transport_errors.ts";
export {
  createOpenAiLlm,
  DEFAULT_MAX_REASKS,
  isResponseFormatRefusal,
  isToolCallRefusal,
  type OpenAiLlmOptions,
} from "./openai_adapter.ts";
export {
  costOf,
  DEFAULT_PRICE_TABLE,
  loadPriceTable,
  ModelPrice,
  priceOf,
  type PriceTable,
} from "./prices.ts";
