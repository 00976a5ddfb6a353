import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import {
  apiKeys,
  bearerToken,
  checkClaims,
  DEFAULT_AUDIENCE,
  LOCAL_JWT_SECRET,
  mintUserToken,
  verifyToken,
} from "./mod.ts";
import { isAppError } from "../errors/mod.ts";

Deno.test("a minted user token verifies to the user's claims", async () => {
  const sub = crypto.randomUUID();
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub, email: "a@example.com" });
  const claims = await verifyToken(LOCAL_JWT_SECRET, token);
  assert.equal(claims.sub, sub);
  assert.equal(claims.role, "authenticated");
  assert.equal(claims.email, "a@example.com");
});

Deno.test("a token signed with another secret or expired is unauthorized", async () => {
  const other = await mintUserToken("another-secret-another-secret-another-secret", { sub: "x" });
  await assert.rejects(verifyToken(LOCAL_JWT_SECRET, other), (e) => isAppError(e, "unauthorized"));
  const expired = await mintUserToken(LOCAL_JWT_SECRET, { sub: "x", expiresIn: -10 });
  await assert.rejects(
    verifyToken(LOCAL_JWT_SECRET, expired),
    (e) => isAppError(e, "unauthorized"),
  );
});

Deno.test("api keys are stable JWTs carrying their role", async () => {
  const a = await apiKeys(LOCAL_JWT_SECRET);
  const b = await apiKeys(LOCAL_JWT_SECRET);
  assert.equal(a.anon, b.anon);
  assert.equal((await verifyToken(LOCAL_JWT_SECRET, a.anon)).role, "anon");
  assert.equal((await verifyToken(LOCAL_JWT_SECRET, a.serviceRole)).role, "service_role");
});

Deno.test("bearerToken reads only well-formed Authorization headers", () => {
  assert.equal(bearerToken("Bearer abc.def"), "abc.def");
  assert.equal(bearerToken("bearer abc"), "abc");
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken(null), undefined);
});

Deno.test("a token without exp is refused, whatever else it carries", async () => {
  const forever = await sign(
    { aud: "authenticated", role: "authenticated", sub: "x" },
    LOCAL_JWT_SECRET,
    "HS256",
  );
  await assert.rejects(
    verifyToken(LOCAL_JWT_SECRET, forever),
    (e) => isAppError(e, "unauthorized"),
  );
  const textExp = await sign(
    { role: "anon", exp: "2999999999" as unknown as number },
    LOCAL_JWT_SECRET,
    "HS256",
  );
  await assert.rejects(
    verifyToken(LOCAL_JWT_SECRET, textExp),
    (e) => isAppError(e, "unauthorized"),
  );
});

Deno.test("with an audience, aud must name it (a string or one entry of a list)", async () => {
  const rules = { audience: DEFAULT_AUDIENCE };
  const user = await mintUserToken(LOCAL_JWT_SECRET, { sub: "x" });
  assert.equal((await verifyToken(LOCAL_JWT_SECRET, user, rules)).aud, "authenticated");
  const exp = Math.floor(Date.now() / 1000) + 60;
  assert.ok(checkClaims({ role: "authenticated", exp, aud: ["a", "authenticated"] }, rules));
  for (const aud of [undefined, "other", ["a", "b"], []]) {
    assert.throws(
      () => checkClaims({ role: "authenticated", exp, ...(aud ? { aud } : {}) }, rules),
      (e) => isAppError(e, "unauthorized"),
      JSON.stringify(aud),
    );
  }
  // The API keys carry no aud: they verify where no audience is asked for (the gateway).
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  await assert.rejects(verifyToken(LOCAL_JWT_SECRET, keys.anon, rules));
  assert.equal((await verifyToken(LOCAL_JWT_SECRET, keys.anon)).role, "anon");
});
