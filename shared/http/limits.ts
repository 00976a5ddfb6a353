/**
 * Per-user limits on what one account may cost: the rate of its requests that change something
 * (a token bucket), the validations it has in flight (leases that expire, so a process that dies
 * frees its slot by itself) and the runs it has in flight (checked by `submit_run` when it creates
 * a run). The state lives in the product database (`backend_team.request_limits`), so every
 * process serving a function enforces the same limits; admitting a request is one round trip. A
 * refused request is a 429 with a stable code and a `Retry-After` header in seconds.
 *
 * Configured from the environment (see {@link LimitsEnv}); the defaults are in
 * {@link DEFAULT_REQUEST_LIMITS}.
 *
 * @example
 * ```ts
 * const limiter = createDatabaseLimiter(sql, limitsFromEnv(parsedEnv));
 * app.use("*", retryAfterHeader());
 * app.use("/runs/*", requireUser(verify));
 * app.use("*", limitRequestRate(limiter));
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { AppError, isAppError } from "../errors/mod.ts";
import type { UserEnv } from "./auth.ts";

/** What one user may do; every field is per user, across all processes. */
export interface RequestLimits {
  /** Requests that change something (POST, …) refilled per minute (`BT_RATE_LIMIT_PER_MINUTE`). */
  requestsPerMinute: number;
  /** Most such requests at once, the bucket's size (`BT_RATE_LIMIT_BURST`). */
  requestBurst: number;
  /** Runs not yet completed, failed or cancelled (`BT_MAX_RUNS_IN_FLIGHT`). */
  maxRunsInFlight: number;
  /** `POST /validate` requests being served at once (`BT_MAX_VALIDATIONS_IN_FLIGHT`). */
  maxValidationsInFlight: number;
  /**
   * How long a validation's slot is held at most when its process never gives it back (it died),
   * in seconds (`BT_VALIDATION_LEASE_SECONDS`). Longer than any validation may take.
   */
  validationLeaseSeconds: number;
}

/**
 * The defaults: 60 changing requests a minute with bursts of up to 60, 5 runs and 2 validations
 * in flight, validation leases of 5 minutes.
 */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  requestsPerMinute: 60,
  requestBurst: 60,
  maxRunsInFlight: 5,
  maxValidationsInFlight: 2,
  validationLeaseSeconds: 300,
});

/** How long a client refused for runs in flight should wait: runs take minutes. */
export const RUNS_RETRY_AFTER_SECONDS = 30;

const positiveInt = z.coerce.number().int().positive().max(1_000_000);

/** The variables that configure the limits (each optional; unset means the default). */
export const LimitsEnv = z.object({
  BT_RATE_LIMIT_PER_MINUTE: positiveInt.optional(),
  BT_RATE_LIMIT_BURST: positiveInt.optional(),
  BT_MAX_RUNS_IN_FLIGHT: positiveInt.optional(),
  BT_MAX_VALIDATIONS_IN_FLIGHT: positiveInt.optional(),
  BT_VALIDATION_LEASE_SECONDS: positiveInt.optional(),
});
export type LimitsEnv = z.infer<typeof LimitsEnv>;

/**
 * The limits of parsed variables, defaults for the unset ones.
 *
 * @example
 * ```ts
 * limitsFromEnv({ BT_MAX_RUNS_IN_FLIGHT: 10 }).maxRunsInFlight; // 10
 * ```
 */
export function limitsFromEnv(env: LimitsEnv): RequestLimits {
  const d = DEFAULT_REQUEST_LIMITS;
  return {
    requestsPerMinute: env.BT_RATE_LIMIT_PER_MINUTE ?? d.requestsPerMinute,
    requestBurst: env.BT_RATE_LIMIT_BURST ?? d.requestBurst,
    maxRunsInFlight: env.BT_MAX_RUNS_IN_FLIGHT ?? d.maxRunsInFlight,
    maxValidationsInFlight: env.BT_MAX_VALIDATIONS_IN_FLIGHT ?? d.maxValidationsInFlight,
    validationLeaseSeconds: env.BT_VALIDATION_LEASE_SECONDS ?? d.validationLeaseSeconds,
  };
}

/** Admits a user's requests, or refuses them with a 429 {@link AppError}. */
export interface RequestLimiter {
  /**
   * Takes one request from the user's rate and, with `lease`, a validation slot, whose lease id
   * it returns; without `lease` it also records `maxRunsInFlight` as the cap `submit_run` holds
   * the user to (so the orchestrator's configuration is the one that counts). Throws `rate_limited` or `too_many_validations_in_flight` (429, `details` with
   * `limit` and `retry_after_seconds`).
   */
  admit(userId: string, options?: { lease?: boolean }): Promise<string | undefined>;
  /** Gives a validation slot back. */
  release(userId: string, lease: string): Promise<void>;
}

const MESSAGES = {
  rate_limited: "too many requests; retry after the time in Retry-After",
  too_many_validations_in_flight:
    "too many validations in flight; retry once one of them has finished",
} as const;

/**
 * A {@link RequestLimiter} on the product database (`backend_team.admit_request`). `sql` connects
 * as the service side (`SUPABASE_DB_URL`), never as the user: users cannot change their limits.
 *
 * @example
 * ```ts
 * const limiter = createDatabaseLimiter(sql, { maxValidationsInFlight: 2 });
 * const lease = await limiter.admit(userId, { lease: true });
 * try { await work(); } finally { await limiter.release(userId, lease!); }
 * ```
 */
export function createDatabaseLimiter(
  sql: Sql,
  limits: Partial<RequestLimits> = {},
): RequestLimiter {
  const l = { ...DEFAULT_REQUEST_LIMITS, ...limits };
  return {
    async admit(userId, options = {}) {
      const [row] = await sql<
        { refused: keyof typeof MESSAGES | null; retry_after: number; cap: number; lease: string }[]
      >`
        select refused, retry_after, cap, lease from backend_team.admit_request(
          ${userId}::uuid, ${l.requestsPerMinute}::int, ${l.requestBurst}::int,
          ${options.lease ? null : l.maxRunsInFlight}::int,
          ${options.lease ? l.maxValidationsInFlight : null}::int,
          ${options.lease ? l.validationLeaseSeconds : null}::int)`;
      if (row.refused) {
        throw new AppError(row.refused, MESSAGES[row.refused], {
          limit: row.cap,
          retry_after_seconds: row.retry_after,
        });
      }
      return row.lease ?? undefined;
    },
    async release(userId, lease) {
      await sql`select backend_team.release_request_lease(${userId}::uuid, ${lease}::uuid)`;
    },
  };
}

const UNLIMITED_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Middleware taking one request from a signed-in user's rate for every request that is not a
 * read (`GET`, `HEAD`, `OPTIONS` are free); requests without a user pass untouched, so mount it
 * after {@link requireUser}.
 *
 * @example
 * ```ts
 * app.use("/runs/*", requireUser(verify));
 * app.use("*", limitRequestRate(limiter));
 * ```
 */
export function limitRequestRate(limiter: RequestLimiter): MiddlewareHandler<UserEnv> {
  return async (c, next) => {
    const claims = c.get("claims");
    if (claims && !UNLIMITED_METHODS.has(c.req.method)) await limiter.admit(claims.sub);
    await next();
  };
}

/**
 * Middleware holding one of a signed-in user's validation slots for the rest of the request (its
 * body included) and taking one request from their rate, in one round trip; the slot is given
 * back when the response is ready, or expires if the process dies first.
 *
 * @example
 * ```ts
 * app.post("/", requireUser(verify), holdValidationSlot(limiter), jsonBody(), handler);
 * ```
 */
export function holdValidationSlot(
  limiter: RequestLimiter,
  log: (error: unknown) => void = (e) => console.error("releasing a validation slot failed:", e),
): MiddlewareHandler<UserEnv> {
  return async (c, next) => {
    const userId = c.get("claims").sub;
    const lease = await limiter.admit(userId, { lease: true });
    try {
      await next();
    } finally {
      // The answer does not depend on it; a slot not given back expires with its lease.
      if (lease) await limiter.release(userId, lease).catch(log);
    }
  };
}

/** SQLSTATE `submit_run` raises when a user already has their most runs in flight. */
const RUNS_IN_FLIGHT_SQLSTATE = "BTR29";

/**
 * The 429 a database error means when `submit_run` refused a run for runs in flight, or `e`
 * itself.
 *
 * @example
 * ```ts
 * const run = await submitRun(sql, claims, body).catch((e) => { throw runsInFlightError(e); });
 * ```
 */
export function runsInFlightError(e: unknown): unknown {
  if (!(e instanceof Error) || (e as { code?: unknown }).code !== RUNS_IN_FLIGHT_SQLSTATE) return e;
  let limit: number | undefined;
  try {
    limit = JSON.parse((e as { detail?: string }).detail ?? "{}").limit;
  } catch {
    limit = undefined;
  }
  return new AppError(
    "too_many_runs_in_flight",
    "too many runs in flight; retry once one of them has completed, failed or been cancelled",
    { limit, retry_after_seconds: RUNS_RETRY_AFTER_SECONDS },
    { cause: e },
  );
}

/**
 * Middleware adding `Retry-After` (seconds) to every 429 answered for an error that says when to
 * retry (`details.retry_after_seconds`), exposed to browser scripts. Mount it before the routes, so
 * it sees the error handler's response.
 *
 * @example
 * ```ts
 * app.use("*", retryAfterHeader());
 * ```
 */
export function retryAfterHeader(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const e = c.error;
    if (c.res.status !== 429 || !isAppError(e)) return;
    const seconds = (e.details as { retry_after_seconds?: unknown } | undefined)
      ?.retry_after_seconds;
    if (typeof seconds === "number" && Number.isInteger(seconds) && seconds > 0) {
      c.res.headers.set("Retry-After", String(seconds));
      // Browsers show a cross-origin response's other headers to scripts only when named.
      c.res.headers.append("Access-Control-Expose-Headers", "Retry-After");
    }
  };
}
