/**
 * One PGlite database and what a shadow session does on it, independent of where it runs (in a
 * child process, normally, or in this process where subprocesses are unavailable). Instances are
 * restored from a snapshot of the data folder — a bootstrapped database is about 40 MB and restores
 * in a fraction of the seconds `initdb` plus the platform SQL take. Extension code (pgcrypto,
 * pg_trgm, …) is loaded only into instances that need it, because each bundle adds startup time.
 */
import type { Extension, PGlite } from "@electric-sql/pglite";
import { plainRows, sqlErrorFacts } from "./_values.ts";
import { type Identity, ShadowSqlError, type StatementResult } from "./port.ts";
import { SHADOW_OWNER, type SqlScript } from "./platform.ts";
import { enterIdentity, KEEP_AND_LEAVE, UNDO_AND_LEAVE } from "./_identity.ts";

// PGlite's code loads on first use: a process that only lists its extensions, or validates on a
// PostgreSQL shadow, does not hold it (the worker functions import this module through
// shared/shadow).
const pgliteClass = async (): Promise<typeof PGlite> =>
  (await import("@electric-sql/pglite")).PGlite;

/** The compiled PGlite binary and file system bundle, loaded once per process. */
export interface PgliteAssets {
  wasmModule: WebAssembly.Module;
  fsBundle: Blob;
}

/** Folder of the PGlite package's `dist` (its `.wasm` and `.data` files). */
export function pgliteDistDir(): string {
  return new URL(".", import.meta.resolve("@electric-sql/pglite")).pathname;
}

/** Reads and compiles PGlite's binary and reads its file system bundle. */
export async function loadPgliteAssets(distDir = pgliteDistDir()): Promise<PgliteAssets> {
  const [wasm, data] = await Promise.all([
    Deno.readFile(`${distDir}/pglite.wasm`),
    Deno.readFile(`${distDir}/pglite.data`),
  ]);
  return { wasmModule: await WebAssembly.compile(wasm), fsBundle: new Blob([data]) };
}

// PGlite's contrib bundles, by extension name; literal imports so the module graph knows them.
const CONTRIB: Record<string, () => Promise<Extension>> = {
  pgcrypto: async () => (await import("@electric-sql/pglite/contrib/pgcrypto")).pgcrypto,
  "uuid-ossp": async () => (await import("@electric-sql/pglite/contrib/uuid_ossp")).uuid_ossp,
  pg_trgm: async () => (await import("@electric-sql/pglite/contrib/pg_trgm")).pg_trgm,
  citext: async () => (await import("@electric-sql/pglite/contrib/citext")).citext,
  hstore: async () => (await import("@electric-sql/pglite/contrib/hstore")).hstore,
  ltree: async () => (await import("@electric-sql/pglite/contrib/ltree")).ltree,
  btree_gin: async () => (await import("@electric-sql/pglite/contrib/btree_gin")).btree_gin,
  btree_gist: async () => (await import("@electric-sql/pglite/contrib/btree_gist")).btree_gist,
  unaccent: async () => (await import("@electric-sql/pglite/contrib/unaccent")).unaccent,
  fuzzystrmatch: async () =>
    (await import("@electric-sql/pglite/contrib/fuzzystrmatch")).fuzzystrmatch,
  moddatetime: async () => (await import("@electric-sql/pglite/contrib/moddatetime")).moddatetime,
  tablefunc: async () => (await import("@electric-sql/pglite/contrib/tablefunc")).tablefunc,
};

/** Extensions whose code PGlite can load (others fail to create, as on a server without them). */
export const PGLITE_EXTENSIONS: readonly string[] = Object.keys(CONTRIB);

async function extensionMap(names: readonly string[]): Promise<Record<string, Extension>> {
  const out: Record<string, Extension> = {};
  for (const name of new Set(names)) {
    const load = CONTRIB[name];
    if (load) out[name.replaceAll("-", "_")] = await load();
  }
  return out;
}

/** A fresh instance from `snapshot` (a data folder tarball), with the named extensions' code. */
export async function restorePglite(
  assets: PgliteAssets,
  snapshot: Blob,
  extensions: readonly string[] = [],
): Promise<PGlite> {
  const db = new (await pgliteClass())({
    loadDataDir: snapshot,
    pgliteWasmModule: assets.wasmModule,
    fsBundle: assets.fsBundle,
    extensions: await extensionMap(extensions),
  });
  await db.waitReady;
  return db;
}

/**
 * Bootstraps a database from scratch (initdb, the scripts, the owner role), checkpoints it so a
 * restore needs no recovery, and returns its data folder. A platform statement PGlite cannot run
 * (an extension it lacks) is skipped and noted, rather than keeping a second copy of the platform
 * SQL: the file is retried statement by statement and only "not available" errors are skipped.
 */
export async function bootstrapPgliteSnapshot(
  assets: PgliteAssets,
  scripts: SqlScript[],
  splitStatements: (sql: string) => string[],
): Promise<{ snapshot: Blob; notes: string[] }> {
  const db = new (await pgliteClass())({
    pgliteWasmModule: assets.wasmModule,
    fsBundle: assets.fsBundle,
    extensions: await extensionMap(["pgcrypto", "uuid-ossp"]),
  });
  const notes: string[] = [];
  try {
    await db.waitReady;
    await db.exec(
      `create role ${SHADOW_OWNER} nologin; ` +
        `alter database postgres owner to ${SHADOW_OWNER}`,
    );
    for (const script of scripts) {
      try {
        await db.exec(script.sql);
      } catch {
        for (const statement of splitStatements(script.sql)) {
          try {
            await db.exec(statement);
          } catch (e) {
            const facts = sqlErrorFacts(e);
            if (facts.code !== "0A000" && facts.code !== "58P01") {
              throw new Error(`shadow bootstrap: ${script.name} failed: ${facts.message}`);
            }
            notes.push(`${script.name}: skipped on PGlite (${facts.message})`);
          }
        }
      }
    }
    await db.exec("checkpoint");
    return { snapshot: await db.dumpDataDir("none"), notes };
  } finally {
    await db.close();
  }
}

/** The session operations on one PGlite instance (the owner role is set on start). */
export class PgliteSessionCore {
  readonly #db: PGlite;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  /** Wraps `db`, switching its session to the owner role. */
  static async start(db: PGlite): Promise<PgliteSessionCore> {
    await db.exec(
      `set role ${SHADOW_OWNER}; set search_path = "$user", public, extensions`,
    );
    return new PgliteSessionCore(db);
  }

  async exec(sql: string): Promise<StatementResult> {
    try {
      const results = await this.#db.exec(sql);
      const last = results.at(-1);
      const rows = plainRows(last?.rows ?? []);
      return { rows, rowCount: last?.affectedRows ?? rows.length };
    } catch (e) {
      throw new ShadowSqlError(sqlErrorFacts(e));
    }
  }

  async query(sql: string, params: unknown[] = []): Promise<StatementResult> {
    try {
      const r = await this.#db.query<Record<string, unknown>>(sql, params);
      const rows = plainRows(r.rows);
      return { rows, rowCount: r.affectedRows ?? rows.length };
    } catch (e) {
      throw new ShadowSqlError(sqlErrorFacts(e));
    }
  }

  async queryAs(
    identity: Identity,
    sql: string,
    params: unknown[],
    keep: boolean,
  ): Promise<StatementResult> {
    await this.exec(enterIdentity(identity));
    try {
      const result = await this.query(sql, params);
      await this.exec(keep ? KEEP_AND_LEAVE : UNDO_AND_LEAVE);
      return result;
    } catch (e) {
      await this.exec(UNDO_AND_LEAVE).catch(() => {});
      throw e;
    }
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}
