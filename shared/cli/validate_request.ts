/**
 * `bt validate <files…>` turns the files a user names into a request for the standalone validator
 * (`POST /functions/v1/validate`): each `.sql` file is a migration, applied in the order given; a
 * `name.down.sql` beside `name.sql` (or `name.up.sql`) is that migration's rollback, checked to
 * restore the schema rather than applied on its own; `.ts`/`.js` files are edge functions to
 * type-check, named by their path under `functions/`. Pure.
 *
 * @example
 * ```ts
 * validateRequestFor([
 *   { path: "supabase/migrations/001_notes.sql", content: up },
 *   { path: "supabase/migrations/001_notes.down.sql", content: down },
 * ]);
 * // { files: [{ name: "supabase/migrations/001_notes.sql", sql: up, down }] }
 * ```
 */
import { basename } from "node:path";
import { downFileName, type ValidateRequest } from "../validation/mod.ts";
import { UsageError } from "./args.ts";

/** A file the user named, with its text. */
export interface NamedFile {
  path: string;
  content: string;
}

const FUNCTION_SOURCE = /\.(ts|tsx|mts|js|mjs)$/i;

/** The validator request for `files`; throws {@link UsageError} for files it cannot place. */
export function validateRequestFor(
  files: readonly NamedFile[],
  shadow?: ValidateRequest["shadow"],
): ValidateRequest {
  const downs = new Map<string, NamedFile>();
  const migrations: NamedFile[] = [];
  const functions: ValidateRequest["functions"] = [];
  for (const file of files) {
    const path = displayName(file.path);
    if (/\.down\.sql$/i.test(path)) downs.set(path, { ...file, path });
    else if (/\.sql$/i.test(path)) migrations.push({ ...file, path });
    else if (FUNCTION_SOURCE.test(path)) {
      functions.push({ name: functionName(path), source: file.content });
    } else {
      throw new UsageError(
        `validate: ${file.path} is neither SQL (.sql) nor a function (.ts, .js)`,
      );
    }
  }
  if (migrations.length === 0) {
    throw new UsageError("validate: name at least one .sql migration (rollbacks end in .down.sql)");
  }
  const request: ValidateRequest = {
    files: migrations.map((m) => {
      const down = downs.get(downFileName(m.path));
      downs.delete(downFileName(m.path));
      return { name: m.path, sql: m.content, ...(down ? { down: down.content } : {}) };
    }),
  };
  const orphan = downs.keys().next();
  if (!orphan.done) {
    throw new UsageError(
      `validate: ${orphan.value} has no migration it rolls back among the files`,
    );
  }
  if (functions.length > 0) request.functions = functions;
  if (shadow) request.shadow = shadow;
  return request;
}

// Findings cite the file by this name: the path as typed, or the file name for absolute paths.
function displayName(path: string): string {
  const relative = path.replace(/^(\.\/)+/, "");
  return relative.startsWith("/") || relative.includes("..") || relative.length > 200
    ? basename(relative)
    : relative;
}

function functionName(path: string): string {
  const at = path.lastIndexOf("functions/");
  return at >= 0 ? path.slice(at + "functions/".length) : path;
}
