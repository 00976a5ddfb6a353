import assert from "node:assert/strict";
import { AppError, isAppError } from "./mod.ts";

Deno.test("an AppError carries the HTTP status of its code and serialises without internals", () => {
  const e = new AppError("illegal_transition", "run cannot go from completed to planning", {
    from: "completed",
    to: "planning",
  }, { cause: new Error("raw database text") });
  assert.equal(e.status, 409);
  assert.deepEqual(e.toJSON(), {
    error: {
      code: "illegal_transition",
      message: "run cannot go from completed to planning",
      details: { from: "completed", to: "planning" },
    },
  });
  assert.ok(!JSON.stringify(e.toJSON()).includes("raw database text"));
  assert.ok(isAppError(e, "illegal_transition"));
  assert.ok(!isAppError(e, "not_found"));
});
