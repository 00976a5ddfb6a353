/**
 * `deno task validate`: the shadow validator for SQL files on disk.
 *
 *   deno task validate [--shadow pglite|postgres] [--json] [--baseline <file.sql>]... <file.sql>...
 *
 * Files are applied in the order given (after any `--baseline` files, which are applied but not
 * reported on). A file `X.down.sql` beside `X.sql` (or `X.up.sql`) is X's rollback and is checked
 * to restore the schema exactly. Exit status: 0 when no finding is an error, 1 when one is, 2 for
 * usage errors. `--json` prints `{ "ok", "findings", "durationMs" }`; otherwise a report grouped by
 * file. `--shadow postgres` uses the server `SHADOW_DATABASE_URL` names.
 *
 * @example
 * ```sh
 * deno task validate --json supabase/migrations/20250101000000_notes.sql
 * ```
 */
import { parseArgs } from "node:util";
import { basename, dirname, join } from "node:path";
import { closeSharedShadows, type ShadowBackend, sharedShadow } from "../shadow/mod.ts";
import { isAppError } from "../errors/mod.ts";
import { formatReport } from "./report.ts";
import { type BaselineInput, downFileName, type MigrationInput } from "./request.ts";
import { validateMigrations } from "./validate.ts";

const USAGE =
  "usage: deno task validate [--shadow pglite|postgres] [--json] [--baseline <file.sql>]... " +
  "<file.sql>...";

/** Exit statuses of the command. */
export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

/** Where the command writes (replaceable in tests). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const consoleIo: CliIo = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

class UsageError extends Error {}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function readSql(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The migrations named on the command line, each with its `.down.sql` sibling when present. */
export async function migrationsFromPaths(paths: readonly string[]): Promise<MigrationInput[]> {
  const ups = paths.filter((p) => !/\.down\.sql$/i.test(p));
  const downsGiven = paths.filter((p) => /\.down\.sql$/i.test(p));
  const out: MigrationInput[] = [];
  const attached = new Set<string>();
  for (const path of ups) {
    const downPath = join(dirname(path), downFileName(basename(path)));
    const migration: MigrationInput = { name: basename(path), sql: await readSql(path) };
    if (await exists(downPath)) {
      migration.down = await readSql(downPath);
      attached.add(downPath);
    }
    out.push(migration);
  }
  for (const path of downsGiven) {
    if (!attached.has(join(dirname(path), basename(path)))) {
      throw new UsageError(
        `${path} is a rollback; pass the migration it belongs to (its .down.sql is found beside it)`,
      );
    }
  }
  if (new Set(out.map((m) => m.name)).size !== out.length) {
    throw new UsageError("two files have the same name; findings could not tell them apart");
  }
  return out;
}

/** Runs the command; returns its exit status. */
export async function runValidateCli(args: string[], io: CliIo = consoleIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        shadow: { type: "string" },
        json: { type: "boolean", default: false },
        baseline: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const shadow = values.shadow ?? "pglite";
  if (shadow !== "pglite" && shadow !== "postgres") {
    io.err(`--shadow must be pglite or postgres, not ${shadow}\n${USAGE}`);
    return EXIT.usage;
  }
  if (positionals.length === 0) {
    io.err(`no SQL file given\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    const files = await migrationsFromPaths(positionals);
    const baseline: BaselineInput[] = [];
    for (const path of values.baseline ?? []) {
      baseline.push({ name: basename(path), sql: await readSql(path) });
    }
    // One validation: one PGlite process is enough.
    const report = await validateMigrations({
      files,
      baseline,
      shadow: await sharedShadow(shadow as ShadowBackend, { poolSize: 1 }),
    });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? EXIT.ok : EXIT.findings;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return EXIT.usage;
    }
    if (isAppError(e, "config_missing")) {
      io.err(e.message);
      return EXIT.usage;
    }
    throw e;
  } finally {
    await closeSharedShadows();
  }
}

if (import.meta.main) Deno.exit(await runValidateCli(Deno.args));
