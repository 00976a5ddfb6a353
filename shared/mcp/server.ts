/**
 * Backend Team as a Model Context Protocol server, for coding agents (editor and terminal
 * assistants): the official `@modelcontextprotocol/sdk` over Streamable HTTP, stateless (a server
 * and transport per request, as an Edge Function runs), mounted at `/mcp` like every Supabase
 * function under its name. Callers authenticate with a signed-in user's Supabase access token as
 * bearer token, verified here exactly as the REST API verifies it; anything else is a 401 in the
 * product's error shape with a `WWW-Authenticate: Bearer` challenge, as MCP clients expect.
 *
 * The tools are the REST API's operations with the same zod schemas and the same repository calls
 * as the caller (row level security keeps users apart), plus `validate_sql`, which forwards the
 * caller's token to the `validate` function so the proving ground, its limits and its shadow are
 * the same ones `POST /validate` uses. Errors come back as MCP tool errors (`isError`) carrying the
 * product's `{ error: { code, message } }`. `get_run` with `wait_seconds` follows the run and sends
 * a progress notification per event when the client gave a progress token.
 *
 * @example
 * ```ts
 * const app = createMcpApp({ sql, verifyToken: createTokenVerifier({ jwtSecret }), functionsUrl });
 * Deno.serve(app.fetch);
 * ```
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { deliverableResponse } from "../delivery/http_format.ts";
import { AppError, publicError } from "../errors/mod.ts";
import { expandEvent } from "../events/mod.ts";
import {
  consoleErrorLogger,
  cors,
  type ErrorLogger,
  errorResponse,
  type RequestLimiter,
  requireUser,
  type TokenVerifier,
  type UserClaims,
  type UserEnv,
} from "../http/mod.ts";
import {
  answerClarification,
  AnswerRequest,
  cancelRun,
  CreateRunRequest,
  getDeliverable,
  getRun,
  isTerminalRunStatus,
  listEvents,
  type Run,
  RunIdParams,
  submitRun,
} from "../runs/mod.ts";

/** Path the function serves (its name, as Supabase routes it). */
export const MCP_BASE_PATH = "/mcp";

/** What {@link createMcpApp} needs. */
export interface McpDeps {
  /** A pool; every tool runs as the caller (`asCaller`). */
  sql: Sql;
  verifyToken: TokenVerifier;
  /** `<SUPABASE_URL>/functions/v1`, where `validate_sql` reaches the `validate` function. */
  functionsUrl: string;
  /** Per-user request rate for the tools that change something (the REST API's limiter). */
  limiter?: RequestLimiter;
  /** Set when no model is configured: `submit_run` fails with `llm_not_configured` and it. */
  llmNotConfigured?: string;
  /** Called after a run was submitted or answered (wakes the orchestrator worker). */
  onRunChanged?: (run: Run) => void | Promise<void>;
  /** Server errors go here (default `console.error`). */
  logError?: ErrorLogger;
  /** How often `get_run` with `wait_seconds` looks for new events (default 500 ms). */
  pollMs?: number;
}

/** What a tool callback receives besides its input (progress token, notifications, signal). */
type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;
/** A tool's arguments before our own schema parses them (the SDK has validated them already). */
type ToolInput = Record<string, unknown>;

const SERVER_INFO = { name: "backend-team", version: "1.0.0" };

const INSTRUCTIONS = "Backend Team turns a backend request into a validated Supabase " +
  "deliverable (migrations with RLS, indexes, edge functions, docs), each piece proven on a " +
  "disposable shadow Postgres. Use validate_sql to prove SQL before running it anywhere; " +
  "submit_run for a whole backend; get_run (with wait_seconds to follow it); answer_run when it " +
  "asks questions; get_deliverable when it is completed.";

/** The input of `validate_sql`: what `POST /validate` takes (the validator checks it in full). */
const ValidateSqlInput = z.object({
  files: z.array(z.object({
    name: z.string().min(1).describe("File name, e.g. 001_todos.sql; files apply in order."),
    sql: z.string().describe("The migration's SQL."),
    down: z.string().optional().describe("Its rollback, checked to restore the schema."),
  })).min(1),
  baseline: z.array(z.object({ name: z.string().min(1), sql: z.string() })).optional()
    .describe("SQL already applied before the files (the project's schema)."),
});

const GetRunInput = RunIdParams.extend({
  wait_seconds: z.number().int().min(0).max(120).optional().describe(
    "Follow the run for up to this many seconds, until it completes, fails, is cancelled or " +
      "waits for answers; progress notifications report each event.",
  ),
});

const GetDeliverableInput = RunIdParams.extend({
  path: z.string().min(1).optional().describe(
    "One file of the delivered project (e.g. supabase/migrations/…sql); without it, the " +
      "deliverable as one Markdown document.",
  ),
});

/** A tool's successful answer: the value as JSON text and as structured content. */
function ok(value: unknown): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
    structuredContent: value as Record<string, unknown>,
  };
}

function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

/** Builds the MCP function's app; `app.fetch` serves it. */
export function createMcpApp(deps: McpDeps) {
  const log = deps.logError ?? consoleErrorLogger;
  const app = new Hono<UserEnv>().basePath(MCP_BASE_PATH);
  app.use("*", cors());
  app.onError((e, c) => {
    const res = errorResponse(e, c, log);
    if (res.status === 401) {
      res.headers.set("WWW-Authenticate", 'Bearer realm="mcp", error="invalid_token"');
    }
    return res;
  });
  app.notFound((c) =>
    errorResponse(new AppError("not_found", `no route for ${c.req.method} ${c.req.path}`), c, log)
  );
  app.use("*", async (c, next) => {
    if (c.req.method === "OPTIONS") return await next();
    await requireUser(deps.verifyToken)(c, next);
  });
  app.all("/", async (c) => {
    const server = buildServer(deps, c.get("claims"), c.req.header("authorization")!, log);
    // Stateless: no session id, a transport per request, as an Edge Function lives.
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
    });
    await server.connect(transport);
    return await transport.handleRequest(c.req.raw);
  });
  return app;
}

/** The MCP server for one request by `claims`' user. */
function buildServer(
  deps: McpDeps,
  claims: UserClaims,
  authorization: string,
  log: ErrorLogger,
): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  const { sql } = deps;

  /** Runs a tool body, turning any error into an MCP tool error with the product's code. */
  const tool = (name: string, body: () => Promise<CallToolResult>) => async () => {
    try {
      return await body();
    } catch (e) {
      const safe = publicError(e);
      if (!(e instanceof AppError) || e.status >= 500) {
        if (safe.code !== "llm_not_configured") log(e, { method: "MCP", path: `tool ${name}` });
      }
      const details = e instanceof AppError && e.status < 500 && e.details !== undefined
        ? { details: e.details }
        : {};
      return {
        isError: true,
        content: [{
          type: "text",
          text: JSON.stringify({ error: { ...safe, ...details } }),
        }],
      } satisfies CallToolResult;
    }
  };
  const changed = (run: Run) => {
    if (!deps.onRunChanged) return;
    Promise.resolve().then(() => deps.onRunChanged!(run)).catch((e) =>
      log(e, { method: "MCP", path: `run ${run.id} (background)` })
    );
  };

  server.registerTool("validate_sql", {
    title: "Validate SQL on a shadow database",
    description: "Applies migrations in order on a disposable shadow Postgres with Supabase's " +
      "roles, attacks them (RLS isolation probes, Supabase linter rules, rollback check) and " +
      "returns findings { rule, level, message, file, line }. ok is false when any finding is " +
      "an error. The SQL never touches a real database.",
    inputSchema: ValidateSqlInput.shape,
  }, (input: ToolInput, extra: ToolExtra) =>
    tool("validate_sql", async () => {
      const res = await fetch(`${deps.functionsUrl}/validate`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization,
        },
        body: JSON.stringify(ValidateSqlInput.parse(input)),
        signal: extra.signal,
      });
      const body = await res.json().catch(() => undefined) as
        | { error?: { code: string; message: string } }
        | undefined;
      if (!res.ok || !body) {
        const code = body?.error?.code ?? "upstream_unavailable";
        throw new AppError(
          code as never,
          body?.error?.message ?? `the validator answered HTTP ${res.status}`,
        );
      }
      return ok(body);
    })());

  server.registerTool("submit_run", {
    title: "Submit a backend request",
    description: "Starts a run that plans, builds and validates a Supabase backend for the " +
      "request. Returns the run (status received); follow it with get_run.",
    inputSchema: CreateRunRequest.shape,
  }, (input: ToolInput) =>
    tool("submit_run", async () => {
      if (deps.llmNotConfigured) throw new AppError("llm_not_configured", deps.llmNotConfigured);
      await deps.limiter?.admit(claims.sub);
      const run = await submitRun(sql, claims, CreateRunRequest.parse(input));
      changed(run);
      return ok({ run });
    })());

  server.registerTool("get_run", {
    title: "Get a run",
    description: "The run with its tasks, status, usage and error. With wait_seconds, follows " +
      "it until it completes, fails, is cancelled or asks questions (answer with answer_run).",
    inputSchema: GetRunInput.shape,
  }, (input: ToolInput, extra: ToolExtra) =>
    tool("get_run", async () => {
      const { id, wait_seconds } = GetRunInput.parse(input);
      let detail = await getRun(sql, claims, id);
      if (!wait_seconds) return ok(detail);
      const progressToken = extra._meta?.progressToken;
      const deadline = Date.now() + wait_seconds * 1000;
      let after = 0;
      // Progress must grow with each notification; a log row may hold several changes.
      let progress = 0;
      for (;;) {
        const page = await listEvents(sql, claims, id, { after, limit: 200 });
        for (const row of page.events) {
          if (progressToken === undefined) continue;
          for (const event of expandEvent(row.payload)) {
            await extra.sendNotification({
              method: "notifications/progress",
              params: {
                progressToken,
                progress: ++progress,
                message: progressMessage(String(event.type ?? row.type), event),
              },
            });
          }
        }
        after = page.next_after;
        detail = await getRun(sql, claims, id);
        const status = detail.run.status;
        if (isTerminalRunStatus(status) || status === "awaiting_clarification") break;
        if (Date.now() >= deadline || extra.signal.aborted) break;
        await new Promise((r) => setTimeout(r, deps.pollMs ?? 500));
      }
      return ok(detail);
    })());

  server.registerTool("answer_run", {
    title: "Answer a run's questions",
    description: "Answers the questions of a run in awaiting_clarification (see " +
      "run.clarification.questions); the run then continues.",
    inputSchema: RunIdParams.extend(AnswerRequest.shape).shape,
  }, (input: ToolInput) =>
    tool("answer_run", async () => {
      const { id } = RunIdParams.parse({ id: input.id });
      const { answers } = AnswerRequest.parse({ answers: input.answers });
      await deps.limiter?.admit(claims.sub);
      const run = await answerClarification(sql, claims, id, answers);
      changed(run);
      return ok({ run });
    })());

  server.registerTool("cancel_run", {
    title: "Cancel a run",
    description: "Cancels the run and its unfinished tasks.",
    inputSchema: RunIdParams.shape,
  }, (input: ToolInput) =>
    tool("cancel_run", async () => {
      await deps.limiter?.admit(claims.sub);
      const run = await cancelRun(sql, claims, RunIdParams.parse(input).id);
      return ok({ run });
    })());

  server.registerTool("get_deliverable", {
    title: "Get a completed run's deliverable",
    description: "The validated deliverable as one Markdown document (summary, migrations with " +
      "RLS, indexes, functions, API docs, setup, tests, validation evidence), or one file of the " +
      "delivered Supabase project by path.",
    inputSchema: GetDeliverableInput.shape,
  }, (input: ToolInput) =>
    tool("get_deliverable", async () => {
      const { id, path } = GetDeliverableInput.parse(input);
      const deliverable = await getDeliverable(sql, claims, id);
      if (path !== undefined) {
        const file = deliverable.files.find((f) => f.path === path);
        if (!file) {
          throw new AppError("not_found", `no file ${path} in the deliverable`, {
            paths: deliverable.files.map((f) => f.path),
          });
        }
        return text(file.content);
      }
      return text(await (await deliverableResponse(deliverable, "markdown")).text());
    })());

  return server;
}

/** One line for a progress notification. */
function progressMessage(type: string, payload: unknown): string {
  const p = (payload ?? {}) as Record<string, unknown>;
  const parts = [type];
  for (const key of ["key", "agent", "status", "attempt", "ok", "cost_usd"]) {
    if (p[key] !== undefined && p[key] !== null) parts.push(`${key}=${String(p[key])}`);
  }
  const error = p.error as { code?: string } | null | undefined;
  if (error?.code) parts.push(`error=${error.code}`);
  // A task.status that ends an attempt carries its usage, verdict and files.
  const usage = p.usage as {
    cost_usd?: number | null;
    prompt_tokens?: number;
    completion_tokens?: number;
  } | undefined;
  if (usage) {
    parts.push(`tokens=${(usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)}`);
    if (usage.cost_usd != null) parts.push(`cost_usd=${usage.cost_usd}`);
  }
  const validation = p.validation as { ok?: boolean } | undefined;
  if (validation && typeof validation.ok === "boolean") parts.push(`valid=${validation.ok}`);
  const artifacts = p.artifacts as unknown[] | undefined;
  if (Array.isArray(artifacts) && artifacts.length) parts.push(`artifacts=${artifacts.length}`);
  return parts.join(" ");
}
