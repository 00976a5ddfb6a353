/**
 * How the CLI says what went wrong: `error: <code>: <message>`, the API's own code and message,
 * then one line per detail (each invalid field of a `validation_failed`, say). A usage error
 * also prints the help text and exits 2; anything else exits 1.
 *
 * @example
 * ```ts
 * formatError("not_found", "run not found"); // "error: not_found: run not found"
 * ```
 */
import { isAppError } from "../errors/mod.ts";
import { ApiError } from "./api_client.ts";
import { UsageError } from "./args.ts";
import type { CliIo } from "./cli_io.ts";
import { EXIT, type ExitCode } from "./exit_codes.ts";
import { USAGE } from "./usage.ts";

/** The error as printed: a first line, then its details indented. */
export function formatError(code: string, message: string, details?: unknown): string {
  return [`error: ${code}: ${message}`, ...detailLines(details)].join("\n");
}

/** Prints `e` on standard error and returns the exit status it means. */
export function reportError(e: unknown, io: CliIo): ExitCode {
  if (e instanceof UsageError) {
    io.err(`error: usage: ${e.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (e instanceof ApiError || isAppError(e)) {
    io.err(formatError(e.code, e.message, e.details));
    return EXIT.error;
  }
  if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
    io.err(formatError("io_error", (e as Error).message));
    return EXIT.error;
  }
  io.err(formatError("internal", e instanceof Error ? e.message : String(e)));
  return EXIT.error;
}

function detailLines(details: unknown): string[] {
  if (details === undefined || details === null) return [];
  if (Array.isArray(details)) {
    return details.map((d) => {
      if (d && typeof d === "object" && "message" in d) {
        const { path, location, message } = d as {
          path?: unknown;
          location?: unknown;
          message: unknown;
        };
        const where = [location, Array.isArray(path) ? path.join(".") : path].filter((x) =>
          x !== undefined && x !== ""
        ).join(" ");
        return `  - ${where ? `${where}: ` : ""}${String(message)}`;
      }
      return `  - ${JSON.stringify(d)}`;
    });
  }
  return [`  ${JSON.stringify(details)}`];
}
