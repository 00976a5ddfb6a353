import assert from "node:assert/strict";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { AppError } from "../errors/mod.ts";
import { transportError } from "./transport_errors.ts";

const ctx = { baseURL: "http://llm.test/v1", model: "m1", timeoutMs: 1000, maxRetries: 2 };

function appError(e: unknown): AppError {
  const mapped = transportError(e, ctx);
  assert.ok(mapped instanceof AppError);
  assert.equal(mapped.code, "llm_unavailable");
  return mapped;
}

Deno.test("an HTTP error names the status, the model and the endpoint's own message", () => {
  const sdk = APIError.generate(
    404,
    { error: { message: "model 'm1' not found" } },
    undefined,
    new Headers({ "x-request-id": "req_1" }),
  );
  const e = appError(sdk);
  assert.equal(
    e.message,
    "LLM at http://llm.test/v1 answered HTTP 404 for model m1: model 'm1' not found",
  );
  assert.deepEqual(e.details, {
    reason: "http_error",
    status: 404,
    baseURL: ctx.baseURL,
    model: "m1",
    requestId: "req_1",
  });
});

Deno.test("a retried status says how many attempts were made", () => {
  const sdk = APIError.generate(
    503,
    { error: { message: "overloaded" } },
    undefined,
    new Headers(),
  );
  assert.match(
    appError(sdk).message,
    /answered HTTP 503 for model m1 \(3 attempt\(s\)\): overloaded/,
  );
});

Deno.test("timeouts, refused connections and cancellations are told apart", () => {
  const timeout = appError(new APIConnectionTimeoutError());
  assert.equal(
    timeout.message,
    "LLM at http://llm.test/v1 did not answer within 1000 ms (3 attempt(s))",
  );
  assert.equal((timeout.details as { reason: string }).reason, "timeout");

  const refused = appError(new APIConnectionError({ cause: new Error("connection refused") }));
  assert.match(
    refused.message,
    /could not reach the LLM at http:\/\/llm\.test\/v1 .*: connection refused/,
  );

  const aborted = appError(new APIUserAbortError());
  assert.equal((aborted.details as { reason: string }).reason, "aborted");
});

Deno.test("errors that are not the SDK's pass through unchanged", () => {
  const own = new AppError("budget_exceeded", "over budget");
  assert.equal(transportError(own, ctx), own);
});
