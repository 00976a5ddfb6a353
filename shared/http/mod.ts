/**
 * The HTTP layer every function shares: CORS as Supabase functions do it, one error handler that
 * maps errors to `{ error: { code, message, details? } }`, bearer-token authentication of
 * signed-in users, per-user limits (rate, validations and runs in flight; 429 with `Retry-After`),
 * and safe JSON body reading (media type, size, syntax).
 *
 * @example
 * ```ts
 * import { cors, errorHandler, jsonBody, requireUser } from "../http/mod.ts";
 * ```
 */
export { cors, corsHeaders } from "./cors.ts";
export {
  consoleErrorLogger,
  ErrorBody,
  errorHandler,
  type ErrorLogger,
  errorResponse,
  type IssueLocation,
  notFoundHandler,
  validationError,
  validationHook,
  type ValidationIssue,
  zodIssues,
} from "./errors.ts";
export {
  createTokenVerifier,
  type Jwk,
  parseJwks,
  requireUser,
  type TokenVerifier,
  type UserClaims,
  type UserEnv,
  type VerifierKeys,
} from "./auth.ts";
export {
  createDatabaseLimiter,
  DEFAULT_REQUEST_LIMITS,
  holdValidationSlot,
  limitRequestRate,
  LimitsEnv,
  limitsFromEnv,
  type RequestLimiter,
  type RequestLimits,
  retryAfterHeader,
  RUNS_RETRY_AFTER_SECONDS,
  runsInFlightError,
} from "./limits.ts";
export {
  DEFAULT_MAX_BODY_BYTES,
  jsonBody,
  type JsonBodyOptions,
  parseJsonBytes,
  readLimited,
} from "./json_body.ts";
