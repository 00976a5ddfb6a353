/**
 * The orchestrator's REST API as a Hono app (`@hono/zod-openapi`), mounted under `/orchestrator`
 * like every Supabase function under its name. Each handler is a few lines: validated input in,
 * one repository call as the caller (row level security isolates tenants), JSON out. Errors of any
 * kind leave through one handler in the `{ error: { code, message, details? } }` shape, with CORS.
 *
 * @example
 * ```ts
 * const app = createOrchestratorApp({ sql, jwtSecret: LOCAL_JWT_SECRET });
 * Deno.serve(app.fetch);
 * ```
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Handler } from "hono";
import type { Sql } from "../db/mod.ts";
import {
  DELIVERABLE_MEDIA_TYPES,
  deliverableResponse,
  negotiateDeliverableFormat,
} from "../delivery/http_format.ts";
import { AppError } from "../errors/mod.ts";
import {
  consoleErrorLogger,
  cors,
  createDatabaseLimiter,
  createTokenVerifier,
  errorHandler,
  type ErrorLogger,
  jsonBody,
  type Jwk,
  limitRequestRate,
  notFoundHandler,
  type RequestLimits,
  requireUser,
  retryAfterHeader,
  runsInFlightError,
  type TokenVerifier,
  type UserEnv,
  validationHook,
} from "../http/mod.ts";
import {
  answerClarification,
  cancelRun,
  getDeliverable,
  getRun,
  listEvents,
  listRuns,
  type Run,
  submitRun,
} from "../runs/mod.ts";
import { BEARER_SCHEME, orchestratorRoutes } from "./routes.ts";

/** Path every route is under (the function's name, as Supabase routes it). */
export const BASE_PATH = "/orchestrator";

/** What {@link createOrchestratorApp} needs. */
export interface OrchestratorDeps {
  /** A pool; user requests drop to role `authenticated` per request (`asCaller`). */
  sql: Sql;
  /** Secret of HS256 user tokens (`JWT_SECRET`). */
  jwtSecret?: string;
  /** Public keys for asymmetric user tokens (`SUPABASE_JWKS`). */
  jwks?: Jwk[];
  /** The `aud` user tokens must name (default `authenticated`; `BT_JWT_AUDIENCE`). */
  audience?: string;
  /** A ready verifier instead of `jwtSecret`/`jwks`/`audience`. */
  verifyToken?: TokenVerifier;
  /**
   * Per-user limits (defaults: `DEFAULT_REQUEST_LIMITS`), kept in the database behind `sql`: the
   * rate of POSTs and the runs in flight.
   */
  limits?: Partial<RequestLimits>;
  /** Largest request body in bytes (default 256 KiB). */
  maxBodyBytes?: number;
  /** The project's URL (`SUPABASE_URL`), for the OpenAPI document's server. */
  publicUrl?: string;
  /**
   * Called after a run was accepted (the 202 is not held up by it); starts background work.
   * Its failure is logged and does not affect the response.
   */
  onRunSubmitted?: (run: Run) => void | Promise<void>;
  /** Called after a run's questions were answered (the run continues in the background). */
  onRunAnswered?: (run: Run) => void | Promise<void>;
  /** Keeps background work alive after the response (default: `EdgeRuntime.waitUntil` if present). */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Where server errors are logged (default: `console.error`). */
  logError?: ErrorLogger;
  /**
   * Set when the functions have no language model configured (see `llmConfigProblem`): `POST
   * /runs` then fails fast with 503 `llm_not_configured` and this text, instead of accepting a run
   * no worker can advance.
   */
  llmNotConfigured?: string;
}

interface EdgeRuntimeGlobal {
  EdgeRuntime?: { waitUntil?: (work: Promise<unknown>) => void };
}

function defaultWaitUntil(): (work: Promise<unknown>) => void {
  const runtime = (globalThis as EdgeRuntimeGlobal).EdgeRuntime;
  return runtime?.waitUntil ? (work) => runtime.waitUntil!(work) : () => {};
}

/** Builds the orchestrator app; `app.fetch` serves it. */
export function createOrchestratorApp(deps: OrchestratorDeps) {
  const verify = deps.verifyToken ??
    createTokenVerifier({ jwtSecret: deps.jwtSecret, jwks: deps.jwks, audience: deps.audience });
  const limiter = createDatabaseLimiter(deps.sql, deps.limits);
  const log = deps.logError ?? consoleErrorLogger;
  const waitUntil = deps.waitUntil ?? defaultWaitUntil();
  const routes = orchestratorRoutes({
    required: jsonBody({ maxBytes: deps.maxBodyBytes }),
    optional: jsonBody({ maxBytes: deps.maxBodyBytes, optional: true }),
  });

  const app = new OpenAPIHono<UserEnv>({ defaultHook: validationHook }).basePath(BASE_PATH);
  app.use("*", cors());
  app.use("*", retryAfterHeader());
  app.onError(errorHandler(log));
  app.notFound(notFoundHandler);
  app.use("/runs", requireUser(verify));
  app.use("/runs/*", requireUser(verify));
  // Once per request (after the user is known): every POST takes one from the user's rate.
  app.use("*", limitRequestRate(limiter));
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A signed-in user's access token (Supabase Auth). The anon key is refused.",
  });

  // Hooks start after the handler returns, so the response does not wait for them.
  const inBackground = (hook: ((run: Run) => void | Promise<void>) | undefined, run: Run) => {
    if (!hook) return;
    const work = Promise.resolve().then(() => hook(run)).catch((e) =>
      log(e, { method: "POST", path: `${BASE_PATH}/runs/${run.id} (background)` })
    );
    waitUntil(work);
  };

  app.openapi(routes.createRun, async (c) => {
    if (deps.llmNotConfigured) {
      throw new AppError("llm_not_configured", deps.llmNotConfigured);
    }
    const run = await submitRun(deps.sql, c.get("claims"), c.req.valid("json")).catch((e) => {
      throw runsInFlightError(e);
    });
    inBackground(deps.onRunSubmitted, run);
    return c.json({ run }, 202);
  });

  app.openapi(routes.listRuns, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(await listRuns(deps.sql, c.get("claims"), { cursor, limit }), 200);
  });

  app.openapi(routes.getRun, async (c) => {
    return c.json(await getRun(deps.sql, c.get("claims"), c.req.valid("param").id), 200);
  });

  app.openapi(routes.listEvents, async (c) => {
    const { id } = c.req.valid("param");
    const page = c.req.valid("query");
    return c.json(await listEvents(deps.sql, c.get("claims"), id, page), 200);
  });

  app.openapi(routes.answerRun, async (c) => {
    const { id } = c.req.valid("param");
    const { answers } = c.req.valid("json");
    const run = await answerClarification(deps.sql, c.get("claims"), id, answers);
    inBackground(deps.onRunAnswered, run);
    return c.json({ run }, 200);
  });

  app.openapi(routes.cancelRun, async (c) => {
    const run = await cancelRun(deps.sql, c.get("claims"), c.req.valid("param").id);
    return c.json({ run }, 200);
  });

  app.openapi(routes.getDeliverable, async (c) => {
    const format = negotiateDeliverableFormat(c.req.header("accept"));
    if (!format) {
      throw new AppError(
        "not_acceptable",
        "the deliverable is offered as JSON, Markdown or an archive",
        {
          offered: Object.values(DELIVERABLE_MEDIA_TYPES).map((types) => types[0]),
        },
      );
    }
    const deliverable = await getDeliverable(deps.sql, c.get("claims"), c.req.valid("param").id);
    if (format === "json") return c.json(deliverable, 200);
    return await deliverableResponse(deliverable, format);
  });

  // Built on first request (every route is registered by then) and kept: it cannot change.
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.openapi(routes.openapi, (c) => c.json(document ??= openApiDocument(), 200));

  // A known path with a method it does not have is a 405, not a 404.
  const allowed = new Map<string, string[]>();
  for (const route of Object.values(routes)) {
    const path = route.path.replaceAll(/\{(\w+)\}/g, ":$1");
    allowed.set(path, [...(allowed.get(path) ?? []), route.method.toUpperCase()]);
  }
  for (const [path, methods] of allowed) {
    const refuse: Handler = () => {
      throw new AppError("method_not_allowed", `use ${methods.join(" or ")} on this path`, {
        allow: methods,
      });
    };
    app.all(path, refuse);
  }

  function openApiDocument() {
    return app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Backend Team orchestrator API",
        version: "1.0.0",
        description: "Submit backend requests as runs, follow them, answer their questions, " +
          "and fetch the validated deliverable. Every route except this document needs a " +
          "signed-in user's bearer token; errors are `{ error: { code, message, details? } }`.",
      },
      servers: [{
        url: deps.publicUrl ? `${deps.publicUrl.replace(/\/$/, "")}/functions/v1` : "/functions/v1",
      }],
    });
  }

  return app;
}

/** The app type (for typed clients). */
export type OrchestratorApp = ReturnType<typeof createOrchestratorApp>;
