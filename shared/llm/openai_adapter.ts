/**
 * The {@link LlmPort} over the official `openai` SDK, for any OpenAI-compatible endpoint. Three
 * bounded loops, each owned by one party: transport retries (429, 5xx, timeouts) are the SDK's;
 * semantic re-asks (malformed JSON, schema mismatch, refusal) are ours, at most `maxReasks` per
 * call, each telling the model what was wrong; budget stops belong to the usage recorder, which
 * sees every answer before it is used. The schema goes out as a strict JSON schema
 * (`zodResponseFormat`) and the answer is always parsed locally too, because not every endpoint
 * enforces it.
 *
 * Providers differ, so the way the schema is sent steps down when an endpoint refuses it (an HTTP
 * 400/422 naming `response_format`, `json_schema` or `strict`; at the tool step, naming `tools`,
 * `tool_choice` or function calling): strict JSON schema, then the schema without `strict`, then
 * JSON mode (`json_object`) with the schema in a system message, then a forced call of a function
 * whose parameters are the schema (`tools` + `tool_choice`), then no constraint at all (the schema
 * in the prompt). The step that worked is remembered per model for the adapter's life, so only the
 * first call pays for the refusal. An answer given as a function call (some proxies answer that way
 * whatever was asked) is read from the call's arguments; whatever the step, the same zod schema
 * decides whether it is an answer. Answers without
 * `usage` are estimated (4 characters a token) and marked `estimated`. With `apiVersion` the client
 * is the SDK's `AzureOpenAI` (the model names the deployment; `api-key` header, `api-version`).
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
import OpenAI, { APIError, AzureOpenAI } from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import { AppError } from "../errors/mod.ts";
import { checkAnswer, reaskMessages, type RejectedAnswer } from "./answer_check.ts";
import { type LlmConfig, modelFor, type StructuredOutputMode, timeoutFor } from "./config.ts";
import { LLM_REQUEST_HEADERS } from "./headers.ts";
import type { ChatMessage, CompleteRequest, CompleteResult, LlmPort, TokenUsage } from "./port.ts";
import { transportError } from "./transport_errors.ts";
import type { UsageRecorder } from "./usage.ts";
import { costOf, DEFAULT_PRICE_TABLE, type PriceTable } from "./prices.ts";

/** How the adapter behaves beyond the endpoint configuration. */
export interface OpenAiLlmOptions {
  /** Receives the tokens of every answer; may throw `budget_exceeded` to stop. */
  usage: UsageRecorder;
  /** Re-asks after an invalid answer before giving up (default 2). */
  maxReasks?: number;
  /** Follow-up text after an invalid answer; placeholders `{{problem}}`, `{{schema_name}}`. */
  reaskTemplate?: string;
  /** Prices answers in money (default: the built-in table; `loadPriceTable()` adds the env's). */
  prices?: PriceTable;
}

/** Default number of re-asks after an invalid answer. */
export const DEFAULT_MAX_REASKS = 2;

/** Builds the LLM port for the endpoint in `config`. */
export function createOpenAiLlm(config: LlmConfig, options: OpenAiLlmOptions): LlmPort {
  return new OpenAiLlm(config, options);
}

type ResponseFormat = ReturnType<typeof zodResponseFormat>;

/** The ways to send a schema, most to least constrained; a refusal steps one down. */
const FORMAT_STEPS = [
  "json_schema",
  "json_schema_loose",
  "json_object",
  "tool_call",
  "prompt",
] as const;
/** One way of sending the schema. */
type FormatStep = (typeof FORMAT_STEPS)[number];

const STEP_OF_MODE: Record<StructuredOutputMode, FormatStep> = {
  json_schema: "json_schema",
  json_object: "json_object",
  tool_call: "tool_call",
  prompt: "prompt",
};

/** Whether `e` is an endpoint refusing the response format (not the request as a whole). */
export function isResponseFormatRefusal(e: unknown): boolean {
  const text = refusalText(e);
  return text !== undefined &&
    /response_format|json_schema|json_object|structured output|strict/i.test(text);
}

/** Whether `e` is an endpoint refusing tools or a forced tool call (not the request as a whole). */
export function isToolCallRefusal(e: unknown): boolean {
  const text = refusalText(e);
  return text !== undefined && /\btools?\b|tool_choice|tool[ _]call|function[ _]call/i.test(text);
}

/** Whether `e` refuses the way `step` sends the schema, so the next step may be tried. */
function isRefusalOf(step: FormatStep, e: unknown): boolean {
  return step === "tool_call" ? isToolCallRefusal(e) : isResponseFormatRefusal(e);
}

/** The words of a 400/422/501 answer (message and `param`), else `undefined`. */
function refusalText(e: unknown): string | undefined {
  if (!(e instanceof APIError)) return undefined;
  if (e.status !== 400 && e.status !== 422 && e.status !== 501) return undefined;
  const body = e.error as { message?: unknown; param?: unknown } | undefined;
  return [e.message, body?.message, body?.param].filter((x) => typeof x === "string").join(" ");
}

class OpenAiLlm implements LlmPort {
  readonly #config: LlmConfig;
  readonly #client: OpenAI;
  readonly #usage: UsageRecorder;
  readonly #maxReasks: number;
  readonly #reaskTemplate: string | undefined;
  readonly #prices: PriceTable;
  readonly #formats = new WeakMap<z.ZodType, Map<string, ResponseFormat>>();
  /** The format step each model accepted (absent: not tried yet, start strict). */
  readonly #stepOfModel = new Map<string, FormatStep>();

  constructor(config: LlmConfig, options: OpenAiLlmOptions) {
    this.#config = config;
    const common = {
      apiKey: config.apiKey,
      baseURL: config.baseURL,
      timeout: config.timeoutMs,
      maxRetries: config.maxRetries,
      // Configuration comes from loadLlmConfig only, not from variables the SDK would read itself.
      organization: null,
      project: null,
    };
    this.#client = config.apiVersion
      ? new AzureOpenAI({ ...common, apiVersion: config.apiVersion })
      : new OpenAI(common);
    this.#usage = options.usage;
    this.#maxReasks = options.maxReasks ?? DEFAULT_MAX_REASKS;
    this.#reaskTemplate = options.reaskTemplate;
    this.#prices = options.prices ?? DEFAULT_PRICE_TABLE;
  }

  async complete<S extends z.ZodType>(
    request: CompleteRequest<S>,
  ): Promise<CompleteResult<z.output<S>>> {
    const model = request.model ?? modelFor(this.#config, request.agent);
    const responseFormat = this.#responseFormat(request.schema, request.schemaName);
    const conversation: ChatMessage[] = [...request.messages];
    const total: TokenUsage = { prompt_tokens: 0, completion_tokens: 0 };
    const rejections: RejectedAnswer[] = [];
    let costUsd: number | null = 0;

    for (let reask = 0;; reask++) {
      const completion = await this.#ask(request, model, conversation, responseFormat, reask);
      const answeredBy = completion.model || model;
      const { estimated, ...usage } = reportedUsage(completion, conversation, request.schemaName);
      total.prompt_tokens += usage.prompt_tokens;
      total.completion_tokens += usage.completion_tokens;
      if (estimated) total.estimated = true;
      // The model the endpoint names first (a dated snapshot), else the one asked for.
      const cost = costOf(this.#prices, answeredBy, usage) ?? costOf(this.#prices, model, usage);
      costUsd = cost === null || costUsd === null
        ? null
        : Math.round((costUsd + cost) * 1_000_000) / 1_000_000;
      await this.#usage.record({
        cost_usd: cost,
        runId: request.runId,
        agent: request.agent,
        phase: request.phase,
        model: answeredBy,
        ...usage,
        ...(estimated ? { estimated } : {}),
        reask,
      });

      const choice = completion.choices[0];
      const check = checkAnswer(request.schema, {
        content: answerText(choice?.message, request.schemaName),
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
          cost_usd: costUsd,
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
    const timeout = timeoutFor(this.#config, request.agent);
    const pinned = this.#config.structuredOutput;
    let step: FormatStep = pinned
      ? STEP_OF_MODE[pinned]
      : this.#stepOfModel.get(model) ?? FORMAT_STEPS[0];
    for (;;) {
      try {
        const completion = await this.#client.chat.completions.create(
          {
            model,
            messages: instructedMessages(step, messages, responseFormat),
            ...formatOf(step, responseFormat),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          },
          { headers, signal: request.signal, timeout },
        );
        if (!pinned) this.#stepOfModel.set(model, step);
        return completion;
      } catch (e) {
        const next = FORMAT_STEPS[FORMAT_STEPS.indexOf(step) + 1];
        if (!pinned && next && isRefusalOf(step, e)) {
          console.warn(
            `[llm] ${model} refused structured output as ${step}; falling back to ${next}`,
          );
          step = next;
          continue;
        }
        throw transportError(e, {
          baseURL: this.#config.baseURL,
          model,
          timeoutMs: timeout,
          maxRetries: this.#config.maxRetries,
        });
      }
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

type CreateParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/** The request fields of a step: `response_format`, or `tools` + `tool_choice` (none for `prompt`). */
function formatOf(
  step: FormatStep,
  format: ResponseFormat,
): Pick<CreateParams, "response_format" | "tools" | "tool_choice"> {
  switch (step) {
    case "json_schema":
      return { response_format: format };
    case "json_schema_loose": {
      const { strict: _strict, ...schema } = format.json_schema;
      return { response_format: { type: "json_schema", json_schema: schema } };
    }
    case "json_object":
      return { response_format: { type: "json_object" } };
    case "tool_call": {
      const name = format.json_schema.name;
      return {
        tools: [{
          type: "function",
          function: {
            name,
            description: `Gives the answer: its arguments are the \`${name}\` object.`,
            parameters: format.json_schema.schema,
          },
        }],
        tool_choice: { type: "function", function: { name } },
      };
    }
    case "prompt":
      return {};
  }
}

/** The conversation as sent at `step`: with the schema stated where the request cannot carry it. */
function instructedMessages(
  step: FormatStep,
  messages: ChatMessage[],
  format: ResponseFormat,
): ChatMessage[] {
  switch (step) {
    case "json_schema":
    case "json_schema_loose":
      return messages;
    case "tool_call":
      return [...messages, {
        role: "system",
        content: `Answer by calling the function \`${format.json_schema.name}\` with the whole ` +
          "answer as its arguments.",
      }];
    case "json_object":
    case "prompt":
      return withSchemaInstruction(messages, format);
  }
}

type AssistantMessage = OpenAI.Chat.Completions.ChatCompletionMessage;

/**
 * The answer's text: the content, or, when there is none, the arguments of the function call that
 * carries it (the one named after the schema, else the first). Tool-call answers come from the
 * `tool_call` step, and from providers that answer every request through a function call.
 */
function answerText(message: AssistantMessage | undefined, schemaName: string): string | null {
  if (!message) return null;
  if (message.content != null && message.content.trim() !== "") return message.content;
  const calls = (message.tool_calls ?? []).filter((c) => c.type === "function");
  const call = calls.find((c) => c.function.name === schemaName) ?? calls[0];
  return call ? call.function.arguments : message.content;
}

/**
 * The conversation with the schema stated in a system message, for endpoints that cannot take it
 * as `response_format` (JSON mode also requires the word "JSON" in the messages).
 */
function withSchemaInstruction(
  messages: readonly ChatMessage[],
  format: ResponseFormat,
): ChatMessage[] {
  const instruction: ChatMessage = {
    role: "system",
    content: `Answer with only a JSON object (no prose, no code fence) named ` +
      `\`${format.json_schema.name}\` that matches this JSON schema:\n` +
      JSON.stringify(format.json_schema.schema),
  };
  return [...messages, instruction];
}

/** The endpoint's token counts; when it sends none, an estimate (4 characters per token). */
function reportedUsage(
  completion: OpenAI.Chat.Completions.ChatCompletion,
  conversation: readonly ChatMessage[],
  schemaName: string,
): TokenUsage {
  if (completion.usage && typeof completion.usage.prompt_tokens === "number") {
    return {
      prompt_tokens: completion.usage.prompt_tokens,
      completion_tokens: completion.usage.completion_tokens,
    };
  }
  const promptChars = conversation.reduce((n, m) => n + m.content.length, 0);
  const message = completion.choices[0]?.message;
  const answerChars = (answerText(message, schemaName) ?? message?.refusal ?? "").length;
  return {
    prompt_tokens: Math.ceil(promptChars / 4),
    completion_tokens: Math.ceil(answerChars / 4),
    estimated: true,
  };
}
