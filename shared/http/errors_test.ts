import assert from "node:assert/strict";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { AppError } from "../errors/mod.ts";
import { errorHandler, notFoundHandler, validationError, zodIssues } from "./errors.ts";

function appThrowing(e: unknown, logged: unknown[] = []) {
  const app = new Hono();
  app.onError(errorHandler((err) => logged.push(err)));
  app.notFound(notFoundHandler);
  app.get("/", () => {
    throw e;
  });
  return app;
}

Deno.test("an unexpected error is a bare 500 and is logged, with no internals in the body", async () => {
  const logged: unknown[] = [];
  const secret = new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2");
  const res = await appThrowing(secret, logged).request("/");
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { error: { code: "internal", message: "internal error" } });
  assert.ok(!text.includes("hunter2"));
  assert.deepEqual(logged, [secret]);
});

Deno.test("a server-side AppError is answered with its code and a safe message, no details", async () => {
  const cases: [AppError, number, { code: string; message: string }][] = [
    [
      new AppError(
        "llm_unavailable",
        "could not reach the LLM at http://10.1.2.3:8080/v1 (3 attempt(s))",
        { reason: "connection", status: null, baseURL: "http://10.1.2.3:8080/v1" },
      ),
      503,
      { code: "llm_unavailable", message: "the language model could not be reached" },
    ],
    [
      new AppError("config_missing", "prompt x not found at /work/main/prompts/x.md", {
        variables: ["PROMPTS_DIR"],
      }),
      500,
      { code: "config_missing", message: "the service is not configured correctly" },
    ],
    [
      new AppError("internal", "schema x cannot be sent as a strict JSON schema: at <root>"),
      500,
      { code: "internal", message: "internal error" },
    ],
  ];
  for (const [e, status, error] of cases) {
    const logged: unknown[] = [];
    const res = await appThrowing(e, logged).request("/");
    assert.equal(res.status, status);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error });
    assert.ok(!/10\.1\.2\.3|\/work\/|PROMPTS_DIR|<root>/.test(text), text);
    assert.deepEqual(logged, [e], "the operator gets the error as thrown");
  }
});

Deno.test("an AppError is answered with its status, code, message and details", async () => {
  const res = await appThrowing(
    new AppError("illegal_transition", "illegal run transition: completed -> cancelled", {
      from: "completed",
      to: "cancelled",
    }),
  ).request("/");
  assert.equal(res.status, 409);
  assert.deepEqual(await res.json(), {
    error: {
      code: "illegal_transition",
      message: "illegal run transition: completed -> cancelled",
      details: { from: "completed", to: "cancelled" },
    },
  });
});

Deno.test("a zod error is a 400 listing each issue; unknown fields are named one by one", () => {
  const schema = z.strictObject({ a: z.string(), b: z.object({ c: z.int() }) });
  const parsed = schema.safeParse({ a: 1, b: { c: "x" }, d: 1, e: 2 });
  assert.ok(!parsed.success);
  const issues = zodIssues(parsed.error, "body");
  assert.deepEqual(issues.map((i) => i.path), [["a"], ["b", "c"], ["d"], ["e"]]);
  assert.ok(issues.every((i) => i.location === "body" && typeof i.message === "string"));
  assert.equal(validationError(parsed.error).status, 400);
});

Deno.test("Hono's own exceptions keep their 4xx status in the error shape", async () => {
  const res = await appThrowing(new HTTPException(415, { message: "Unsupported Media Type" }))
    .request("/");
  assert.equal(res.status, 415);
  assert.equal((await res.json()).error.code, "unsupported_media_type");
  const json = await appThrowing(
    new HTTPException(400, { message: "Malformed JSON in request body" }),
  )
    .request("/");
  assert.equal((await json.json()).error.code, "invalid_json");
});

Deno.test("an unknown route is a 404 in the error shape", async () => {
  const res = await appThrowing(new Error("unused")).request("/elsewhere");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, "not_found");
});
