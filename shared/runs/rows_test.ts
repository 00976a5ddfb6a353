import assert from "node:assert/strict";
import { z } from "zod";
import { parseRow, rowToJson } from "./rows.ts";
import { RunEvent } from "./event.ts";

Deno.test("timestamps arriving as Date leave as ISO strings", () => {
  const at = new Date("2026-11-25T05:19:00.123Z");
  assert.deepEqual(rowToJson({ created_at: at, n: 1, j: { a: 1 } }), {
    created_at: "2026-11-25T05:19:00.123Z",
    n: 1,
    j: { a: 1 },
  });
  const event = parseRow(RunEvent, {
    run_id: crypto.randomUUID(),
    seq: "3",
    owner_id: crypto.randomUUID(),
    type: "run.status",
    payload: { status: "received" },
    created_at: at,
  });
  assert.equal(event.created_at, "2026-11-25T05:19:00.123Z");
  assert.equal(event.seq, 3);
  assert.ok(!("owner_id" in event));
});

Deno.test("a row that does not fit its schema is a server error, not a client's zod error", () => {
  assert.throws(
    () => parseRow(RunEvent, { run_id: "x" }),
    (e) => !(e instanceof z.ZodError) && e instanceof Error && /RunEvent/.test(e.message),
  );
});
