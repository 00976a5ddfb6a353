import assert from "node:assert/strict";
import { parseTap } from "./tap.ts";

Deno.test("TAP with every test passing is ok", () => {
  const r = parseTap(["1..2", "ok 1 - a", "ok 2 - b", ""]);
  assert.deepEqual(r, { planned: 2, passed: 2, failed: 0, failures: [], ok: true });
});

Deno.test("a failing test is reported with its diagnostics", () => {
  const r = parseTap([
    "1..2",
    "ok 1 - a",
    'not ok 2 - b\n# Failed test 2: "b"\n#         have: 1\n#         want: 0',
    "# Looks like you failed 1 test of 2",
  ]);
  assert.equal(r.ok, false);
  assert.equal(r.failed, 1);
  assert.equal(r.failures.length, 1);
  assert.match(r.failures[0], /^not ok 2 - b\n# Failed test 2/);
  assert.match(r.failures[0], /have: 1/);
});

Deno.test("fewer results than planned is a failure, as pg_prove counts it", () => {
  const r = parseTap(["1..3", "ok 1 - a", "ok 2 - b"]);
  assert.equal(r.ok, false);
  assert.deepEqual(r.failures, ["# planned 3 tests but ran 2"]);
});
