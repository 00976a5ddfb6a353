/**
 * Writes a deliverable to disk as the Supabase project folder it describes — `supabase/migrations`,
 * `supabase/functions`, `supabase/tests/database`, `docs`, the README — so the user can `cd` into
 * it and run `supabase db push`. Paths come from the server, so each is checked to stay inside the
 * target folder before anything is written: no absolute paths, no `..`, no drive letters.
 *
 * @example
 * ```ts
 * const report = await writeDeliverableFolder("out/trade-journal", deliverable.files);
 * report.written; // ["README.md", "supabase/migrations/20261125…_create_trade_journal.sql", …]
 * ```
 */
import { dirname, join, resolve } from "node:path";
import { AppError } from "../errors/mod.ts";
import type { DeliverableFormat } from "./args.ts";

/** A file to write, at its path in the project. */
export interface ProjectFile {
  path: string;
  content: string;
}

/** What was written. */
export interface WriteReport {
  /** The folder, absolute. */
  dir: string;
  /** Paths written, relative to `dir`, in the order given. */
  written: string[];
}

/**
 * The path as a safe relative path (forward slashes), or `validation_failed` if it would leave
 * the folder or is not a plain relative path.
 *
 * @example
 * ```ts
 * safeRelativePath("supabase/migrations/1_init.sql"); // "supabase/migrations/1_init.sql"
 * safeRelativePath("../etc/passwd"); // throws
 * ```
 */
export function safeRelativePath(path: string): string {
  const bad = (why: string) =>
    new AppError("validation_failed", `refusing to write "${path}": ${why}`);
  if (path.includes("\0")) throw bad("it contains a NUL byte");
  if (path.includes("\\")) throw bad("it contains a backslash");
  if (path.startsWith("/") || /^[a-zA-Z]:/.test(path)) throw bad("it is absolute");
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw bad("it is empty");
  if (parts.some((p) => p === "..")) throw bad("it leaves the folder");
  return parts.join("/");
}

/** Writes every file under `dir` (created if missing); existing files at those paths are replaced. */
export async function writeDeliverableFolder(
  dir: string,
  files: readonly ProjectFile[],
): Promise<WriteReport> {
  const root = resolve(dir);
  // Check every path before writing any, so a bad one leaves nothing half-written.
  const planned = files.map((f) => ({ path: safeRelativePath(f.path), content: f.content }));
  await Deno.mkdir(root, { recursive: true });
  for (const file of planned) {
    const target = join(root, file.path);
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.writeTextFile(target, file.content);
  }
  return { dir: root, written: planned.map((f) => f.path) };
}

/** The file `bt deliverable --format markdown|tar` writes in its folder. */
export function deliverableFileName(format: Exclude<DeliverableFormat, "json">, runId: string) {
  return format === "markdown" ? "deliverable.md" : `${runId}.tar.gz`;
}
