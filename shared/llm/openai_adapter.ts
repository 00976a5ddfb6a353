/**
 * The {@link LlmPort} over the official `openai` SDK, for any OpenAI-compatible endpoint. Three
 * bounded loops, each owned by one party: transport retries (429, 5xx, timeouts) are the SDK's;
 * semantic re-asks (malformed JSON, schema mismatch, refusal) are ours, at most `maxReasks` per
 * call, each telling the model what was wrong; budget stops belong to the usage recorder, which
 * sees every answer before it is used. The schema goes out as a strict JSON schema
 * (`zodResponseFormat`) and the answer is always parsed locally too, because not every endpoint
 * enforces it.
 *
 * @example
 * ```ts
 * const llm = createOpenAiLlm(loadLlmConfig(), { usage: recorder });
 * const { value } = await llm.complete({
 *   schema: Understanding, schemaName: "understanding", messages,
 *   agent: "orchestrator", phase: "understand", runId,
 * });
 * ```
 */
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import { AppError } from "../errors/mod.ts";
import { checkAnswer, reaskMessages, type RejectedAnswer } from "./answer_check.ts";
import { type LlmConfig, modelFor } from "./config.ts";
import { LLM_REQUEST_HEADERS } from "./headers.ts";
import type { ChatMessage, CompleteRequest, CompleteResult, LlmPort, TokenUsage } from "./port.ts";
import { transportError } from "./transport_errors.ts";
import type { UsageRecorder } from "./usage.ts";

/** How the adapter behaves beyond the endpoint configuration. */
export interface OpenAiLlmOptions {
  /** Receives the tokens of every answer; may throw `budget_exceeded` to stop. */
  usage: UsageRecorder;
  /** Re-asks after an invalid answer before giving up (default 2). */
  maxReasks?: number;
  /** Follow-up text after an invalid answer; placeholders `{{problem}}`, `{{schema_name}}`. */
  reaskTemplate?: string;
}

/** Default number of re-asks after an invalid answer. */
export const DEFAULT_MAX_REASKS = 2;

/** Builds the LLM port for the endpoint in `config`. */
export function createOpenAiLlm(config: LlmConfig, options: OpenAiLlmOptions): LlmPort {
  return new OpenAiLlm(config, options);
}

type ResponseFormat = ReturnType<typeof zodResponseFormat>;

class OpenAiLlm implements LlmPort {
  readonly #config: LlmConfig;
  readonly #client: OpenAI;
  readonly #usage: UsageRecorder;
  readonly #maxReasks: number;
  readonly #reaskTemplate: string | undefined;
  readonly #formats = new WeakMap<z.ZodType, Map<string, ResponseFormat>>();

  constructor(config: LlmConfig, options: OpenAiLlmOptions) {
    this.#config = config;
    this.#client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseURL,
      timeout: config.timeoutMs,
      maxRetries: config.maxRetries,
      // Configuration comes from loadLlmConfig only, not from variables the SDK would read itself.
      organization: null,
      project: null,
    });
    this.#usage = options.usage;
    this.#maxReasks = options.maxReasks ?? DEFAULT_MAX_REASKS;
    this.#reaskTemplate = options.reaskTemplate;
  }

  async complete<S extends z.ZodType>(
    request: CompleteRequest<S>,
  ): Promise<CompleteResult<z.output<S>>> {
    const model = request.model ?? modelFor(this.#config, request.agent);
    const responseFormat = this.#responseFormat(request.schema, request.schemaName);
    const conversation: ChatMessage[] = [...request.messages];
    const total: TokenUsage = { prompt_tokens: 0, completion_tokens: 0 };
    const rejections: RejectedAnswer[] = [];

    for (let reask = 0;; reask++) {
      const completion = await this.#ask(request, model, conversation, responseFormat, reask);
      const answeredBy = completion.model || model;
      const usage = reportedUsage(completion, conversation);
      total.prompt_tokens += usage.prompt_tokens;
      total.completion_tokens += usage.completion_tokens;
      await this.#usage.record({
        runId: request.runId,
        agent: request.agent,
        phase: request.phase,
        model: answeredBy,
        ...usage,
        reask,
      });

      const choice = completion.choices[0];
      const check = checkAnswer(request.schema, {
        content: choice?.message.content ?? null,
        refusal: choice?.message.refusal ?? null,
        finishReason: choice?.finish_reason ?? null,
      });
      if (check.ok) {
        return {
          value: check.value,
          usage: total,
          reasks: reask,
          attempts: reask + 1,
          model: answeredBy,
        };
      }
      rejections.push(check);
      if (reask >= this.#maxReasks) {
        throw new AppError(
          "llm_invalid_output",
          `no valid ${request.schemaName} from ${answeredBy} after ${reask} re-ask(s); last answer: ${check.problem}`,
          {
            schemaName: request.schemaName,
            agent: request.agent ?? null,
            phase: request.phase ?? null,
            model: answeredBy,
            reasks: reask,
            usage: total,
            rejections: rejections.map(({ kind, problem }) => ({ kind, problem })),
          },
        );
      }
      conversation.push(...reaskMessages(check, request.schemaName, this.#reaskTemplate));
    }
  }

  async #ask(
    request: CompleteRequest<z.ZodType>,
    model: string,
    messages: ChatMessage[],
    responseFormat: ResponseFormat,
    reask: number,
  ): Promise<OpenAI.Chat.Completions.ChatCompletion> {
    const headers: Record<string, string> = { [LLM_REQUEST_HEADERS.reask]: String(reask) };
    if (request.agent) headers[LLM_REQUEST_HEADERS.agent] = request.agent;
    if (request.phase) headers[LLM_REQUEST_HEADERS.phase] = request.phase;
    if (request.runId) headers[LLM_REQUEST_HEADERS.runId] = request.runId;
    try {
      return await this.#client.chat.completions.create(
        {
          model,
          messages,
          response_format: responseFormat,
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        },
        { headers, signal: request.signal },
      );
    } catch (e) {
      throw transportError(e, {
        baseURL: this.#config.baseURL,
        model,
        timeoutMs: this.#config.timeoutMs,
        maxRetries: this.#config.maxRetries,
      });
    }
  }

  /** The strict JSON-schema response format of `schema`, built once per schema and name. */
  #responseFormat(schema: z.ZodType, name: string): ResponseFormat {
    let byName = this.#formats.get(schema);
    const cached = byName?.get(name);
    if (cached) return cached;
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
      throw new AppError("internal", `schema name "${name}" must match ^[a-zA-Z0-9_-]{1,64}$`);
    }
    let format: ResponseFormat;
    try {
      format = zodResponseFormat(schema, name);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new AppError(
        "internal",
        `schema ${name} cannot be sent as a strict JSON schema: ${reason}`,
        undefined,
        { cause: e },
      );
    }
    if (!byName) this.#formats.set(schema, byName = new Map());
    byName.set(name, format);
    return format;
  }
}

/** The endpoint's token counts; when it sends none, an estimate (4 characters per token). */
function reportedUsage(
  completion: OpenAI.Chat.Completions.ChatCompletion,
  conversation: readonly ChatMessage[],
): TokenUsage {
  if (completion.usage) {
    return {
      prompt_tokens: completion.usage.prompt_tokens,
      completion_tokens: completion.usage.completion_tokens,
    };
  }
  const promptChars = conversation.reduce((n, m) => n + m.content.length, 0);
  const message = completion.choices[0]?.message;
  const answerChars = (message?.content ?? message?.refusal ?? "").length;
  return {
    prompt_tokens: Math.ceil(promptChars / 4),
    completion_tokens: Math.ceil(answerChars / 4),
  };
}
