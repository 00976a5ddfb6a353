/**
 * Migration files: the `<version>_<name>.sql` naming the Supabase CLI uses, and reading a folder
 * of them in name order. Applying them is the real CLI's job — `supabase db push --db-url`, run by
 * `supabase/local/supabase_cli.ts` for the local stack, `deno task db migrate` and the test
 * template — which records each in `supabase_migrations.schema_migrations` itself.
 *
 * @example
 * ```ts
 * const { version, name } = parseMigrationFileName("20261125000100_product_schema.sql");
 * const files = await readMigrationDir("migrations");
 * ```
 */
import { AppError } from "../errors/mod.ts";

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
