import assert from "node:assert/strict";
import { AppError, isAppError } from "../errors/mod.ts";
import { fromDatabaseError } from "./db_errors.ts";

function pgError(code: string, message: string, detail?: string): Error {
  return Object.assign(new Error(message), { code, detail });
}

Deno.test("the state machine's SQLSTATEs become the matching API errors", () => {
  const notFound = fromDatabaseError(pgError("BT404", "run not found"));
  assert.ok(isAppError(notFound, "not_found"));
  const illegal = fromDatabaseError(
    pgError(
      "BT409",
      "illegal run transition: completed -> cancelled",
      '{"from":"completed","to":"cancelled"}',
    ),
  );
  assert.ok(isAppError(illegal, "illegal_transition"));
  assert.equal((illegal as AppError).status, 409);
  assert.deepEqual((illegal as AppError).details, { from: "completed", to: "cancelled" });
  assert.ok(isAppError(fromDatabaseError(pgError("BT400", "bad argument")), "validation_failed"));
  assert.ok(isAppError(fromDatabaseError(pgError("BT429", "over budget")), "budget_exceeded"));
});

Deno.test("bad data reaching the database is a 400, not a 500", () => {
  const nul = fromDatabaseError(pgError("22P05", "unsupported Unicode escape sequence"));
  assert.ok(isAppError(nul, "validation_failed"));
  assert.ok(isAppError(fromDatabaseError(pgError("23514", "violates check")), "validation_failed"));
});

Deno.test("other errors are left alone, to end as a 500", () => {
  const denied = pgError("42501", "permission denied for table runs");
  assert.equal(fromDatabaseError(denied), denied);
  const plain = new Error("socket closed");
  assert.equal(fromDatabaseError(plain), plain);
});
