/**
 * The database the merged deliverable is validated on: a fresh, disposable database holding only
 * the Supabase platform SQL (roles, `auth`, `realtime`) and pgTAP — never the product database,
 * since the SQL comes from an LLM. The port is deliberately small (run SQL text, run one query) so
 * a PostgreSQL cluster, PGlite or the shared shadow validator's backends can all stand behind it.
 *
 * @example
 * ```ts
 * const report = await shadow.withDatabase(async (db) => {
 *   await db.exec("create table t (id int primary key)");
 *   return await db.query<{ n: number }>("select count(*)::int as n from t");
 * });
 * ```
 */

/** A row as the database returned it. */
export type Row = Record<string, unknown>;

/** One connection to a fresh shadow database. */
export interface ShadowSession {
  /** Runs SQL text of any number of statements in one round trip; every row of every statement. */
  exec(sql: string): Promise<Row[]>;
  /** Runs one statement with `$1`-style parameters. */
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Where fresh shadow databases come from. */
export interface DeliveryShadow {
  /** Names the backend in evidence, e.g. `postgresql` or `pglite`. */
  readonly backend: string;
  /**
   * Runs `fn` on one connection to a fresh database with the platform SQL and the `pgtap`
   * extension, and disposes of the database afterwards (also when `fn` throws).
   */
  withDatabase<T>(fn: (db: ShadowSession) => Promise<T>): Promise<T>;
}

/** What a database error says, whichever driver raised it. */
export interface SqlErrorFacts {
  message: string;
  /** SQLSTATE, e.g. `23514`. */
  code: string | null;
  constraint: string | null;
  column: string | null;
  /** 1-based character position in the statement, when Postgres gave one. */
  position: number | null;
}

/** Reads the facts of a postgres.js or PGlite error (or anything else thrown). */
export function sqlErrorFacts(e: unknown): SqlErrorFacts {
  const o = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  const position = Number(o.position);
  return {
    message: e instanceof Error ? e.message : String(e),
    code: text(o.code),
    constraint: text(o.constraint_name) ?? text(o.constraint),
    column: text(o.column_name) ?? text(o.column),
    position: Number.isFinite(position) && position > 0 ? position : null,
  };
}
