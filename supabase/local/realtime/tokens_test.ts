import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../../shared/auth/mod.ts";
import { checkToken } from "./tokens.ts";

const SECRET = LOCAL_JWT_SECRET;

Deno.test("user tokens and the API keys pass with their claims", async () => {
  const sub = crypto.randomUUID();
  const user = await checkToken(SECRET, await mintUserToken(SECRET, { sub }));
  assert.ok(user.ok);
  assert.equal(user.claims.sub, sub);
  assert.equal(user.claims.role, "authenticated");
  const anon = await checkToken(SECRET, (await apiKeys(SECRET)).anon);
  assert.ok(anon.ok && anon.claims.role === "anon");
});

Deno.test("an expired token fails with Realtime's expiry message", async () => {
  const token = await mintUserToken(SECRET, { sub: "u", expiresIn: 60 });
  const later = Date.now() + 65_000;
  const checked = await checkToken(SECRET, token, later);
  assert.ok(!checked.ok);
  assert.equal(checked.code, "InvalidJWTToken");
  assert.match(checked.message, /^Token has expired [4-6] seconds ago$/);
  assert.equal(checked.reason, `InvalidJWTToken: ${checked.message}`);
});

Deno.test("forged, malformed and exp-less tokens fail with Realtime's reasons", async () => {
  const forged = await mintUserToken("another-secret-another-secret-another-secret", { sub: "u" });
  assert.deepEqual(await checkToken(SECRET, forged), {
    ok: false,
    code: "JwtSignatureError",
    message: "Failed to validate JWT signature",
    reason: "JwtSignatureError: Failed to validate JWT signature",
  });
  const malformed = await checkToken(SECRET, "not-a-jwt");
  assert.ok(
    !malformed.ok && malformed.reason === "MalformedJWT: The token provided is not a valid JWT",
  );
  const noExp = await sign({ role: "authenticated", sub: "u" }, SECRET, "HS256");
  const checked = await checkToken(SECRET, noExp);
  assert.ok(!checked.ok);
  assert.equal(checked.reason, "InvalidJWTToken: Fields `role` and `exp` are required in JWT");
  const noRole = await sign({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET, "HS256");
  assert.equal((await checkToken(SECRET, noRole)).ok, false);
});
