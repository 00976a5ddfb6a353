import assert from "node:assert/strict";
import { isAppError } from "../errors/mod.ts";
import { decodeCursor, encodeCursor, ListEventsQuery, ListRunsQuery } from "./pagination.ts";

Deno.test("a cursor round-trips the microsecond timestamp and id, and is URL-safe", () => {
  const cursor = { at: "2026-11-25T05:19:00.123456Z", id: crypto.randomUUID() };
  const text = encodeCursor(cursor);
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(text), cursor);
});

Deno.test("anything but a cursor this API made is a 400 naming cursor", () => {
  const wrong = [
    "",
    "%%%",
    btoa("not json"),
    btoa(JSON.stringify({ at: "x", id: "y" })).replaceAll("=", ""),
    btoa(JSON.stringify(["2026-11-25T05:19:00Z", crypto.randomUUID()])).replaceAll("=", ""),
    btoa(JSON.stringify(["2026-11-25T05:19:00.123456Z", "not-a-uuid"])).replaceAll("=", ""),
    btoa(JSON.stringify(["2026-02-30T05:19:00.123456Z", crypto.randomUUID()])).replaceAll("=", ""),
    "a".repeat(600),
  ];
  for (const text of wrong) {
    assert.throws(() => decodeCursor(text), (e) => {
      return isAppError(e, "validation_failed") &&
        JSON.stringify(e.details).includes('"cursor"');
    }, text);
  }
});

Deno.test("query numbers must be plain digits within range; absent ones take defaults", () => {
  assert.deepEqual(ListRunsQuery.parse({}), { limit: 20 });
  assert.deepEqual(ListRunsQuery.parse({ limit: "100" }), { limit: 100 });
  for (const limit of ["0", "101", "", " 5", "1e1", "0x10", "-1", "2.5"]) {
    assert.ok(!ListRunsQuery.safeParse({ limit }).success, `limit=${JSON.stringify(limit)}`);
  }
  assert.deepEqual(ListEventsQuery.parse({ after: "7" }), { after: 7, limit: 200 });
  assert.ok(!ListEventsQuery.safeParse({ after: "9999999999999999" }).success);
});
