/**
 * Applies the platform SQL of `supabase/local/platform/` (roles, `auth`, `realtime`, a
 * pgmq-compatible `pgmq` where the extension is missing) to a database. Every file is idempotent and
 * creates only what is absent, so it is a no-op on a real Supabase database.
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import type { Sql } from "../../shared/db/mod.ts";

/** Folder holding the platform SQL files. */
export const PLATFORM_DIR = fromFileUrl(new URL("./platform/", import.meta.url));

/** The platform SQL files in the order they apply. */
export async function platformFiles(): Promise<{ name: string; sql: string }[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(PLATFORM_DIR)) {
    if (e.isFile && e.name.endsWith(".sql")) names.push(e.name);
  }
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, sql: await Deno.readTextFile(PLATFORM_DIR + name) })),
  );
}

/** Applies every platform file, each in a transaction, serialised by an advisory lock. */
export async function applyPlatformSql(sql: Sql): Promise<void> {
  for (const file of await platformFiles()) {
    try {
      await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext('backend-team platform sql'))`;
        await tx.unsafe(file.sql);
      });
    } catch (e) {
      throw new Error(`platform SQL ${file.name} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}
