import assert from "node:assert/strict";
import { compileSchema, contractOf, exampleOf } from "./function_contract.ts";

const endpoint = {
  method: "POST",
  path: "/functions/v1/notes/{id}",
  request: JSON.stringify({
    type: "object",
    required: ["title", "tags", "due"],
    properties: {
      title: { type: "string", minLength: 3 },
      tags: { type: "array", minItems: 1, items: { enum: ["a", "b"] } },
      due: { type: "string", format: "date-time" },
      note: { type: "string" },
    },
  }),
  response: JSON.stringify({
    type: "object",
    required: ["id"],
    properties: { id: { type: "string", format: "uuid" } },
    additionalProperties: false,
  }),
  errors: [{ status: 404 }],
};

Deno.test("only endpoints under the function's own path become its checks", () => {
  const others = [{ ...endpoint, path: "/functions/v1/notes-admin" }, {
    ...endpoint,
    path: "/rest/v1/notes",
  }];
  const checks = contractOf([endpoint, ...others], "notes");
  assert.equal(checks.length, 1);
  assert.equal(checks[0].label, "POST /functions/v1/notes/{id}");
  assert.match(checks[0].path, /^\/notes\/[0-9a-f-]{36}$/);
  assert.deepEqual(Object.keys(JSON.parse(checks[0].body!)), ["title", "tags", "due"]);
});

Deno.test("a request body is built from the required properties of the request schema", () => {
  assert.deepEqual(exampleOf(JSON.parse(endpoint.request)), {
    title: "xxx",
    tags: ["a"],
    due: "1970-01-01T00:00:00.000Z",
  });
});

Deno.test("an answer is judged on its status and, for a success, on its response schema", () => {
  const [check] = contractOf([endpoint], "notes");
  assert.equal(check.judge(200, JSON.stringify({ id: crypto.randomUUID() })), null);
  assert.equal(check.judge(404, "{}"), null);
  assert.match(
    check.judge(403, "{}")!,
    /answered 403, which is neither a success nor a documented error \(404\)/,
  );
  assert.match(check.judge(200, JSON.stringify({ id: "7" }))!, /\/id: must match format "uuid"/);
  assert.match(
    check.judge(200, JSON.stringify({ id: crypto.randomUUID(), x: 1 }))!,
    /must NOT have additional properties/,
  );
  assert.match(check.judge(200, "<html>")!, /not JSON/);
});

Deno.test("2020-12 schemas are validated in their own dialect; a broken schema is reported", () => {
  const tuple = compileSchema(JSON.stringify({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "array",
    prefixItems: [{ type: "number" }],
  }));
  assert.ok(typeof tuple !== "string");
  assert.equal(tuple(["a"]), false);
  assert.equal(tuple([1]), true);
  assert.equal(compileSchema("{not json"), "is not JSON");
  assert.match(compileSchema(JSON.stringify({ type: "nope" })) as string, /does not compile/);
  const [check] = contractOf([{ ...endpoint, response: "{" }], "notes");
  assert.match(check.judge(200, "{}")!, /documented response schema is not JSON/);
});
