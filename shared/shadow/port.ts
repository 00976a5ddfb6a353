/**
 * The port every shadow database backend implements. Untrusted SQL (an LLM's or a user's) runs
 * only behind it: a disposable database per validation, owned by an unprivileged role, with the
 * Supabase platform SQL in place, so the checks see what Supabase would do without the product
 * database ever being reachable. The validator depends on this interface, never on a backend.
 *
 * @example
 * ```ts
 * const shadow = await openShadow({ backend: "pglite" });
 * await using session = await shadow.open();
 * await session.exec("create table public.t (id bigint primary key)");
 * const rows = await session.query<{ n: number }>("select count(*)::int as n from public.t");
 * ```
 */

/** A row as the shadow returned it (JSON-safe values). */
export type Row = Record<string, unknown>;

/** Which backend a shadow is. */
export type ShadowBackend = "pglite" | "postgres";

/** Roles a statement can be run as, besides the owner (Supabase's API roles). */
export type ApiRole = "anon" | "authenticated" | "service_role";

/**
 * Who runs a statement: Supabase's API role plus the JWT claims PostgREST would put in
 * `request.jwt.claims`, so `auth.uid()` and row level security behave as for that caller.
 */
export interface Identity {
  role: ApiRole;
  claims: Record<string, unknown>;
}

/** Options of one call. */
export interface RunOptions {
  /** Longest the statement may run, in ms (default: the shadow's statement timeout). */
  timeoutMs?: number;
  /**
   * The text is fixed and trusted (the validator's own, never SQL a user or model wrote) and run
   * in every validation: the PostgreSQL shadow runs it ahead on the sessions it keeps ready, so
   * the catalog caches it reads are warm before a validation starts. It is never kept as a named
   * prepared statement (the migrations share the session and could replace one). Ignored by
   * PGlite.
   */
  prepare?: boolean;
}

/** The result of one statement. */
export interface StatementResult {
  /** The statement's rows (empty for commands). */
  rows: Row[];
  /** Rows changed by an INSERT/UPDATE/DELETE, or returned by a SELECT. */
  rowCount: number;
}

/** One connection to one fresh shadow database. Closing it disposes of the database. */
export interface ShadowSession {
  /** The backend behind this session. */
  readonly backend: ShadowBackend;
  /**
   * Runs SQL text (one or more statements) as the owner role, in one round trip; the rows of the
   * last statement. Throws {@link ShadowSqlError} when Postgres refuses it and
   * {@link ShadowTimeoutError} when it outlives its timeout (the session is then closed).
   */
  exec(sql: string, options?: RunOptions): Promise<StatementResult>;
  /** Runs one statement with `$1`-style parameters as the owner role; its rows. */
  query<T extends Row = Row>(sql: string, params?: unknown[], options?: RunOptions): Promise<T[]>;
  /**
   * Runs one statement as `identity` inside a savepoint of the current transaction, the way
   * PostgREST runs a request: `set local role` and `request.jwt.claims`. The role reverts to the
   * owner afterwards; `keep: false` also undoes the statement's effects.
   */
  queryAs(
    identity: Identity,
    sql: string,
    params?: unknown[],
    options?: RunOptions & { keep?: boolean },
  ): Promise<StatementResult>;
  /**
   * A connection URL of this session's own database and login role, for code the validation
   * runs beside the SQL (a delivered edge function, a shadow Realtime server), allowing up to
   * `connections` connections of that role in all. Absent where the backend has no server to
   * connect to (PGlite).
   */
  connectionUrl?(connections?: number): Promise<string>;
  /** Whether the session can still be used (false after a timeout or a crash). */
  readonly alive: boolean;
  /** Closes the connection and drops the database. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a session should have available, decided from the SQL before it runs. */
export interface OpenOptions {
  /**
   * Extensions the SQL creates or uses (e.g. `pgcrypto`, `pg_trgm`). PGlite loads extension code
   * only when asked, so a session without them starts faster; PostgreSQL ignores this.
   */
  extensions?: string[];
}

/** A source of fresh shadow databases. */
export interface ShadowDatabase {
  readonly backend: ShadowBackend;
  /** A fresh database with the platform SQL, as a session of the unprivileged owner role. */
  open(options?: OpenOptions): Promise<ShadowSession>;
  /** Notes from bootstrapping (e.g. a platform statement a backend cannot run and skipped). */
  readonly notes: readonly string[];
  /** Stops every process and drops every database this shadow made. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Facts of an error Postgres raised in the shadow. */
export interface SqlErrorFacts {
  message: string;
  /** SQLSTATE, e.g. `42P01`. */
  code?: string;
  /** 1-based character position in the statement, when Postgres gave one. */
  position?: number;
  detail?: string;
  hint?: string;
  /** Context lines (e.g. the PL/pgSQL function and line) when the error came from inside code. */
  where?: string;
}

/** Postgres refused a statement in the shadow. */
export class ShadowSqlError extends Error implements SqlErrorFacts {
  readonly code?: string;
  readonly position?: number;
  readonly detail?: string;
  readonly hint?: string;
  readonly where?: string;

  constructor(facts: SqlErrorFacts) {
    super(facts.message);
    this.name = "ShadowSqlError";
    this.code = facts.code;
    this.position = facts.position;
    this.detail = facts.detail;
    this.hint = facts.hint;
    this.where = facts.where;
  }

  /** The facts as plain data. */
  facts(): SqlErrorFacts {
    return {
      message: this.message,
      code: this.code,
      position: this.position,
      detail: this.detail,
      hint: this.hint,
      where: this.where,
    };
  }
}

/** A statement outlived its timeout; the shadow stopped it (and the session is gone). */
export class ShadowTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`the statement was stopped after ${timeoutMs} ms (shadow statement timeout)`);
    this.name = "ShadowTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** The session was closed (by a timeout, a crash or `close()`). */
export class ShadowClosedError extends Error {
  constructor(reason = "the shadow session is closed") {
    super(reason);
    this.name = "ShadowClosedError";
  }
}

/**
 * The validation used more than a shadow may (disk, or its total time): the shadow stopped it and
 * dropped its database.
 */
export class ShadowResourceLimitError extends Error {
  /** Which limit: `disk` or `time`. */
  readonly limit: "disk" | "time";
  constructor(limit: "disk" | "time", message: string) {
    super(message);
    this.name = "ShadowResourceLimitError";
    this.limit = limit;
  }
}
