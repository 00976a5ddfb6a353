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
  const claims = { aud: "authenticated", role: "authenticated", sub, exp };
  const good = await sign(claims, privateJwk, "ES256");
  assert.equal((await verify(good)).sub, sub);
  const forged = await sign(claims, other.privateJwk, "ES256");
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

Deno.test("asymmetric tokens too must carry exp and name the audience", async () => {
  const { privateJwk, publicJwk } = await es256Keys("key-1");
  const verify = createTokenVerifier({ jwks: [publicJwk] });
  const sub = crypto.randomUUID();
  const exp = Math.floor(Date.now() / 1000) + 60;
  const forever = await sign(
    { aud: "authenticated", role: "authenticated", sub },
    privateJwk,
    "ES256",
  );
  await assert.rejects(verify(forever), (e) => isAppError(e, "unauthorized"));
  const elsewhere = await sign(
    { aud: "other", role: "authenticated", sub, exp },
    privateJwk,
    "ES256",
  );
  await assert.rejects(verify(elsewhere), (e) => isAppError(e, "unauthorized"));
});

Deno.test("user tokens must name the configured audience, in a string or a list", async () => {
  const sub = crypto.randomUUID();
  const exp = Math.floor(Date.now() / 1000) + 60;
  const token = (aud?: string | string[]) =>
    sign({ role: "authenticated", sub, exp, ...(aud ? { aud } : {}) }, LOCAL_JWT_SECRET, "HS256");
  const byDefault = createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET });
  assert.equal((await byDefault(await token("authenticated"))).sub, sub);
  assert.equal((await byDefault(await token(["x", "authenticated"]))).sub, sub);
  for (const aud of [undefined, "other", ["x", "y"]]) {
    await assert.rejects(byDefault(await token(aud)), (e) => isAppError(e, "unauthorized"));
  }
  const custom = createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET, audience: "backend-team" });
  assert.equal((await custom(await token("backend-team"))).sub, sub);
  await assert.rejects(custom(await token("authenticated")), (e) => isAppError(e, "unauthorized"));
});

Deno.test("a token without exp is a 401 in the error shape", async () => {
  const forever = await sign(
    { aud: "authenticated", role: "authenticated", sub: crypto.randomUUID() },
    LOCAL_JWT_SECRET,
    "HS256",
  );
  const res = await protectedApp().request("/me", {
    headers: { Authorization: `Bearer ${forever}` },
  });
  assert.equal(res.status, 401);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, "unauthorized");
});
