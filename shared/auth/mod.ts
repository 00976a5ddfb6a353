/**
 * Tokens as Supabase issues them: HS256 JWTs with `role`, `sub`, `aud`, `exp`. Locally every key
 * (anon, service_role, user tokens) is signed with one secret, like `supabase start` does; in
 * production the platform signs user tokens and functions receive the keys in their environment.
 *
 * @example
 * ```ts
 * const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
 * const claims = await verifyToken(LOCAL_JWT_SECRET, token);
 * ```
 */
import { sign, verify } from "hono/jwt";
import { z } from "zod";
import { AppError } from "../errors/mod.ts";

/** The JWT secret of the Supabase CLI's local stack; ours uses it too unless `JWT_SECRET` is set. */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** Claims the product relies on; anything else is kept as-is. */
export const Claims = z.looseObject({
  role: z.string(),
  sub: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number().optional(),
  iat: z.number().optional(),
  email: z.string().optional(),
});
export type Claims = z.infer<typeof Claims>;

// Same fixed expiry as the CLI's demo keys, so keys stay stable across restarts.
const KEY_EXPIRY = 1983812996;

/** The anon and service_role API keys for a secret (JWTs, as Supabase's legacy keys are). */
export async function apiKeys(secret: string): Promise<{ anon: string; serviceRole: string }> {
  return {
    anon: await sign({ iss: "supabase-demo", role: "anon", exp: KEY_EXPIRY }, secret, "HS256"),
    serviceRole: await sign(
      { iss: "supabase-demo", role: "service_role", exp: KEY_EXPIRY },
      secret,
      "HS256",
    ),
  };
}

/** Options for {@link mintUserToken}. */
export interface UserTokenOptions {
  sub: string;
  email?: string;
  /** Lifetime in seconds (default one hour). */
  expiresIn?: number;
  /** Extra claims (e.g. `app_metadata`). */
  extra?: Record<string, unknown>;
}

/** Signs an `authenticated` user token like Supabase Auth's access tokens. */
export function mintUserToken(secret: string, options: UserTokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    {
      iss: "supabase-local",
      aud: "authenticated",
      role: "authenticated",
      sub: options.sub,
      ...(options.email ? { email: options.email } : {}),
      iat: now,
      exp: now + (options.expiresIn ?? 3600),
      ...options.extra,
    },
    secret,
    "HS256",
  );
}

/** Verifies a token's signature and expiry and returns its claims, or throws `unauthorized`. */
export async function verifyToken(secret: string, token: string): Promise<Claims> {
  try {
    const payload = await verify(token, secret, "HS256");
    return Claims.parse(payload);
  } catch (e) {
    throw new AppError("unauthorized", "invalid or expired token", undefined, { cause: e });
  }
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return m?.[1];
}
