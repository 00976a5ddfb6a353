/**
 * Where the API is and who is calling, from the environment and the auth flags: the same
 * `SUPABASE_URL` / `SUPABASE_ANON_KEY` an app uses (defaulting to the local stack and its key),
 * and the user's access token from `--token`, `BT_ACCESS_TOKEN`, or `--user` (a local token for a
 * local user). Resolved once per command, before any request.
 *
 * @example
 * ```ts
 * const connection = await resolveConnection({ user: "ada@example.com" });
 * const api = createRunsApi(connection);
 * ```
 */
import { apiKeys, LOCAL_JWT_SECRET } from "../auth/mod.ts";
import { AppError } from "../errors/mod.ts";
import type { AuthFlags } from "./args.ts";
import { localUser } from "./local_user.ts";

/** The local stack's API URL, as `supabase start` uses. */
export const DEFAULT_SUPABASE_URL = "http://127.0.0.1:54321";

/** How to reach the API as the user. */
export interface Connection {
  /** The project URL (`SUPABASE_URL`), without a trailing slash. */
  url: string;
  /** The project's anon (publishable) key. */
  anonKey: string;
  /** The user's access token. */
  token: string;
}

/** Environment variables the CLI reads. */
export type CliEnv = Record<string, string | undefined>;

/** The project URL and anon key from `env`, defaulting to the local stack. */
export async function resolveProject(env: CliEnv): Promise<{ url: string; anonKey: string }> {
  const url = (env.SUPABASE_URL || DEFAULT_SUPABASE_URL).replace(/\/+$/, "");
  try {
    new URL(url);
  } catch {
    throw new AppError("config_missing", `SUPABASE_URL is not a URL: "${url}"`);
  }
  const anonKey = env.SUPABASE_ANON_KEY ||
    (await apiKeys(env.JWT_SECRET || env.LOCAL_JWT_SECRET || LOCAL_JWT_SECRET)).anon;
  return { url, anonKey };
}

/**
 * The connection for a command: `--token` first, then `--user` (minting a local token and
 * creating the local user), then `BT_ACCESS_TOKEN`. Without any, `unauthorized` says what to set.
 */
export async function resolveConnection(
  auth: AuthFlags,
  env: CliEnv = Deno.env.toObject(),
): Promise<Connection> {
  const project = await resolveProject(env);
  if (auth.token) return { ...project, token: auth.token };
  if (auth.user) {
    const user = await localUser({
      user: auth.user,
      dbUrl: env.DATABASE_URL || undefined,
      jwtSecret: env.JWT_SECRET || env.LOCAL_JWT_SECRET || LOCAL_JWT_SECRET,
    });
    return { ...project, token: user.token };
  }
  if (env.BT_ACCESS_TOKEN) return { ...project, token: env.BT_ACCESS_TOKEN };
  throw new AppError(
    "unauthorized",
    "no access token: set BT_ACCESS_TOKEN, pass --token TOKEN, or (local stack) --user <email>",
  );
}
