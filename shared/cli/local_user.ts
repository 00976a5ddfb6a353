/**
 * Users of the local stack. On Supabase, users exist because they signed up through Auth; the
 * local stack has no Auth server, only a minimal `auth.users` table, and `runs.owner_id` refers to
 * it. So whoever mints a local user token (the demo, `bt --user`, `bt login`) also makes sure that
 * user's row exists. An email always maps to the same id (`userIdForEmail` in `local_stack.ts`), so
 * the same person owns the same runs across restarts.
 *
 * @example
 * ```ts
 * const user = await localUser({ user: "ada@example.com", dbUrl, jwtSecret });
 * user.token; // a signed-in user's access token for the local stack
 * ```
 */
import { LOCAL_JWT_SECRET, mintUserToken } from "../auth/mod.ts";
import { connect, type Sql } from "../db/mod.ts";
import { AppError } from "../errors/mod.ts";
import { UsageError } from "./args.ts";
import { localDatabaseUrl, parseLocalUser } from "./local_stack.ts";

/** A local user with a fresh access token. */
export interface LocalUser {
  id: string;
  email?: string;
  token: string;
}

/** What {@link localUser} needs. */
export interface LocalUserOptions {
  /** An email (mapped to a stable id) or a user id. */
  user: string;
  /** The local database (default `DATABASE_URL`, else the local cluster). */
  dbUrl?: string;
  /** Secret the stack verifies tokens with (default `JWT_SECRET`, else the local secret). */
  jwtSecret?: string;
  /** Token lifetime in seconds (default 3600). */
  expiresIn?: number;
}

/** Inserts the user into `auth.users` unless a row with that id is there already. */
export async function ensureLocalUser(sql: Sql, user: { id: string; email?: string }) {
  await sql`
    insert into auth.users (id, email, email_confirmed_at)
    values (${user.id}, ${user.email ?? null}, now())
    on conflict (id) do nothing`;
}

/**
 * Makes sure the user exists in the local database and mints their access token. Throws
 * `UsageError` for a user that is neither an email nor a UUID, and `upstream_unavailable` when the
 * database cannot be reached (the stack is not running).
 */
export async function localUser(options: LocalUserOptions): Promise<LocalUser> {
  const user = parseLocalUser(options.user);
  if (!user) throw new UsageError(`--user must be a UUID or an email, got "${options.user}"`);
  const dbUrl = options.dbUrl ?? localDatabaseUrl();
  const sql = connect(dbUrl, { max: 1, applicationName: "backend-team cli" });
  try {
    await ensureLocalUser(sql, { id: user.sub, email: user.email });
  } catch (e) {
    throw new AppError(
      "upstream_unavailable",
      `cannot create the local user in ${redact(dbUrl)}: ${(e as Error).message} ` +
        "(--user works against the local stack only: start it with `npm run dev`, or set DATABASE_URL)",
      undefined,
      { cause: e },
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
  const token = await mintUserToken(
    options.jwtSecret ?? (Deno.env.get("JWT_SECRET") || LOCAL_JWT_SECRET),
    { sub: user.sub, email: user.email, expiresIn: options.expiresIn ?? 3600 },
  );
  return { id: user.sub, email: user.email, token };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "the database";
  }
}
