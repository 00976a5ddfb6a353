import assert from "node:assert/strict";
import { Hono } from "hono";
import { LOCAL_JWT_SECRET, mintUserToken } from "../auth/mod.ts";
import { AppError, isAppError } from "../errors/mod.ts";
import { createTokenVerifier, requireUser, type UserEnv } from "./auth.ts";
import { errorHandler } from "./errors.ts";
import {
  DEFAULT_REQUEST_LIMITS,
  holdValidationSlot,
  limitRequestRate,
  LimitsEnv,
  limitsFromEnv,
  type RequestLimiter,
  retryAfterHeader,
  RUNS_RETRY_AFTER_SECONDS,
  runsInFlightError,
} from "./limits.ts";

/** A limiter that records calls and refuses what `refuse` says. */
function fakeLimiter(refuse?: (lease: boolean) => AppError | undefined) {
  const calls: string[] = [];
  const limiter: RequestLimiter = {
    admit(userId, options = {}) {
      calls.push(`admit ${options.lease ? "lease" : "rate"}`);
      const refusal = refuse?.(!!options.lease);
      if (refusal) return Promise.reject(refusal);
      return Promise.resolve(options.lease ? `lease-of-${userId}` : undefined);
    },
    release(userId, lease) {
      calls.push(`release ${lease === `lease-of-${userId}` ? "own" : "other"}`);
      return Promise.resolve();
    },
  };
  return { limiter, calls };
}

function appWith(limiter: RequestLimiter) {
  const app = new Hono<UserEnv>();
  app.use("*", retryAfterHeader());
  app.onError(errorHandler(() => {}));
  app.use("/api/*", requireUser(createTokenVerifier({ jwtSecret: LOCAL_JWT_SECRET })));
  app.use("/api/things", limitRequestRate(limiter));
  app.use("/api/budget", limitRequestRate(limiter));
  app.use("/public", limitRequestRate(limiter));
  app.get("/api/things", (c) => c.json({ ok: true }));
  app.post("/api/things", (c) => c.json({ ok: true }, 201));
  app.post("/public", (c) => c.json({ ok: true }));
  app.post("/api/validate", holdValidationSlot(limiter), (c) => {
    if (c.req.query("fail")) throw new Error("the validator broke");
    return c.json({ ok: true });
  });
  app.post("/api/budget", () => {
    throw new AppError("budget_exceeded", "over budget");
  });
  return app;
}

async function userHeaders() {
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  return { Authorization: `Bearer ${token}` };
}

Deno.test("unset limit variables take the defaults; set ones must be positive integers", () => {
  assert.deepEqual(limitsFromEnv(LimitsEnv.parse({})), DEFAULT_REQUEST_LIMITS);
  assert.deepEqual(DEFAULT_REQUEST_LIMITS, {
    requestsPerMinute: 60,
    requestBurst: 60,
    maxRunsInFlight: 5,
    maxValidationsInFlight: 2,
    validationLeaseSeconds: 300,
  });
  const set = limitsFromEnv(LimitsEnv.parse({
    BT_RATE_LIMIT_PER_MINUTE: "120",
    BT_RATE_LIMIT_BURST: "10",
    BT_MAX_RUNS_IN_FLIGHT: "20",
    BT_MAX_VALIDATIONS_IN_FLIGHT: "4",
    BT_VALIDATION_LEASE_SECONDS: "60",
  }));
  assert.deepEqual(set, {
    requestsPerMinute: 120,
    requestBurst: 10,
    maxRunsInFlight: 20,
    maxValidationsInFlight: 4,
    validationLeaseSeconds: 60,
  });
  for (const bad of ["0", "-1", "1.5", "many"]) {
    assert.equal(LimitsEnv.safeParse({ BT_MAX_RUNS_IN_FLIGHT: bad }).success, false, bad);
  }
});

Deno.test("reads are free; each POST of a signed-in user takes one from their rate", async () => {
  const { limiter, calls } = fakeLimiter();
  const app = appWith(limiter);
  const headers = await userHeaders();
  assert.equal((await app.request("/api/things", { headers })).status, 200);
  assert.deepEqual(calls, []);
  assert.equal((await app.request("/api/things", { method: "POST", headers })).status, 201);
  assert.deepEqual(calls, ["admit rate"]);
  // Without a user (a route that has none) nothing is taken.
  assert.equal((await app.request("/public", { method: "POST" })).status, 200);
  assert.deepEqual(calls, ["admit rate"]);
});

Deno.test("a refused request is a 429 with its code and Retry-After, and the handler never runs", async () => {
  const { limiter } = fakeLimiter(() =>
    new AppError("rate_limited", "too many requests", { limit: 3, retry_after_seconds: 7 })
  );
  const res = await appWith(limiter).request("/api/things", {
    method: "POST",
    headers: await userHeaders(),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.equal(res.headers.get("access-control-expose-headers"), "Retry-After");
  const body = await res.json();
  assert.equal(body.error.code, "rate_limited");
  assert.deepEqual(body.error.details, { limit: 3, retry_after_seconds: 7 });
});

Deno.test("a 429 that does not say when to retry carries no Retry-After", async () => {
  const res = await appWith(fakeLimiter().limiter).request("/api/budget", {
    method: "POST",
    headers: await userHeaders(),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), null);
  await res.body?.cancel();
});

Deno.test("a validation slot is taken once (rate included) and given back, even when the handler fails", async () => {
  const { limiter, calls } = fakeLimiter();
  const app = appWith(limiter);
  const headers = await userHeaders();
  assert.equal((await app.request("/api/validate", { method: "POST", headers })).status, 200);
  // One admission: the slot's counts for the rate as well.
  assert.deepEqual(calls, ["admit lease", "release own"]);
  calls.length = 0;
  const failed = await app.request("/api/validate?fail=1", { method: "POST", headers });
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  assert.deepEqual(calls, ["admit lease", "release own"]);
});

Deno.test("validations over the cap are a 429 with Retry-After and release nothing", async () => {
  const { limiter, calls } = fakeLimiter((lease) =>
    lease
      ? new AppError("too_many_validations_in_flight", "too many", {
        limit: 2,
        retry_after_seconds: 5,
      })
      : undefined
  );
  const res = await appWith(limiter).request("/api/validate", {
    method: "POST",
    headers: await userHeaders(),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal((await res.json()).error.code, "too_many_validations_in_flight");
  assert.deepEqual(calls, ["admit lease"]);
});

Deno.test("submit_run's runs-in-flight refusal becomes too_many_runs_in_flight; other errors pass", () => {
  const pg = Object.assign(new Error("too many runs in flight: 5 of 5"), {
    code: "BTR29",
    detail: '{"limit": 5, "in_flight": 5}',
  });
  const e = runsInFlightError(pg);
  assert.ok(isAppError(e, "too_many_runs_in_flight"));
  assert.equal(e.status, 429);
  assert.deepEqual(e.details, { limit: 5, retry_after_seconds: RUNS_RETRY_AFTER_SECONDS });
  assert.ok(!e.message.includes("5 of 5"), "the database's text stays in the log");
  const other = Object.assign(new Error("x"), { code: "BT404" });
  assert.equal(runsInFlightError(other), other);
  assert.equal(runsInFlightError("text"), "text");
});
