import assert from "node:assert/strict";
import { apiKeys, bearerToken, LOCAL_JWT_SECRET, mintUserToken, verifyToken } from "./mod.ts";
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
