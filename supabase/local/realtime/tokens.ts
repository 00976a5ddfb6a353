/**
 * Token checks with Supabase Realtime's outcomes: a channel token must be a JWT signed with the
 * project secret, unexpired, and carry `role` and `exp` (Realtime schedules the channel's close at
 * `exp`). Failures carry the reason text Realtime puts in a join error or a `system` message, so a
 * client sees the same words locally as on the platform.
 *
 * @example
 * ```ts
 * const checked = await checkToken(secret, token);
 * if (!checked.ok) console.log(checked.reason); // "InvalidJWTToken: Token has expired 3 seconds ago"
 * ```
 */
import { decode, verify } from "hono/jwt";
import { Claims } from "../../../shared/auth/mod.ts";

/** Claims of a token that passed {@link checkToken}; `exp` is always present. */
export type ChannelClaims = Claims & { exp: number };

/**
 * The result of {@link checkToken}. A failure has Realtime's error code and message; a join error
 * reads `"<code>: <message>"`, a channel shut down later gets the message alone.
 */
export type TokenCheck =
  | { ok: true; claims: ChannelClaims }
  | { ok: false; code: string; message: string; reason: string };

const fail = (code: string, message: string): TokenCheck => ({
  ok: false,
  code,
  message,
  reason: `${code}: ${message}`,
});

/** Verifies a channel token (HS256 with `secret`) and returns its claims or Realtime's reason. */
export async function checkToken(
  secret: string,
  token: string,
  now = Date.now(),
): Promise<TokenCheck> {
  let unverified: Record<string, unknown>;
  try {
    unverified = decode(token).payload as Record<string, unknown>;
  } catch {
    return fail("MalformedJWT", "The token provided is not a valid JWT");
  }
  try {
    await verify(token, secret, { alg: "HS256", exp: false });
  } catch (e) {
    if (e instanceof Error && e.name === "JwtTokenSignatureMismatched") {
      return fail("JwtSignatureError", "Failed to validate JWT signature");
    }
    return fail("InvalidJWTToken", e instanceof Error ? e.message : String(e));
  }
  const parsed = Claims.safeParse(unverified);
  if (!parsed.success || typeof parsed.data.exp !== "number") {
    return fail("InvalidJWTToken", "Fields `role` and `exp` are required in JWT");
  }
  const claims = parsed.data as ChannelClaims;
  const secondsLeft = claims.exp - Math.floor(now / 1000);
  if (secondsLeft <= 0) {
    return fail("InvalidJWTToken", `Token has expired ${-secondsLeft} seconds ago`);
  }
  return { ok: true, claims };
}
