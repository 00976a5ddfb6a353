/**
 * The product's one error type and what users may see of any error. Anything that can fail in a
 * way a caller should understand throws an {@link AppError}; the HTTP layer turns it into
 * `{ error: { code, message, details? } }` with the status of its code. Whatever ends up in front
 * of a user — a response body, `tasks.error`, `runs.error`, an event — goes through
 * {@link publicError} first, so driver, database and runtime text stays in the log.
 *
 * @example
 * ```ts
 * throw new AppError("not_found", "run not found");
 * const { code, message } = publicError(e); // safe to store where the user reads it
 * ```
 */
export { ERROR_CODES, type ErrorCode } from "./codes.ts";
export { AppError, type ErrorBody, isAppError } from "./app_error.ts";
export {
  INTERNAL_ERROR,
  isConnectionError,
  isInfrastructureError,
  type PublicError,
  publicError,
} from "./public.ts";
