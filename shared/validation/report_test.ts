import assert from "node:assert/strict";
import { finding } from "./finding.ts";
import { formatReport } from "./report.ts";

Deno.test("the readable report groups findings by file and ends with the verdict", () => {
  const text = formatReport({
    ok: false,
    durationMs: 42,
    findings: [
      finding("rls_disabled_in_public", "table public.t …", {
        file: "001.sql",
        line: 3,
        statement: "create table public.t (id int)",
      }),
      finding("no_primary_key", "table public.u …", { file: "002.sql", line: 1 }),
      finding("typecheck_error", "TS2322: …", { file: "fn/index.ts", line: 7 }),
    ],
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "001.sql");
  assert.match(lines[1], /^ {2}error rls_disabled_in_public \(line 3\): table public.t/);
  assert.match(lines[2], /create table public.t \(id int\)/);
  assert.ok(lines.includes("002.sql"));
  assert.equal(lines.at(-1), "FAILED: 2 error(s), 0 warning(s), 1 note(s) in 42 ms");
});
