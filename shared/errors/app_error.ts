/**
 * The product's one error type: a stable code from {@link ERROR_CODES}, the HTTP status of that
 * code, a message and optional structured details.
 *
 * @example
 * ```ts
 * throw new AppError("not_found", "run not found");
 * ```
 */
import { ERROR_CODES, type ErrorCode } from "./codes.ts";

/** Error with a stable code, an HTTP status derived from it, and optional structured details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = details;
  }

  /** The JSON body every API error response carries. */
  toJSON(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** Shape of an error response body. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** Whether `e` is an {@link AppError}, optionally with a given code. */
export function isAppError(e: unknown, code?: ErrorCode): e is AppError {
  return e instanceof AppError && (code === undefined || e.code === code);
}
