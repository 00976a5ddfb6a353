/**
 * The orchestrator function's configuration: the variables every function receives, plus how user
 * tokens are verified — `JWT_SECRET` (HS256; the local stack's and Supabase's legacy secret) or
 * `SUPABASE_JWKS` (the platform's public keys for asymmetric tokens), the audience they must name
 * (`BT_JWT_AUDIENCE`, default `authenticated`) — and the per-user limits (`BT_RATE_LIMIT_*`,
 * `BT_MAX_*_IN_FLIGHT`, see `LimitsEnv`). Start-up fails naming `JWT_SECRET` when neither key is
 * set, or naming a limit that is not a positive integer; `BT_API_DB_POOL` sizes the API's own
 * connection pool.
 *
 * @example
 * ```ts
 * const config = loadOrchestratorConfig();
 * ```
 */
import { z } from "zod";
import { DEFAULT_AUDIENCE } from "../auth/mod.ts";
import { FunctionEnv, loadConfig } from "../config/mod.ts";
import { type Jwk, LimitsEnv, limitsFromEnv, parseJwks, type RequestLimits } from "../http/mod.ts";

/** The variables the orchestrator reads. */
export const OrchestratorEnv = FunctionEnv.extend({
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  SUPABASE_JWKS: z.string().min(1).optional(),
  /** Secret sent when waking the worker functions (else the service role key). */
  BT_WORKER_SECRET: z.string().min(16).optional(),
  /** The `aud` user tokens must name (default `authenticated`, Supabase Auth's). */
  BT_JWT_AUDIENCE: z.string().min(1).optional(),
  /**
   * Connections of the API's own pool (default 10). The API runs in its own function, so its pool
   * serves nothing but requests; each request holds one connection for one transaction.
   */
  BT_API_DB_POOL: z.coerce.number().int().min(1).max(100).optional(),
  ...LimitsEnv.shape,
}).superRefine((env, ctx) => {
  if (!env.JWT_SECRET && !env.SUPABASE_JWKS) {
    ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "is not set" });
  }
});

/** What the orchestrator function is built from. */
export interface OrchestratorConfig {
  dbUrl: string;
  supabaseUrl: string;
  jwtSecret?: string;
  jwks?: Jwk[];
  /** The `aud` user tokens must name. */
  audience: string;
  /** Per-user limits. */
  limits: RequestLimits;
  /** `<SUPABASE_URL>/functions/v1`, where the worker functions are woken. */
  functionsUrl: string;
  /** Secret the worker functions accept. */
  workerSecret: string;
  /** Size of the API's connection pool. */
  dbPool: number;
}

/** Connections the API's pool has unless `BT_API_DB_POOL` says otherwise. */
export const DEFAULT_API_DB_POOL = 10;

/** Reads and checks the environment (default: the process's). */
export function loadOrchestratorConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): OrchestratorConfig {
  const parsed = loadConfig(OrchestratorEnv, env);
  return {
    dbUrl: parsed.SUPABASE_DB_URL,
    supabaseUrl: parsed.SUPABASE_URL,
    jwtSecret: parsed.JWT_SECRET,
    jwks: parsed.SUPABASE_JWKS ? parseJwks(parsed.SUPABASE_JWKS) : undefined,
    audience: parsed.BT_JWT_AUDIENCE ?? DEFAULT_AUDIENCE,
    limits: limitsFromEnv(parsed),
    functionsUrl: `${parsed.SUPABASE_URL.replace(/\/$/, "")}/functions/v1`,
    workerSecret: parsed.BT_WORKER_SECRET ?? parsed.SUPABASE_SERVICE_ROLE_KEY,
    dbPool: parsed.BT_API_DB_POOL ?? DEFAULT_API_DB_POOL,
  };
}
