/**
 * `POST /functions/v1/validate`: the validator over HTTP for SQL a signed-in user brings. The body
 * is a {@link ValidateRequest} (`{ files: [{ name, sql, down? }], baseline?, queries?, functions?,
 * channels?, runFunctions?, endpoints?, verifyJwt?, benchmark?, shadow? }`); the answer is `{ ok, findings, durationMs }` with status 200 whatever the verdict —
 * findings are the result, not an error. Bad input is a 400 in the shared error shape, a missing
 * or non-user token a 401, a user over their limits (validations in flight, request rate) a 429
 * with `Retry-After`. Every request gets a fresh shadow; the product database only keeps the
 * per-user limits.
 *
 * @example
 * ```ts
 * const app = createValidateApp({ jwtSecret: LOCAL_JWT_SECRET });
 * Deno.serve(app.fetch);
 * ```
 */
import { Hono } from "hono";
import { z } from "zod";
import { AppError } from "../errors/mod.ts";
import {
  cors,
  createDatabaseLimiter,
  createTokenVerifier,
  errorHandler,
  type ErrorLogger,
  holdValidationSlot,
  jsonBody,
  type Jwk,
  LimitsEnv,
  limitsFromEnv,
  notFoundHandler,
  parseJwks,
  type RequestLimits,
  requireUser,
  retryAfterHeader,
  type TokenVerifier,
  type UserEnv,
  validationError,
} from "../http/mod.ts";
import { DEFAULT_AUDIENCE } from "../auth/mod.ts";
import type { Sql } from "../db/mod.ts";
import { loadConfig } from "../config/mod.ts";
import type { ShadowBackend, ShadowDatabase } from "../shadow/mod.ts";
import { canSpawnProcesses, sharedShadow } from "../shadow/mod.ts";
import type { ChannelProbe } from "./channel_probe.ts";
import { channelProbeFromEnv } from "./channel_probe_remote.ts";
import { ValidateRequest } from "./request.ts";
import { validateOpenApi } from "./openapi.ts";
import { validateMigrations } from "./validate.ts";

/** Path the function is served under (its name, as Supabase routes it). */
export const VALIDATE_PATH = "/validate";

/** Largest request body (SQL files and function sources together): 2 MiB. */
export const VALIDATE_MAX_BODY_BYTES = 2 * 1024 * 1024;

/** What {@link createValidateApp} needs. */
export interface ValidateAppDeps {
  /** Secret of HS256 user tokens (`JWT_SECRET`). */
  jwtSecret?: string;
  /** Public keys for asymmetric user tokens (`SUPABASE_JWKS`). */
  jwks?: Jwk[];
  /** The `aud` user tokens must name (default `authenticated`; `BT_JWT_AUDIENCE`). */
  audience?: string;
  /** A ready verifier instead of `jwtSecret`/`jwks`/`audience`. */
  verifyToken?: TokenVerifier;
  /**
   * The product database (as the service side), where the per-user limits are kept. Without it
   * nothing limits a user — the function's entrypoint always passes it.
   */
  sql?: Sql;
  /** Per-user limits (defaults: `DEFAULT_REQUEST_LIMITS`): validations in flight and rate. */
  limits?: Partial<RequestLimits>;
  /** The shadow of a backend (default: the process-wide one). */
  shadow?: (backend: ShadowBackend) => Promise<ShadowDatabase>;
  /** Backend used when the request names none (default pglite). */
  defaultShadow?: ShadowBackend;
  /** Whether a PostgreSQL shadow is configured (`SHADOW_DATABASE_URL`). */
  postgresAvailable?: boolean;
  /**
   * Whether PGlite runs in child processes here (default: whether this runtime may start them).
   * In-process PGlite cannot stop a statement or cap its memory: where a PostgreSQL shadow is
   * configured it is used instead, and asking for PGlite explicitly is refused.
   */
  pgliteBounded?: boolean;
  /**
   * Joins the requested private channels on a shadow Realtime (the local stack and tests give
   * one; without it channels are reported as not joined).
   */
  channelProbe?: ChannelProbe;
  logError?: ErrorLogger;
  /** The public functions URL, for the OpenAPI document's server (default `/functions/v1`). */
  functionsUrl?: string;
}

/** Builds the app; `app.fetch` serves it. */
export function createValidateApp(deps: ValidateAppDeps) {
  const verify = deps.verifyToken ??
    createTokenVerifier({ jwtSecret: deps.jwtSecret, jwks: deps.jwks, audience: deps.audience });
  const limiter = deps.sql ? createDatabaseLimiter(deps.sql, deps.limits) : undefined;
  const shadowOf = deps.shadow ?? sharedShadow;
  const app = new Hono<UserEnv>().basePath(VALIDATE_PATH);
  app.use("*", cors());
  app.use("*", retryAfterHeader());
  app.onError(errorHandler(deps.logError));
  app.notFound(notFoundHandler);
  // The contract, generated from the schemas that parse the request (no token needed to read it).
  app.get("/openapi.json", (c) => c.json(validateOpenApi(deps.functionsUrl)));
  app.post(
    "/",
    requireUser(verify),
    // Before the body is read: a slow upload holds a slot too.
    limiter ? holdValidationSlot(limiter) : (_c, next) => next(),
    jsonBody({ maxBytes: VALIDATE_MAX_BODY_BYTES }),
    async (c) => {
      const parsed = ValidateRequest.safeParse(await c.req.json());
      if (!parsed.success) throw validationError(parsed.error, "body");
      const request = parsed.data;
      const bounded = deps.pgliteBounded ?? canSpawnProcesses();
      const fallback = !bounded && deps.postgresAvailable ? "postgres" : "pglite";
      const backend = request.shadow ?? deps.defaultShadow ?? fallback;
      if (backend === "pglite" && !bounded && deps.postgresAvailable) {
        throw new AppError("validation_failed", "the request is not valid", [{
          location: "body",
          path: ["shadow"],
          message: "PGlite can only run inside this function here (no subprocesses), where a " +
            "statement cannot be stopped nor its memory capped; use the postgres shadow",
        }]);
      }
      if (backend === "postgres" && !deps.postgresAvailable) {
        throw new AppError("validation_failed", "the request is not valid", [{
          location: "body",
          path: ["shadow"],
          message: "the postgres shadow is not configured on this server (SHADOW_DATABASE_URL)",
        }]);
      }
      const report = await validateMigrations({
        files: request.files,
        baseline: request.baseline,
        queries: request.queries,
        functions: request.functions,
        exposedSchemas: request.exposedSchemas,
        channels: request.channels,
        channelProbe: deps.channelProbe,
        runFunctions: request.runFunctions,
        endpoints: request.endpoints,
        verifyJwt: request.verifyJwt,
        benchmark: request.benchmark,
        shadow: await shadowOf(backend),
      });
      return c.json(report, 200);
    },
  );
  return app;
}

/** The variables the function reads. */
export const ValidateEnv = z.object({
  /** The product database, where the per-user limits are kept. */
  SUPABASE_DB_URL: z.string().min(1),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  SUPABASE_JWKS: z.string().min(1).optional(),
  BT_JWT_AUDIENCE: z.string().min(1).optional(),
  ...LimitsEnv.shape,
  SHADOW_DATABASE_URL: z.string().min(1).optional(),
  VALIDATE_DEFAULT_SHADOW: z.enum(["pglite", "postgres"]).optional(),
  /** The local stack's channel probe service (unset on hosted projects). */
  BT_CHANNEL_PROBE_URL: z.url().optional(),
  BT_WORKER_SECRET: z.string().min(16).optional(),
}).superRefine((env, ctx) => {
  if (!env.JWT_SECRET && !env.SUPABASE_JWKS) {
    ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "is not set" });
  }
});

/** The function's configuration: the app's dependencies and where the product database is. */
export type ValidateConfig = ValidateAppDeps & { dbUrl: string; limits: RequestLimits };

/** Reads the function's configuration (default: the process environment). */
export function loadValidateConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): ValidateConfig {
  const parsed = loadConfig(ValidateEnv, env);
  return {
    dbUrl: parsed.SUPABASE_DB_URL,
    jwtSecret: parsed.JWT_SECRET,
    jwks: parsed.SUPABASE_JWKS ? parseJwks(parsed.SUPABASE_JWKS) : undefined,
    audience: parsed.BT_JWT_AUDIENCE ?? DEFAULT_AUDIENCE,
    limits: limitsFromEnv(parsed),
    postgresAvailable: !!parsed.SHADOW_DATABASE_URL,
    defaultShadow: parsed.VALIDATE_DEFAULT_SHADOW,
    channelProbe: channelProbeFromEnv({
      BT_CHANNEL_PROBE_URL: parsed.BT_CHANNEL_PROBE_URL,
      BT_WORKER_SECRET: parsed.BT_WORKER_SECRET,
    }),
  };
}
