/**
 * Who is calling: the bearer token is verified (HS256 with the project's JWT secret, or an
 * asymmetric key from the project's JWKS as Supabase's newer signing keys use), must carry `exp`
 * and name the expected audience in `aud` (`authenticated`, Supabase Auth's, unless configured —
 * `BT_JWT_AUDIENCE`), and must belong to a signed-in user — role `authenticated` with a UUID `sub`.
 * The anon key, the service role key and anything unsigned, expired, without `exp` or for another
 * audience are a 401. The claims go into the Hono context for the handlers,
 * which pass them to `asCaller` so row level security sees the same user.
 *
 * @example
 * ```ts
 * const verify = createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET });
 * app.use("/runs/*", requireUser(verify));
 * app.get("/runs", (c) => c.json(c.get("claims")));
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { decode, verifyWithJwks } from "hono/jwt";
import { z } from "zod";
import {
  bearerToken,
  checkClaims,
  type Claims,
  DEFAULT_AUDIENCE,
  verifyToken,
} from "../auth/mod.ts";
import { AppError } from "../errors/mod.ts";

/** A JSON Web Key as Hono's verifier takes it. */
export type Jwk = NonNullable<Parameters<typeof verifyWithJwks>[1]["keys"]>[number];

/** Checks a token and returns its claims, or throws 401 `unauthorized`. */
export type TokenVerifier = (token: string) => Promise<Claims>;

/** Claims of a signed-in user. */
export type UserClaims = Claims & { role: "authenticated"; sub: string };

/** Hono environment of routes behind {@link requireUser}. */
export interface UserEnv {
  Variables: { claims: UserClaims };
}

/** Keys accepted for verification (at least one of them) and the audience tokens must name. */
export interface VerifierKeys {
  /** Secret of HS256 tokens (Supabase's legacy JWT secret; the local stack's). */
  jwtSecret?: string;
  /** Public keys for asymmetric tokens (Supabase's `SUPABASE_JWKS`). */
  jwks?: Jwk[];
  /** The `aud` tokens must name (default `authenticated`; `BT_JWT_AUDIENCE`). */
  audience?: string;
}

const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

function unauthorized(message: string, cause?: unknown): AppError {
  return new AppError("unauthorized", message, undefined, cause ? { cause } : undefined);
}

/**
 * A verifier for `keys`. HS* tokens need the secret, other algorithms a key in the JWKS with the
 * token's `kid`. Either way the token must carry `exp` and name `keys.audience` (default
 * `authenticated`). Throws `config_missing` (naming `JWT_SECRET`) when given neither key.
 *
 * @example
 * ```ts
 * const verify = createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET, audience: "authenticated" });
 * const claims = await verify(token); // or 401 unauthorized
 * ```
 */
export function createTokenVerifier(keys: VerifierKeys): TokenVerifier {
  const jwks = keys.jwks?.length ? keys.jwks : undefined;
  const rules = { audience: keys.audience ?? DEFAULT_AUDIENCE };
  if (!keys.jwtSecret && !jwks) {
    throw new AppError(
      "config_missing",
      "configuration error: JWT_SECRET is not set (nor SUPABASE_JWKS)",
      { variables: ["JWT_SECRET"] },
    );
  }
  return async (token) => {
    let alg: unknown;
    try {
      alg = decode(token).header.alg;
    } catch (e) {
      throw unauthorized("invalid or expired token", e);
    }
    if (typeof alg === "string" && alg.startsWith("HS")) {
      if (!keys.jwtSecret) throw unauthorized("invalid or expired token");
      return await verifyToken(keys.jwtSecret, token, rules);
    }
    if (!jwks) throw unauthorized("invalid or expired token");
    let payload: unknown;
    try {
      payload = await verifyWithJwks(token, { keys: jwks, allowedAlgorithms: ASYMMETRIC });
    } catch (e) {
      throw unauthorized("invalid or expired token", e);
    }
    return checkClaims(payload, rules);
  };
}

/** Reads `SUPABASE_JWKS` (`{"keys":[...]}` or a bare array); malformed text is `config_missing`. */
export function parseJwks(text: string): Jwk[] {
  const JwkList = z.array(z.looseObject({ kty: z.string() }));
  try {
    const value: unknown = JSON.parse(text);
    const list = Array.isArray(value) ? value : (value as { keys?: unknown })?.keys;
    return JwkList.parse(list) as Jwk[];
  } catch (e) {
    throw new AppError(
      "config_missing",
      "configuration error: SUPABASE_JWKS is not a JSON Web Key Set",
      { variables: ["SUPABASE_JWKS"] },
      { cause: e },
    );
  }
}

const UserSub = z.guid();

/** Middleware admitting only signed-in users and putting their claims in `c.get("claims")`. */
export function requireUser(verify: TokenVerifier): MiddlewareHandler<UserEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw unauthorized("a bearer token is required");
    const claims = await verify(token);
    if (claims.role !== "authenticated" || !UserSub.safeParse(claims.sub).success) {
      throw unauthorized("a signed-in user's token is required");
    }
    c.set("claims", claims as UserClaims);
    await next();
  };
}
