import assert from "node:assert/strict";
import postgres from "postgres";
import { AppError } from "./app_error.ts";
import { INTERNAL_ERROR, isConnectionError, isInfrastructureError, publicError } from "./public.ts";

const INFRASTRUCTURE = {
  code: "infrastructure_error",
  message: "a database or network error in the service interrupted this work",
};

/** postgres.js's server error, built the way the driver builds it from a backend message. */
function postgresError(fields: Record<string, string>): Error {
  const PostgresError = postgres.PostgresError as unknown as new (x: object) => Error;
  return new PostgresError(fields);
}

/** A socket error as Node's and Deno's `net` give it. */
function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: "connect" });
}

function assertNoRaw(safe: { message: string }, ...raw: string[]) {
  for (const r of raw) assert.ok(!safe.message.includes(r), `${safe.message} includes ${r}`);
}

Deno.test("an AppError about the request keeps its code and its own message", () => {
  for (
    const e of [
      new AppError("not_found", "run not found"),
      new AppError("illegal_transition", "illegal run transition: completed -> cancelled"),
      new AppError("budget_exceeded", "the run used 4900 tokens, over its budget of 1000"),
      new AppError("plan_invalid", "the planner could not produce a valid plan: T3 depends on T9"),
      new AppError("llm_invalid_output", "no valid plan from scripted-model after 2 re-ask(s)"),
    ]
  ) {
    assert.deepEqual(publicError(e), { code: e.code, message: e.message });
  }
});

Deno.test("AppErrors about the service's insides get a fixed message without paths or variables", () => {
  const cases: [AppError, string][] = [
    [new AppError("internal", 'prompt orchestrator has no "## Retry" section'), "internal error"],
    [
      new AppError("config_missing", "prompt agents/x not found at /work/main/prompts/x.md"),
      "the service is not configured correctly",
    ],
    [
      new AppError("migration_failed", "20261125000100_product_schema.sql:12: relation x exists"),
      "the service's database is not set up correctly",
    ],
    [new AppError("database_error", "connect ECONNREFUSED 10.0.0.5:5432"), INFRASTRUCTURE.message],
    [
      new AppError("upstream_unavailable", "could not reach Realtime at ws://127.0.0.1:54321"),
      "a service this one depends on did not answer",
    ],
  ];
  for (const [e, message] of cases) {
    const safe = publicError(e);
    assert.deepEqual(safe, { code: e.code, message });
    assertNoRaw(safe, "/work/", "127.0.0.1", "10.0.0.5", "ECONNREFUSED", ".sql:");
  }
});

Deno.test("llm_unavailable says what happened to the model, never where the endpoint is", () => {
  const at = { baseURL: "http://10.1.2.3:8080/v1", model: "gpt-x", requestId: "req_1" };
  const cases: [Record<string, unknown>, string][] = [
    [{ reason: "connection", status: null }, "the language model could not be reached"],
    [{ reason: "timeout", status: null }, "the language model did not answer in time"],
    [{ reason: "aborted", status: null }, "the language model request was cancelled"],
    [{ reason: "http_error", status: 429 }, "the language model answered HTTP 429"],
    [{}, "the language model is unavailable"],
  ];
  for (const [details, message] of cases) {
    const e = new AppError(
      "llm_unavailable",
      `could not reach the LLM at ${at.baseURL} (3 attempt(s)): connect ECONNREFUSED 10.1.2.3:8080`,
      { ...at, ...details },
    );
    assert.deepEqual(publicError(e), { code: "llm_unavailable", message });
  }
});

Deno.test("PostgreSQL's own errors from the product database are infrastructure errors", () => {
  const errors = [
    postgresError({
      severity: "ERROR",
      severity_local: "ERROR",
      code: "42P01",
      message: 'relation "backend_team.no_such_relation" does not exist',
    }),
    postgresError({
      severity: "FATAL",
      severity_local: "FATAL",
      code: "28P01",
      message: 'password authentication failed for user "x"',
    }),
    postgresError({
      severity: "FATAL",
      severity_local: "FATAL",
      code: "57P01",
      message: "terminating connection due to administrator command",
    }),
  ];
  for (const e of errors) {
    assert.ok(isInfrastructureError(e), e.message);
    const safe = publicError(e);
    assert.deepEqual(safe, INFRASTRUCTURE);
    assertNoRaw(safe, "no_such_relation", '"x"', "administrator");
  }
});

Deno.test("driver and socket errors are infrastructure errors without host and port", () => {
  const errors = [
    socketError("connect ECONNREFUSED 127.0.0.1:54329", "ECONNREFUSED"),
    socketError("getaddrinfo ENOTFOUND db.internal", "ENOTFOUND"),
    // postgres.js's connection errors put the server's address in the message.
    Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
      code: "CONNECTION_CLOSED",
      errno: "CONNECTION_CLOSED",
      address: "127.0.0.1",
      port: 5432,
    }),
    Object.assign(new Error("write CONNECT_TIMEOUT db.internal:5432"), { code: "CONNECT_TIMEOUT" }),
    new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
    new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
  ];
  for (const e of errors) {
    assert.ok(isInfrastructureError(e), e.message);
    const safe = publicError(e);
    assert.deepEqual(safe, INFRASTRUCTURE);
    assertNoRaw(safe, "127.0.0.1", "db.internal", "5432", "54329");
  }
});

Deno.test("an infrastructure error wrapped in another error, or re-thrown as text, is still one", () => {
  const wrapped = new Error("shadow template: platform.sql failed", {
    cause: socketError("connect ECONNREFUSED 127.0.0.1:54329", "ECONNREFUSED"),
  });
  assert.deepEqual(publicError(wrapped), INFRASTRUCTURE);
  const text = new Error(
    'shadow bootstrap failed: password authentication failed for user "shadow_admin"',
  );
  assert.deepEqual(publicError(text), INFRASTRUCTURE);
  // The shadow's own errors escape validation only when the shadow itself broke.
  const closed = Object.assign(new Error("write CONNECTION_ENDED 127.0.0.1:54329"), {
    name: "ShadowClosedError",
  });
  assert.deepEqual(publicError(closed), INFRASTRUCTURE);
});

Deno.test("anything else is internal, with no message, stack or path of its own", () => {
  const bug = new TypeError(
    "Cannot read properties of undefined (reading 'up_sql') at /work/main/shared/x.ts:12:3",
  );
  for (const e of [bug, new Error("boom"), "a string", 42, null, undefined, { message: "x" }]) {
    const safe = publicError(e);
    assert.deepEqual(safe, { code: "internal", message: "internal error" });
  }
  assert.deepEqual(INTERNAL_ERROR, { code: "internal", message: "internal error" });
  assert.ok(Object.isFrozen(INTERNAL_ERROR));
  // A fresh object each time: callers may add to it without touching the constant.
  assert.notEqual(publicError(bug), INTERNAL_ERROR);
});

Deno.test("an AppError's code wins over an infrastructure cause", () => {
  const e = new AppError("not_found", "run not found", undefined, {
    cause: socketError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
  });
  assert.deepEqual(publicError(e), { code: "not_found", message: "run not found" });
});

Deno.test("a lost or refused connection is told apart from a statement PostgreSQL refused", () => {
  const refusedStatement = postgresError({
    severity: "ERROR",
    severity_local: "ERROR",
    code: "42P01",
    message: 'relation "todos" does not exist',
  });
  // RAISE in the user's own SQL can pick any SQLSTATE, but not a session-ending severity.
  const forged = postgresError({
    severity: "ERROR",
    severity_local: "ERROR",
    code: "08006",
    message: "connection failure",
  });
  assert.ok(!isConnectionError(refusedStatement));
  assert.ok(!isConnectionError(forged));
  assert.ok(isInfrastructureError(refusedStatement), "from the product database it is ours");

  const connectionErrors = [
    postgresError({
      severity: "FATAL",
      severity_local: "FATAL",
      code: "28P01",
      message: 'password authentication failed for user "x"',
    }),
    postgresError({
      severity: "FATAL",
      severity_local: "FATAL",
      code: "53300",
      message: "sorry, too many clients already",
    }),
    socketError("connect ECONNREFUSED 127.0.0.1:54329", "ECONNREFUSED"),
    Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
      code: "CONNECTION_CLOSED",
    }),
    new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
  ];
  for (const e of connectionErrors) assert.ok(isConnectionError(e), e.message);
  assert.ok(!isConnectionError(new TypeError("x is undefined")));
});
