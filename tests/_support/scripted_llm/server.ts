/**
 * A scripted OpenAI-compatible server on loopback. It lets tests and the offline demo run the real
 * `openai` client path (HTTP, retries, timeouts, parsing) with answers decided by scenario rules,
 * and records every request so a test can assert what a prompt contained. It serves
 * `POST /v1/chat/completions` and `GET /v1/models`; a request no rule answers gets a 404 whose
 * message says why each rule declined.
 */
import { LLM_REQUEST_HEADERS } from "../../../shared/llm/mod.ts";
import {
  ChatRequestBody,
  completionBody,
  errorResponse,
  forcedFunction,
  scriptedErrorResponse,
  type TextMessage,
  textMessages,
} from "./completion.ts";
import { ScriptPlayer } from "./match.ts";
import {
  loadScenarioFile,
  parseScenario,
  type Scenario,
  type ScenarioInput,
  type ScriptedAnswer,
} from "./scenario.ts";

/** A way real OpenAI-compatible providers differ from OpenAI's own API. */
export type ProviderQuirk =
  /** 400 for `response_format.type: "json_schema"` (JSON mode and plain prompts work). */
  | "no_json_schema"
  /** 400 for `json_schema.strict: true` (a schema without `strict` works). */
  | "no_strict"
  /** 400 for any `response_format`. */
  | "no_response_format"
  /** 400 for any `tools` or `tool_choice` (no function calling). */
  | "no_tools"
  /**
   * Every answer comes as a function call (`tool_calls`, no content), whatever was asked — as
   * proxies that implement JSON output through tool use answer. Without the quirk, only a request
   * forcing a function call (`tool_choice`) is answered with one, as OpenAI does.
   */
  | "tool_answers_only"
  /** The content comes in a Markdown code fence. */
  | "fenced"
  /** The content comes after a sentence of prose. */
  | "prefixed"
  /** No `usage` in the answer. */
  | "no_usage"
  /** Only Azure's paths (`/openai/deployments/<d>/chat/completions`), `api-version` and `api-key`. */
  | "azure";

/** A chat completion request as the server received it. */
export interface RecordedRequest {
  /** 1, 2, 3… in order of arrival. */
  seq: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The JSON body as sent. */
  body: ChatRequestBody;
  /** Each message's text. */
  messages: TextMessage[];
  model: string;
  agent?: string;
  phase?: string;
  runId?: string;
  /** Value of the re-ask header (0 for a first answer). */
  reask?: number;
  /** `response_format.json_schema.name`, else the function `tool_choice` forces. */
  schemaName?: string;
  /** The SDK's transport retry number for this request (`x-stainless-retry-count`), 0 if absent. */
  retryCount: number;
  /** How it was answered: the rule's name, `responder`, `quirk`, or `unmatched`. */
  answeredBy: string;
  /** The kind of answer given, `unmatched`, or `format_refused` (a quirk refused the format). */
  outcome: ScriptedAnswer["kind"] | "unmatched" | "format_refused";
  /** Azure: the deployment in the path and the `api-version` query. */
  deployment?: string;
  apiVersion?: string;
}

/** Decides an answer in code; `undefined` lets the scenario rules answer. */
export type Responder = (
  request: RecordedRequest,
) => ScriptedAnswer | undefined | Promise<ScriptedAnswer | undefined>;

/** How to start the server. Rules of `scenarios` come first, then those of `scenarioFiles`. */
export interface ScriptedLlmOptions {
  scenarios?: ScenarioInput[];
  /** JSON scenario files (see `tests/fixtures/llm/README.md`). */
  scenarioFiles?: (string | URL)[];
  /** Asked before the rules for every request. */
  respond?: Responder;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Added before every answer. */
  latencyMs?: number;
  /** Ids listed by `GET /v1/models` (default `["scripted"]`). */
  models?: string[];
  /** Behave like a provider that differs from OpenAI in these ways. */
  quirks?: ProviderQuirk[];
}

/** A running scripted server. */
export interface ScriptedLlm {
  /** Base URL ending in `/v1`, for `OPENAI_BASE_URL`. */
  url: string;
  /** Azure-style base URL ending in `/openai` (with the `azure` quirk). */
  azureUrl: string;
  port: number;
  /** Every chat completion request, in order of arrival. */
  readonly requests: RecordedRequest[];
  /** Forgets recorded requests and restarts every rule's sequence. */
  reset(): void;
  /** Stops the server; hanging answers end at once. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a scripted OpenAI-compatible server. */
export async function startScriptedLlm(options: ScriptedLlmOptions = {}): Promise<ScriptedLlm> {
  const scenarios: Scenario[] = (options.scenarios ?? []).map((s, i) =>
    parseScenario(s, `scenarios[${i}]`)
  );
  for (const file of options.scenarioFiles ?? []) scenarios.push(await loadScenarioFile(file));
  const player = new ScriptPlayer(scenarios.flatMap((s) => s.rules));
  const requests: RecordedRequest[] = [];
  const stopping = new AbortController();
  const models = options.models ?? ["scripted"];
  const quirks = new Set(options.quirks ?? []);
  let seq = 0;

  const answerChat = async (req: Request, azure?: AzureCall): Promise<Response> => {
    let json: unknown;
    try {
      json = await req.json();
    } catch {
      return errorResponse(400, "request body is not JSON", "invalid_request_error");
    }
    const parsed = ChatRequestBody.safeParse(json);
    if (!parsed.success) {
      return errorResponse(
        400,
        `not a chat completion request: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
        "invalid_request_error",
      );
    }
    if (parsed.data.stream) {
      return errorResponse(400, "the scripted server does not stream", "invalid_request_error");
    }
    const recorded = record(++seq, req.headers, parsed.data);
    if (azure) Object.assign(recorded, azure);
    requests.push(recorded);
    const refusal = formatRefusal(quirks, parsed.data);
    if (refusal) {
      recorded.answeredBy = "quirk";
      recorded.outcome = "format_refused";
      return Response.json({
        error: { message: refusal.message, type: "invalid_request_error", param: refusal.param },
      }, { status: 400 });
    }

    let answer = options.respond ? await options.respond(recorded) : undefined;
    if (answer) {
      recorded.answeredBy = "responder";
    } else {
      const picked = player.next(recorded);
      if (!picked.matched) {
        recorded.outcome = "unmatched";
        return errorResponse(404, picked.reason, "scripted_llm_no_match");
      }
      recorded.answeredBy = picked.rule;
      answer = picked.answer;
    }
    recorded.outcome = answer.kind;

    // A hang outlives the client's timeout on purpose; only close() cuts waits short.
    const signal = stopping.signal;
    const latency = (options.latencyMs ?? 0) +
      ("latency_ms" in answer ? answer.latency_ms ?? 0 : 0);
    if (!(await pause(latency, signal))) return new Response(null, { status: 499 });
    switch (answer.kind) {
      case "hang":
        if (!(await pause(answer.ms, signal))) return new Response(null, { status: 499 });
        return errorResponse(504, `scripted hang of ${answer.ms} ms elapsed`, "scripted_hang");
      case "http_error":
        return scriptedErrorResponse(answer);
      default:
        return Response.json(
          withQuirks(
            quirks,
            completionBody(answer, recorded, recorded.seq, calledFunction(quirks, parsed.data)),
          ),
        );
    }
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "");
    const azurePath = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path);
    if (quirks.has("azure")) {
      if (req.method !== "POST" || !azurePath) {
        return errorResponse(404, `Azure serves deployments, not ${req.method} ${path}`, "404");
      }
      const apiVersion = url.searchParams.get("api-version");
      if (!apiVersion) return errorResponse(404, "Resource not found (no api-version)", "404");
      if (!req.headers.get("api-key")) {
        return errorResponse(401, "Access denied due to missing api-key header", "401");
      }
      return await answerChat(req, { deployment: decodeURIComponent(azurePath[1]), apiVersion });
    }
    if (req.method === "POST" && path === "/v1/chat/completions") return await answerChat(req);
    if (req.method === "GET" && path === "/v1/models") {
      return Response.json({
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "scripted" })),
      });
    }
    return errorResponse(
      404,
      `the scripted LLM serves POST /v1/chat/completions and GET /v1/models, not ${req.method} ${path}`,
      "not_found",
    );
  };

  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, handler);
  const { hostname, port } = server.addr;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      stopping.abort();
      await server.shutdown();
    })();
    return closed;
  };
  return {
    url: `http://${hostname}:${port}/v1`,
    azureUrl: `http://${hostname}:${port}/openai`,
    port,
    requests,
    reset() {
      requests.length = 0;
      player.reset();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface AzureCall {
  deployment: string;
  apiVersion: string;
}

/** The 400 a quirky provider answers a request's `response_format` or `tools` with, if it does. */
function formatRefusal(
  quirks: Set<ProviderQuirk>,
  body: ChatRequestBody,
): { message: string; param: string } | undefined {
  if ((body.tools !== undefined || body.tool_choice !== undefined) && quirks.has("no_tools")) {
    return { message: "tools are not supported by this model", param: "tools" };
  }
  const format = body.response_format;
  if (!format) return undefined;
  const param = "response_format";
  if (quirks.has("no_response_format")) {
    return { message: "response_format is not supported", param };
  }
  if (format.type === "json_schema" && quirks.has("no_json_schema")) {
    return { message: `response_format type "json_schema" is not supported by this model`, param };
  }
  if (format.json_schema?.strict === true && quirks.has("no_strict")) {
    return { message: "json_schema.strict is not supported", param };
  }
  return undefined;
}

/**
 * The function whose call carries the answer: the one the request forces; with the
 * `tool_answers_only` quirk, whatever was asked (the first tool, else the schema's name).
 */
function calledFunction(quirks: Set<ProviderQuirk>, body: ChatRequestBody): string | undefined {
  const forced = forcedFunction(body);
  if (forced !== undefined || !quirks.has("tool_answers_only")) return forced;
  return body.tools?.find((t) => t.function)?.function?.name ??
    body.response_format?.json_schema?.name ?? "json_tool_call";
}

/** The answer as a quirky provider would send it. */
function withQuirks(
  quirks: Set<ProviderQuirk>,
  body: Record<string, unknown>,
): Record<string, unknown> {
  const choices = body.choices as { message: { content: string | null } }[];
  const message = choices[0]?.message;
  if (message?.content != null) {
    if (quirks.has("fenced")) message.content = "```json\n" + message.content + "\n```";
    if (quirks.has("prefixed")) message.content = "Sure! Here is the JSON:\n" + message.content;
  }
  if (quirks.has("no_usage")) delete body.usage;
  return body;
}

function record(seq: number, headers: Headers, body: ChatRequestBody): RecordedRequest {
  const header = (name: string) => headers.get(name) ?? undefined;
  const reask = header(LLM_REQUEST_HEADERS.reask);
  return {
    seq,
    headers: Object.fromEntries(headers.entries()),
    body,
    messages: textMessages(body),
    model: body.model,
    agent: header(LLM_REQUEST_HEADERS.agent),
    phase: header(LLM_REQUEST_HEADERS.phase),
    runId: header(LLM_REQUEST_HEADERS.runId),
    reask: reask === undefined ? undefined : Number(reask),
    schemaName: body.response_format?.json_schema?.name ?? forcedFunction(body),
    retryCount: Number(header("x-stainless-retry-count") ?? 0),
    answeredBy: "unmatched",
    outcome: "unmatched",
  };
}

/** Waits `ms` unless `signal` aborts first; resolves whether the wait completed. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort);
  });
}
