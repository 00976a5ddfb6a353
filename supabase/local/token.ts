/**
 * `deno task token`: prints a JWT for calling the local stack, signed with `JWT_SECRET` (else the
 * CLI's local secret). A user token stands in for what Supabase Auth would issue after sign-in; an
 * email gives the same user id every time, so the same person owns the same rows across restarts.
 * `--role anon|service_role` prints the stack's stable API key instead.
 *
 * A user token is only good for a user that exists: on Supabase, Auth creates users at sign-up;
 * here the helper inserts the user into the local `auth.users` (as `bt --user` does), so the token
 * it prints can submit runs at once. When the local database is not reachable it says so on
 * standard error and still prints the token (the API answers 403 `user_not_found` until the user
 * exists).
 *
 * ```sh
 * deno task token --user you@example.com
 * deno task token --user 6f1c…-uuid --expires 600
 * deno task token --role service_role
 * ```
 */
import { parseArgs } from "node:util";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
// The file rather than shared/cli/mod.ts: this script needs the user rule, not the whole CLI.
import { localDatabaseUrl, parseLocalUser, userIdForEmail } from "../../shared/cli/local_stack.ts";
import { ensureLocalUser } from "../../shared/cli/local_user.ts";
import { connect } from "../../shared/db/mod.ts";

/** The stable user id of an email, shared with `bt --user` (see `shared/cli/local_stack.ts`). */
export { userIdForEmail };

/** What to mint. */
export type TokenRequest =
  | { role: "authenticated"; sub: string; email?: string; expiresIn: number }
  | { role: "anon" | "service_role" };

/** A command line that cannot be understood; the CLI exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The CLI's help text. */
export const USAGE = `usage: deno task token --user <uuid|email> [--expires <seconds>]
       deno task token --role anon|service_role

  --user      the user's id, or an email (mapped to a stable id and set as the email claim)
  --expires   lifetime of a user token in seconds (default 3600)
  --role      authenticated (default), or anon / service_role to print that API key`;

const ROLES = ["authenticated", "anon", "service_role"] as const;

/**
 * Parses the CLI's arguments, throwing {@link UsageError} for anything it does not understand.
 *
 * @example
 * ```ts
 * parseTokenArgs(["--user", "ada@example.com"]);
 * // { role: "authenticated", sub: userIdForEmail("ada@example.com"), email: "ada@example.com", expiresIn: 3600 }
 * ```
 */
export function parseTokenArgs(args: readonly string[]): TokenRequest {
  let values: { user?: string; expires?: string; role?: string };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        user: { type: "string" },
        expires: { type: "string" },
        role: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const role = values.role ?? "authenticated";
  if (!isRole(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
  if (role !== "authenticated") {
    if (values.user !== undefined || values.expires !== undefined) {
      throw new UsageError(`--role ${role} prints the API key; --user and --expires do not apply`);
    }
    return { role };
  }
  if (!values.user) throw new UsageError("--user is required");
  const expiresIn = values.expires === undefined ? 3600 : Number(values.expires);
  if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
    throw new UsageError("--expires must be a positive whole number of seconds");
  }
  const user = parseLocalUser(values.user);
  if (!user) throw new UsageError(`--user must be a UUID or an email, got "${values.user}"`);
  return { role, ...user, expiresIn };
}

/** The token for a request: a fresh user token, or the stable API key of the role. */
export async function tokenFor(request: TokenRequest, secret: string): Promise<string> {
  if (request.role === "authenticated") {
    return await mintUserToken(secret, {
      sub: request.sub,
      email: request.email,
      expiresIn: request.expiresIn,
    });
  }
  const keys = await apiKeys(secret);
  return request.role === "anon" ? keys.anon : keys.serviceRole;
}

function isRole(role: string): role is (typeof ROLES)[number] {
  return (ROLES as readonly string[]).includes(role);
}

/**
 * Inserts the token's user into the local `auth.users` (nothing when it is there). Returns why it
 * could not, or `undefined` when the user exists.
 */
export async function ensureTokenUser(
  request: Extract<TokenRequest, { role: "authenticated" }>,
  dbUrl: string = localDatabaseUrl(),
): Promise<string | undefined> {
  const sql = connect(dbUrl, { max: 1, applicationName: "backend-team token" });
  try {
    await ensureLocalUser(sql, { id: request.sub, email: request.email });
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

if (import.meta.main) {
  try {
    const request = parseTokenArgs(Deno.args);
    if (request.role === "authenticated") {
      const problem = await ensureTokenUser(request);
      if (problem) {
        console.error(
          `note: the user was not created in the local auth.users (${problem}); start the stack ` +
            "(npm run dev) and run this again, or the API answers 403 user_not_found",
        );
      }
    }
    console.log(await tokenFor(request, Deno.env.get("JWT_SECRET") || LOCAL_JWT_SECRET));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}
