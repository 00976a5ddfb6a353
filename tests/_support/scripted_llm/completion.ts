/**
 * The wire side of the scripted LLM: reading a chat completion request the way an OpenAI-compatible
 * server does, and writing answers in the shapes the `openai` SDK expects (`chat.completion`
 * bodies, OpenAI-style error bodies, retry headers). Token counts are a deterministic 4 characters
 * per token, so tests can predict and assert them.
 */
import { z } from "zod";
import type { ScriptedAnswer } from "./scenario.ts";

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

/** The parts of a chat completion request body the server reads; anything else is kept as is. */
export const ChatRequestBody = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({
    role: z.string(),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
    refusal: z.string().nullish(),
  })).min(1),
  response_format: z.looseObject({
    type: z.string(),
    json_schema: z.looseObject({ name: z.string() }).optional(),
  }).optional(),
  tools: z.array(z.looseObject({
    type: z.string(),
    function: z.looseObject({ name: z.string() }).optional(),
  })).optional(),
  tool_choice: z.union([
    z.string(),
    z.looseObject({
      type: z.string(),
      function: z.looseObject({ name: z.string() }).optional(),
    }),
  ]).optional(),
  stream: z.boolean().nullish(),
});
export type ChatRequestBody = z.infer<typeof ChatRequestBody>;

/** A message reduced to its text (content parts joined; an assistant refusal counts as text). */
export interface TextMessage {
  role: string;
  content: string;
}

/** The text of each message. */
export function textMessages(body: ChatRequestBody): TextMessage[] {
  return body.messages.map((m) => {
    const content = typeof m.content === "string"
      ? m.content
      : Array.isArray(m.content)
      ? m.content.map((part) => part.text ?? "").join("")
      : m.refusal ?? "";
    return { role: m.role, content };
  });
}

/**
 * The function a request makes the model call: the one `tool_choice` names, or the only tool when
 * `tool_choice` is `"required"`; `undefined` when the model may answer in text.
 */
export function forcedFunction(body: ChatRequestBody): string | undefined {
  const choice = body.tool_choice;
  if (choice && typeof choice === "object") return choice.function?.name;
  const functions = (body.tools ?? []).filter((t) => t.type === "function" && t.function);
  if (choice === "required" && functions.length === 1) return functions[0].function!.name;
  return undefined;
}

/** Tokens as the scripted server counts them: one per 4 characters, rounded up. */
export function scriptedTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Answers that become a `chat.completion` body. */
export type MessageAnswer = Extract<ScriptedAnswer, { kind: "json" | "text" | "refusal" }>;

/** A `chat.completion` body for `answer`, as the SDK parses it. */
export function completionBody(
  answer: MessageAnswer,
  request: { model: string; messages: readonly TextMessage[] },
  seq: number,
  /** Send the content as a call of this function (`tool_calls`, no content), as tools answer. */
  asCallOf?: string,
): Record<string, unknown> {
  const content = answer.kind === "json"
    ? JSON.stringify(answer.value)
    : answer.kind === "text"
    ? answer.text
    : null;
  const refusal = answer.kind === "refusal" ? answer.refusal : null;
  const usage = answer.usage ?? {
    prompt_tokens: scriptedTokens(request.messages.map((m) => m.content).join("")),
    completion_tokens: scriptedTokens(content ?? refusal ?? ""),
  };
  return {
    id: `chatcmpl-scripted-${seq}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    choices: [{
      index: 0,
      message: asCallOf !== undefined && content !== null
        ? {
          role: "assistant",
          content: null,
          refusal,
          tool_calls: [{
            id: `call_scripted_${seq}`,
            type: "function",
            function: { name: asCallOf, arguments: content },
          }],
        }
        : { role: "assistant", content, refusal },
      finish_reason: answer.kind === "text" && answer.finish_reason
        ? answer.finish_reason
        : asCallOf !== undefined && content !== null
        ? "tool_calls"
        : "stop",
      logprobs: null,
    }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** An OpenAI-style error response. */
export function errorResponse(
  status: number,
  message: string,
  type: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error: { message, type, param: null, code: type } }, {
    status,
    headers,
  });
}

/** The error response for a scripted `http_error`, with retry headers when asked for. */
export function scriptedErrorResponse(
  answer: Extract<ScriptedAnswer, { kind: "http_error" }>,
): Response {
  const headers: Record<string, string> = {};
  if (answer.retry_after_ms !== undefined) {
    headers["retry-after-ms"] = String(answer.retry_after_ms);
    headers["retry-after"] = String(Math.ceil(answer.retry_after_ms / 1000));
  }
  const type = answer.status === 429 ? "rate_limit_exceeded" : "scripted_error";
  return errorResponse(
    answer.status,
    answer.message ?? `scripted HTTP ${answer.status}`,
    type,
    headers,
  );
}
