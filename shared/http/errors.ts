/**
 * Errors into HTTP responses, in one place. An {@link AppError} becomes
 * `{ error: { code, message, details? } }` with its code's status; a failed zod validation becomes
 * a 400 `validation_failed` listing each issue (`location`, `path`, `message`); anything else is
 * logged here and answered with a bare 500, so no internals reach the client. A server-side
 * AppError (5xx) is logged too and answered with its code and the safe message of
 * {@link publicError}, without details: its own text is written for operators.
 *
 * @example
 * ```ts
 * app.onError(errorHandler());
 * app.notFound(notFoundHandler);
 * ```
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import {
  AppError,
  ERROR_CODES,
  type ErrorCode,
  INTERNAL_ERROR,
  isAppError,
  publicError,
} from "../errors/mod.ts";

/** Where a failing value was: the body, the query string, the path or a header. */
export type IssueLocation = "body" | "query" | "path" | "header";

/** One entry of a `validation_failed` error's `details`. */
export interface ValidationIssue {
  location?: IssueLocation;
  path: (string | number)[];
  message: string;
}

/** The body of every error response, for OpenAPI. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.unknown().optional().meta({
      description: "For validation_failed: a list of { location, path, message }.",
    }),
  }),
}).meta({ id: "Error" });

/** The issues of a zod error as error details; unknown keys get one entry each, named. */
export function zodIssues(error: z.ZodError, location?: IssueLocation): ValidationIssue[] {
  const at = location ? { location } : {};
  return error.issues.flatMap((issue): ValidationIssue[] => {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ ...at, path: [...path, key], message: "unknown field" }));
    }
    return [{ ...at, path, message: issue.message }];
  });
}

const TARGET_LOCATION: Record<string, IssueLocation> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
};

/** A `validation_failed` error for a zod error found in `location`. */
export function validationError(error: z.ZodError, location?: IssueLocation): AppError {
  return new AppError("validation_failed", "the request is not valid", zodIssues(error, location));
}

/**
 * The validation hook for `@hono/zod-openapi` routes: a failed validation throws, so the error
 * handler answers it like every other error.
 */
export function validationHook(
  result: { target: string } & ({ success: true } | { success: false; error: z.ZodError }),
): void {
  if (!result.success) throw validationError(result.error, TARGET_LOCATION[result.target]);
}

/** Receives every error answered with a 5xx, for the server log. */
export type ErrorLogger = (error: unknown, request: { method: string; path: string }) => void;

/** The default {@link ErrorLogger}: `console.error`, which Supabase keeps in the function's logs. */
export const consoleErrorLogger: ErrorLogger = (error, request) => {
  console.error(`${request.method} ${request.path} failed:`, error);
};

function codeForStatus(status: number): ErrorCode {
  const found = (Object.entries(ERROR_CODES) as [ErrorCode, number][]).find(([, s]) =>
    s === status
  );
  return found?.[0] ?? (status >= 500 ? "internal" : "validation_failed");
}

/** What a thrown value means as an {@link AppError}, when it means one. */
function asAppError(e: unknown): AppError | undefined {
  if (isAppError(e)) return e;
  if (e instanceof z.ZodError) return validationError(e);
  if (e instanceof HTTPException) {
    // Hono's own validators and gates (malformed JSON, media type) throw these.
    if (e.status === 400 && /json/i.test(e.message)) {
      return new AppError("invalid_json", "the body is not valid JSON", undefined, { cause: e });
    }
    if (e.status < 500) {
      return new AppError(codeForStatus(e.status), e.message, undefined, { cause: e });
    }
  }
  return undefined;
}

/** The JSON response for `e` (logging it first when it is a server error). */
export function errorResponse(
  e: unknown,
  c: Context,
  log: ErrorLogger = consoleErrorLogger,
): Response {
  const app = asAppError(e);
  const status = app?.status ?? 500;
  // A missing model is a state the function announced at start-up, not a failure to trace.
  if (status >= 500 && app?.code !== "llm_not_configured") {
    log(e, { method: c.req.method, path: c.req.path });
  }
  // Whatever failed on the server side (a driver, the database, a bug) is the log's to tell.
  const body = status < 500 && app
    ? app.toJSON()
    : { error: app ? publicError(app) : { ...INTERNAL_ERROR } };
  const headers: Record<string, string> = {};
  if (status === 401) headers["WWW-Authenticate"] = 'Bearer realm="orchestrator"';
  return c.json(body, status as ContentfulStatusCode, headers);
}

/** An `app.onError` handler answering with {@link errorResponse}. */
export function errorHandler(log?: ErrorLogger): ErrorHandler {
  return (e, c) => errorResponse(e, c, log);
}

/** An `app.notFound` handler answering 404 `not_found` in the error shape. */
export const notFoundHandler: NotFoundHandler = (c) =>
  errorResponse(new AppError("not_found", `no route for ${c.req.method} ${c.req.path}`), c);
