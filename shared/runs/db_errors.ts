/**
 * Postgres errors into {@link AppError}s. The state machine's SQL functions raise custom SQLSTATEs
 * (`BT401`, `BT404`, `BT409`, `BT400`, and `BT429` for budget), and bad data that slips past validation
 * surfaces as a data exception; each becomes the code a client can act on. Anything else is left
 * alone and ends as a 500.
 *
 * @example
 * ```ts
 * try { await tx`select backend_team.cancel_run(${id})`; } catch (e) { throw fromDatabaseError(e); }
 * ```
 */
import { AppError } from "../errors/mod.ts";

interface PgErrorLike {
  code: string;
  message: string;
  detail?: string;
}

function isPgError(e: unknown): e is PgErrorLike {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

function detailJson(detail: string | undefined): unknown {
  if (!detail) return undefined;
  try {
    return JSON.parse(detail);
  } catch {
    return undefined;
  }
}

/** The {@link AppError} a database error means for the caller, or `e` itself when it means none. */
export function fromDatabaseError(e: unknown): unknown {
  if (!isPgError(e)) return e;
  const opts = { cause: e };
  switch (e.code) {
    case "BT401":
      return new AppError("unauthorized", "a signed-in user is required", undefined, opts);
    case "BT404":
      return new AppError("not_found", "run not found", undefined, opts);
    case "BT409":
      return new AppError("illegal_transition", e.message, detailJson(e.detail), opts);
    case "BT400":
      return new AppError("validation_failed", e.message, undefined, opts);
    case "BT429":
      return new AppError("budget_exceeded", e.message, detailJson(e.detail), opts);
    case "23503":
      // The only foreign keys a caller's insert can miss are the owners' (auth.users): a valid
      // token for a user that does not exist (deleted, or never created in Auth).
      if (/owner/.test(String((e as { constraint_name?: unknown }).constraint_name ?? ""))) {
        return new AppError(
          "user_not_found",
          "the token's user does not exist in this project (deleted, or not yet signed up)",
          undefined,
          opts,
        );
      }
      break;
    case "23505":
      return new AppError("conflict", "already exists", undefined, opts);
    case "23502":
    case "23514":
      return new AppError("validation_failed", "a value is not allowed", undefined, opts);
  }
  // Class 22 is "data exception" (e.g. text with NUL, a value out of range): the input was bad.
  if (e.code.startsWith("22")) {
    return new AppError("validation_failed", "a value is not valid", undefined, opts);
  }
  return e;
}
