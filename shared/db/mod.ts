/**
 * The Postgres adapter: postgres.js connections set up the same way everywhere (pooler-safe, quiet
 * notices), and {@link asCaller}, which runs SQL as the requesting user so that row level security,
 * not application code, decides what a tenant can see.
 *
 * @example
 * ```ts
 * const sql = connect(Deno.env.get("SUPABASE_DB_URL")!);
 * const rows = await asCaller(sql, { sub: userId, role: "authenticated" }, (tx) => tx`select 1`);
 * ```
 */
// postgres.js 3.4.9 with the connection-loss fixes in `_postgres_js/README.md`; the types are the
// pinned package's, so callers see the usual API.
// @ts-types="postgres"
import postgres from "./_postgres_js/index.js";

/** A postgres.js client. */
export type Sql = postgres.Sql;
/** A postgres.js transaction handle. */
export type TransactionSql = postgres.TransactionSql;

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Pool size (default 4, like pgflow's workers). */
  max?: number;
  /** Application name shown in `pg_stat_activity`. */
  applicationName?: string;
  /** Seconds an idle connection is kept (default 20). */
  idleTimeout?: number;
}

/**
 * Opens a pool. Prepared statements are off so the same code works through Supabase's transaction
 * pooler (port 6543) as well as on a direct connection.
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  guardLostConnections();
  return postgres(url, {
    max: options.max ?? 4,
    prepare: false,
    idle_timeout: options.idleTimeout ?? 20,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "backend-team" },
  });
}

const LOST_CONNECTION = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED"]);
let guarded = false;

/**
 * Whether `reason` is the driver's own "this connection is gone" error: a plain `Error` whose
 * `code` says so and which the vendored driver made (its stack runs through `_postgres_js/`).
 */
export function isLostConnectionRejection(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  const code = (reason as { code?: unknown }).code;
  return typeof code === "string" && LOST_CONNECTION.has(code) &&
    (reason.stack ?? "").includes("_postgres_js/");
}

/**
 * The last line of the connection-loss guard (the driver's patches are the first): when a
 * connection dies, the driver rejects every statement it had in flight, and one that nobody was
 * awaiting any more (its caller already failed on the same loss) would end a Deno process as an
 * unhandled rejection. Only that exact error is caught, and logged; anything else still ends the
 * process as it should.
 */
function guardLostConnections(): void {
  if (guarded || typeof globalThis.addEventListener !== "function") return;
  guarded = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (!isLostConnectionRejection(event.reason)) return;
    event.preventDefault();
    console.error(`database connection lost (no caller left to tell): ${event.reason.message}`);
  });
}

/** JWT claims as Supabase puts them in `request.jwt.claims`. */
export interface Claims {
  sub?: string;
  role: string;
  [claim: string]: unknown;
}

const CALLER_ROLES = new Set(["anon", "authenticated"]);

/**
 * Runs `fn` in a transaction as the caller: `set local role` to the token's role and
 * `request.jwt.claims` to its claims, exactly as PostgREST does. Only `anon` and `authenticated`
 * are accepted, so a forged role claim cannot reach `service_role` or `postgres`.
 */
export async function asCaller<T>(
  sql: Sql,
  claims: Claims,
  fn: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  const role = CALLER_ROLES.has(claims.role) ? claims.role : "anon";
  const result = await sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true),
                    set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    return await fn(tx);
  });
  return result as T;
}
