import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { LOCAL_JWT_SECRET } from "../auth/mod.ts";
import { loadOrchestratorConfig } from "./config.ts";

const base = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  SUPABASE_ANON_KEY: "anon",
  SUPABASE_SERVICE_ROLE_KEY: "service",
  SUPABASE_DB_URL: "postgres://postgres@127.0.0.1:54322/postgres",
};

Deno.test("the orchestrator refuses to start without JWT_SECRET (or SUPABASE_JWKS), naming it", () => {
  assert.throws(
    () => loadOrchestratorConfig(base),
    (e) => isAppError(e, "config_missing") && e.message.includes("JWT_SECRET is not set"),
  );
});

Deno.test("the orchestrator reads its database URL and token keys from the environment", () => {
  const config = loadOrchestratorConfig({ ...base, JWT_SECRET: LOCAL_JWT_SECRET });
  assert.equal(config.dbUrl, base.SUPABASE_DB_URL);
  assert.equal(config.jwtSecret, LOCAL_JWT_SECRET);
  const withJwks = loadOrchestratorConfig({
    ...base,
    SUPABASE_JWKS: JSON.stringify({
      keys: [{ kty: "EC", kid: "k", crv: "P-256", x: "a", y: "b" }],
    }),
  });
  assert.equal(withJwks.jwks?.length, 1);
  assert.equal(withJwks.jwtSecret, undefined);
});

Deno.test("the orchestrator reads the token audience and the per-user limits, with defaults", () => {
  const plain = loadOrchestratorConfig({ ...base, JWT_SECRET: LOCAL_JWT_SECRET });
  assert.equal(plain.audience, "authenticated");
  assert.deepEqual(plain.limits, {
    requestsPerMinute: 60,
    requestBurst: 60,
    maxRunsInFlight: 5,
    maxValidationsInFlight: 2,
    validationLeaseSeconds: 300,
  });
  const set = loadOrchestratorConfig({
    ...base,
    JWT_SECRET: LOCAL_JWT_SECRET,
    BT_JWT_AUDIENCE: "backend-team",
    BT_MAX_RUNS_IN_FLIGHT: "12",
    BT_RATE_LIMIT_PER_MINUTE: "30",
  });
  assert.equal(set.audience, "backend-team");
  assert.equal(set.limits.maxRunsInFlight, 12);
  assert.equal(set.limits.requestsPerMinute, 30);
  assert.throws(
    () =>
      loadOrchestratorConfig({ ...base, JWT_SECRET: LOCAL_JWT_SECRET, BT_MAX_RUNS_IN_FLIGHT: "0" }),
    (e) => isAppError(e, "config_missing") && e.message.includes("BT_MAX_RUNS_IN_FLIGHT"),
  );
});

Deno.test("the API's pool has 10 connections unless BT_API_DB_POOL says otherwise", () => {
  const plain = loadOrchestratorConfig({ ...base, JWT_SECRET: LOCAL_JWT_SECRET });
  assert.equal(plain.dbPool, 10);
  const sized = loadOrchestratorConfig({
    ...base,
    JWT_SECRET: LOCAL_JWT_SECRET,
    BT_API_DB_POOL: "4",
  });
  assert.equal(sized.dbPool, 4);
  for (const bad of ["0", "-1", "many", "1.5"]) {
    assert.throws(
      () => loadOrchestratorConfig({ ...base, JWT_SECRET: LOCAL_JWT_SECRET, BT_API_DB_POOL: bad }),
      (e) => isAppError(e) && e.message.includes("BT_API_DB_POOL"),
      bad,
    );
  }
});
