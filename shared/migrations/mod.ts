/**
 * The migration runner: applies `<version>_<name>.sql` files in name order, each once, each in its
 * own transaction, and records them in `supabase_migrations.schema_migrations` the way the Supabase
 * CLI does (`version`, `name`, `statements`), so `supabase migration list` agrees with it. A failure
 * names the file, the line and the statement, and leaves nothing of that file behind.
 *
 * @example
 * ```ts
 * await applyMigrations(sql, await readMigrationDir("migrations"));
 * ```
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors/mod.ts";
import { splitStatements } from "../sql/split.ts";

/** One migration file. */
export interface MigrationFile {
  /** File name, e.g. `20261125000100_product_schema.sql`. */
  fileName: string;
  /** The leading timestamp, e.g. `20261125000100`. */
  version: string;
  /** The part after the timestamp, e.g. `product_schema`. */
  name: string;
  /** The SQL text. */
  sql: string;
}

/** What {@link applyMigrations} did. */
export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

const FILE_NAME = /^(\d+)_(.+)\.sql$/;

/** Parses a migration file name into version and name, or throws `validation_failed`. */
export function parseMigrationFileName(fileName: string): { version: string; name: string } {
  const m = FILE_NAME.exec(fileName);
  if (!m) {
    throw new AppError(
      "validation_failed",
      `migration file name must look like <timestamp>_<name>.sql: ${fileName}`,
    );
  }
  return { version: m[1], name: m[2] };
}

/** Reads every `*.sql` file of `dir`, sorted by name. */
export async function readMigrationDir(dir: string): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const { version, name } = parseMigrationFileName(entry.name);
    files.push({
      fileName: entry.name,
      version,
      name,
      sql: await Deno.readTextFile(`${dir}/${entry.name}`),
    });
  }
  return files.sort((a, b) => a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
}

/**
 * Applies the files not yet recorded, in name order. Concurrent runners are serialised by an
 * advisory lock, so two processes starting the stack at once apply each file once.
 */
export async function applyMigrations(sql: Sql, files: MigrationFile[]): Promise<MigrationReport> {
  await sql.unsafe(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text not null primary key,
      statements text[],
      name text
    );`);
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  const ordered = [...files].sort((a, b) => a.fileName < b.fileName ? -1 : 1);
  for (const file of ordered) {
    const applied = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('supabase_migrations.schema_migrations'))`;
      const [done] = await tx`
        select 1 from supabase_migrations.schema_migrations where version = ${file.version}`;
      if (done) return false;
      const statements = splitStatements(file.sql);
      for (const stmt of statements) {
        try {
          await tx.unsafe(stmt.text);
        } catch (e) {
          throw migrationError(file, stmt, e);
        }
      }
      await tx`
        insert into supabase_migrations.schema_migrations (version, name, statements)
        values (${file.version}, ${file.name}, ${statements.map((s) => s.text)})`;
      return true;
    });
    (applied ? report.applied : report.alreadyApplied).push(file.fileName);
  }
  return report;
}

interface PgError {
  message: string;
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
}

function migrationError(
  file: MigrationFile,
  stmt: { text: string; offset: number; line: number },
  e: unknown,
): AppError {
  const pg = (e ?? {}) as PgError;
  let line = stmt.line;
  if (pg.position) {
    const inStmt = Number(pg.position) - 1;
    line += stmt.text.slice(0, inStmt).split("\n").length - 1;
  }
  const message = `${file.fileName}:${line}: ${pg.message ?? String(e)}`;
  return new AppError("migration_failed", message, {
    file: file.fileName,
    line,
    statement: stmt.text,
    sqlstate: pg.code,
    detail: pg.detail,
    hint: pg.hint,
  }, { cause: e });
}
