/**
 * Tokens as Supabase issues them: HS256 JWTs with `role`, `sub`, `aud`, `exp`. Locally every key
 * (anon, service_role, user tokens) is signed with one secret, like `supabase start` does; in
 * production the platform signs user tokens and functions receive the keys in their environment.
 * Every token must carry `exp` (one without it would never expire); user tokens must also name
 * the expected audience (`authenticated` unless configured otherwise).
 *
 * @example
 * ```ts
 * const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
 * const claims = await verifyToken(LOCAL_JWT_SECRET, token, { audience: DEFAULT_AUDIENCE });
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

/** The audience user tokens must name: Supabase Auth issues its access tokens for this one. */
export const DEFAULT_AUDIENCE = "authenticated";

/** What {@link verifyToken} and {@link checkClaims} require beyond a valid signature. */
export interface ClaimRules {
  /**
   * An audience the token's `aud` must name (a string, or one entry of a list, per RFC 7519
   * §4.1.3). Unset: `aud` is not looked at — the API keys carry none, and the functions gateway
   * accepts them.
   */
  audience?: string;
}

/**
 * Checks verified claims against the product's rules: `exp` must be present (a token without it
 * would be good forever; a past one was already refused with the signature) and, when asked, `aud`
 * must name `rules.audience`. Throws `unauthorized`.
 *
 * @example
 * ```ts
 * const claims = checkClaims(await verifyWithJwks(token, options), { audience: DEFAULT_AUDIENCE });
 * ```
 */
export function checkClaims(payload: unknown, rules: ClaimRules = {}): Claims {
  const parsed = Claims.safeParse(payload);
  if (!parsed.success) throw unauthorized(parsed.error);
  const claims = parsed.data;
  if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) {
    throw unauthorized(new Error("the token has no exp claim"));
  }
  if (rules.audience !== undefined) {
    const audiences = claims.aud === undefined ? [] : [claims.aud].flat();
    if (!audiences.includes(rules.audience)) {
      throw unauthorized(new Error(`the token is not for audience ${rules.audience}`));
    }
  }
  return claims;
}

function unauthorized(cause: unknown): AppError {
  return new AppError("unauthorized", "invalid or expired token", undefined, { cause });
}

/**
 * Verifies a token's signature and expiry, requires `exp` (and `aud`, see {@link ClaimRules}) and
 * returns its claims, or throws `unauthorized`.
 */
export async function verifyToken(
  secret: string,
  token: string,
  rules: ClaimRules = {},
): Promise<Claims> {
  let payload: unknown;
  try {
    payload = await verify(token, secret, "HS256");
  } catch (e) {
    throw unauthorized(e);
  }
  return checkClaims(payload, rules);
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return m?.[1];
}
