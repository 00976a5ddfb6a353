/**
 * What a user may read of a failure: a stable code and a message the product wrote. An
 * {@link AppError} keeps its own message when its code is about the request (4xx) or about what a
 * model answered (`llm_invalid_output`, `plan_invalid`); codes about the service's insides get a
 * fixed message, and `llm_unavailable` says what happened without the endpoint's address. Errors of
 * PostgreSQL and of the drivers and sockets under it — the product database, the shadow server,
 * any connection — are `infrastructure_error`; anything else is `internal`. Hosts and ports, login
 * names, the product's relations, endpoint URLs and stacks belong in the log, which callers write
 * with the raw error.
 *
 * Findings are not errors: a statement of the user's own SQL that the shadow refused comes back
 * from validation as data and is shown as such. A shadow that cannot be reached at all throws, and
 * lands here as an infrastructure error.
 *
 * @example
 * ```ts
 * const safe = publicError(e); // { code: "infrastructure_error", message: "…" }
 * console.error(`run ${runId} failed:`, e); // the raw error, for the operator
 * await failRun(sql, runId, safe.code, safe.message);
 * ```
 */
import { AppError } from "./app_error.ts";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";

/** An error as a user may see it. */
export interface PublicError {
  code: ErrorCode;
  message: string;
}

/** What a user sees of an error nobody anticipated. */
export const INTERNAL_ERROR: Readonly<PublicError> = Object.freeze({
  code: "internal",
  message: "internal error",
});

const INFRASTRUCTURE_MESSAGE = "a database or network error in the service interrupted this work";

/**
 * 5xx codes whose messages describe a model's answer, not the service, or tell the operator which
 * variables to set (`llm_not_configured`, written without values): they stand as written.
 */
const MODEL_CODES = new Set<ErrorCode>([
  "llm_invalid_output",
  "plan_invalid",
  "llm_not_configured",
]);

/** Fixed messages of the codes whose own messages are written for operators. */
const FIXED_MESSAGES: Partial<Record<ErrorCode, string>> = {
  internal: INTERNAL_ERROR.message,
  config_missing: "the service is not configured correctly",
  migration_failed: "the service's database is not set up correctly",
  database_error: INFRASTRUCTURE_MESSAGE,
  infrastructure_error: INFRASTRUCTURE_MESSAGE,
  upstream_unavailable: "a service this one depends on did not answer",
};

/**
 * Socket and driver error codes: Node's and Deno's (`err.code`) and postgres.js's own, which put
 * the server's host and port in the message (`write CONNECTION_CLOSED 127.0.0.1:5432`).
 */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
  "EPIPE",
  "EADDRNOTAVAIL",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "SASL_SIGNATURE_MISMATCH",
  "AUTH_TYPE_NOT_IMPLEMENTED",
]);

/** Deno's network errors (`Deno.errors.*`), by name. */
const NETWORK_ERROR_NAMES = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "TimedOut",
  "BrokenPipe",
  "AddrNotAvailable",
]);

/**
 * Error names of the database layer: postgres.js's `PostgresError`, and the shadow's errors, which
 * reach this far only when the shadow itself failed (its refusals of the user's SQL are findings,
 * caught long before).
 */
const DATABASE_ERROR_NAMES = new Set([
  "PostgresError",
  "ShadowSqlError",
  "ShadowClosedError",
  "ShadowTimeoutError",
]);

/** Driver and server phrases, for errors re-thrown as plain `Error`s with the text kept. */
const INFRASTRUCTURE_TEXT = new RegExp(
  [
    /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|EPIPE)\b/,
    /\bCONNECT(ION_CLOSED|ION_ENDED|ION_DESTROYED|_TIMEOUT)\b/,
    /password authentication failed/,
    /no pg_hba\.conf entry/,
    /the database system is (starting up|shutting down|in recovery mode)/,
    /too many clients already/,
    /terminating connection due to/,
    /connection refused|connection reset/i,
    /error sending request for url/,
  ].map((r) => r.source).join("|"),
  "i",
);

/** A 5-character SQLSTATE with a severity: an error PostgreSQL raised (postgres.js or PGlite). */
function isPostgresServerError(o: Record<string, unknown>): boolean {
  return typeof o.code === "string" && /^[0-9A-Z]{5}$/.test(o.code) &&
    typeof o.severity === "string";
}

/** `e` and the errors it was caused by, nearest first (a bounded walk: causes can loop). */
function* causeChain(e: unknown): Generator<Record<string, unknown>> {
  let current: unknown = e;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

/**
 * Whether `e` (or an error it was caused by) means a connection could not be made or was lost: a
 * socket or driver error code, a Deno network error, a session-ending server error (severity
 * `FATAL` or `PANIC`: a refused login, a terminated backend, too many clients), or a driver's
 * phrase for one. A statement that PostgreSQL refused is not one, so code running the user's SQL
 * can tell a finding about that SQL from a shadow server it could not reach (`RAISE` cannot end a
 * session: user SQL cannot forge a `FATAL`).
 *
 * @example
 * ```ts
 * isConnectionError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
 *   code: "ECONNREFUSED",
 * })); // true
 * ```
 */
export function isConnectionError(e: unknown): boolean {
  for (const o of causeChain(e)) {
    if (typeof o.code === "string" && CONNECTION_CODES.has(o.code)) return true;
    if (typeof o.name === "string" && NETWORK_ERROR_NAMES.has(o.name)) return true;
    if (isPostgresServerError(o) && (o.severity === "FATAL" || o.severity === "PANIC")) {
      return true;
    }
    if (typeof o.message === "string" && INFRASTRUCTURE_TEXT.test(o.message)) return true;
  }
  return false;
}

/**
 * Whether `e` (or an error it was caused by) came from PostgreSQL, a database driver or the
 * network: a {@link isConnectionError connection error}, or any error the server raised (a
 * SQLSTATE with a severity) — thrown this far, an error of the product database is the service's
 * problem, never the user's.
 *
 * @example
 * ```ts
 * isInfrastructureError(new Error('password authentication failed for user "x"')); // true
 * isInfrastructureError(new TypeError("x is undefined")); // false
 * ```
 */
export function isInfrastructureError(e: unknown): boolean {
  if (isConnectionError(e)) return true;
  for (const o of causeChain(e)) {
    if (typeof o.name === "string" && DATABASE_ERROR_NAMES.has(o.name)) return true;
    if (isPostgresServerError(o)) return true;
  }
  return false;
}

/** What `llm_unavailable` details (`reason`, `status`) say, without the endpoint. */
function llmUnavailableMessage(details: unknown): string {
  const d = (typeof details === "object" && details !== null ? details : {}) as {
    reason?: unknown;
    status?: unknown;
  };
  switch (d.reason) {
    case "timeout":
      return "the language model did not answer in time";
    case "connection":
      return "the language model could not be reached";
    case "aborted":
      return "the language model request was cancelled";
    case "http_error":
      if (typeof d.status === "number" && Number.isInteger(d.status)) {
        return `the language model answered HTTP ${d.status}`;
      }
  }
  return "the language model is unavailable";
}

function publicAppError(e: AppError): PublicError {
  const { code } = e;
  if (code === "llm_unavailable") return { code, message: llmUnavailableMessage(e.details) };
  const fixed = FIXED_MESSAGES[code] ??
    (code.startsWith("config_") ? FIXED_MESSAGES.config_missing : undefined);
  if (fixed) return { code, message: fixed };
  if (ERROR_CODES[code] < 500 || MODEL_CODES.has(code)) return { code, message: e.message };
  // A service-side code nobody gave a fixed message yet: its text is not vouched for.
  return {
    code,
    message: ERROR_CODES[code] === 503
      ? FIXED_MESSAGES.upstream_unavailable!
      : INTERNAL_ERROR.message,
  };
}

/**
 * The code and message a user may see for any thrown value; see the module doc. Pure: the caller
 * logs the raw error (with the run or task it belongs to).
 *
 * @example
 * ```ts
 * publicError(new AppError("not_found", "run not found"));
 * // { code: "not_found", message: "run not found" }
 * publicError(new Error('password authentication failed for user "x"'));
 * // { code: "infrastructure_error", message: "a database or network error in the service …" }
 * publicError(new TypeError("x is undefined")); // { code: "internal", message: "internal error" }
 * ```
 */
export function publicError(e: unknown): PublicError {
  if (e instanceof AppError) return publicAppError(e);
  if (isInfrastructureError(e)) {
    return { code: "infrastructure_error", message: INFRASTRUCTURE_MESSAGE };
  }
  return { ...INTERNAL_ERROR };
}
