import assert from "node:assert/strict";
import { Hono } from "hono";
import { sign } from "hono/jwt";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../auth/mod.ts";
import { isAppError } from "../errors/mod.ts";
import { createTokenVerifier, type Jwk, parseJwks, requireUser, type UserEnv } from "./auth.ts";
import { errorHandler } from "./errors.ts";

function protectedApp(verify = createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET })) {
  const app = new Hono<UserEnv>();
  app.onError(errorHandler(() => {}));
  app.use("*", requireUser(verify));
  app.get("/me", (c) => c.json({ sub: c.get("claims").sub }));
  return app;
}

Deno.test("a signed-in user's token passes and its claims reach the handler", async () => {
  const sub = crypto.randomUUID();
  const res = await protectedApp().request("/me", {
    headers: { Authorization: `Bearer ${await mintUserToken(LOCAL_JWT_SECRET, { sub })}` },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sub });
});

Deno.test("the anon and service role keys are not a user and get 401", async () => {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  for (const key of [keys.anon, keys.serviceRole]) {
    const res = await protectedApp().request("/me", {
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "unauthorized");
  }
});

async function es256Keys(kid: string): Promise<{ privateJwk: Jwk; publicJwk: Jwk }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const privateJwk = {
    ...(await crypto.subtle.exportKey("jwk", pair.privateKey)),
    kid,
    alg: "ES256",
  };
  const publicJwk = {
    ...(await crypto.subtle.exportKey("jwk", pair.publicKey)),
    kid,
    alg: "ES256",
  };
  return { privateJwk, publicJwk };
}

Deno.test("asymmetric tokens are verified with the project's JWKS (SUPABASE_JWKS)", async () => {
  const { privateJwk, publicJwk } = await es256Keys("key-1");
  const other = await es256Keys("key-1");
  const jwks = parseJwks(JSON.stringify({ keys: [publicJwk] }));
  const verify = createTokenVerifier({ jwks });
  const sub = crypto.randomUUID();
  const exp = Math.floor(Date.now() / 1000) + 60;
  const good = await sign({ role: "authenticated", sub, exp }, privateJwk, "ES256");
  assert.equal((await verify(good)).sub, sub);
  const forged = await sign({ role: "authenticated", sub, exp }, other.privateJwk, "ES256");
  await assert.rejects(verify(forged), (e) => isAppError(e, "unauthorized"));
  // Without a secret, HS256 tokens cannot be checked and are refused.
  await assert.rejects(
    verify(await mintUserToken(LOCAL_JWT_SECRET, { sub })),
    (e) => isAppError(e, "unauthorized"),
  );
});

Deno.test("a verifier needs a secret or keys, and says JWT_SECRET is missing", () => {
  assert.throws(
    () => createTokenVerifier({}),
    (e) => isAppError(e, "config_missing") && e.message.includes("JWT_SECRET"),
  );
  assert.throws(() => parseJwks("not json"), (e) => isAppError(e, "config_missing"));
  assert.equal(parseJwks('[{"kty":"EC"}]').length, 1);
});
