import assert from "node:assert/strict";
import { lineOfPosition, parseExpression, parseSqlFile } from "./parse.ts";

Deno.test("statements get the line of their first token, after comments and multi-byte text", async () => {
  const sql =
    "-- préambule: café ☕\ncreate table a (id int);\n\n/* two\n lines */ create index\n  i on a (id);";
  const parsed = await parseSqlFile({ name: "x.sql", sql });
  assert.equal(parsed.syntaxError, undefined);
  assert.deepEqual(parsed.statements.map((s) => [s.type, s.line, s.text]), [
    ["CreateStmt", 2, "create table a (id int)"],
    ["IndexStmt", 5, "create index\n  i on a (id)"],
  ]);
});

Deno.test("a syntax error names the line and the statement holding it", async () => {
  const sql = "create table ok (id int);\n-- ü\ncreate tabel broken (id int);\nselect 1;";
  const parsed = await parseSqlFile({ name: "x.sql", sql });
  assert.equal(parsed.statements.length, 0);
  assert.equal(parsed.syntaxError?.line, 3);
  assert.equal(parsed.syntaxError?.statement, "create tabel broken (id int)");
  assert.match(parsed.syntaxError!.message, /syntax error at or near "tabel"/);
});

Deno.test("a Postgres error position inside a statement maps to the file's line", async () => {
  const parsed = await parseSqlFile({
    name: "x.sql",
    sql: "\n\ncreate table t (\n  a int,\n  b numeric default 'x'\n);",
  });
  const [s] = parsed.statements;
  assert.equal(s.line, 3);
  assert.equal(lineOfPosition(s, s.text.indexOf("'x'") + 1), 5);
  assert.equal(lineOfPosition(s, undefined), 3);
});

Deno.test("policy expressions as Postgres prints them parse back into trees", async () => {
  const expr = await parseExpression("(( SELECT auth.uid() AS uid) = user_id)");
  assert.ok(expr && "A_Expr" in expr);
  assert.equal(await parseExpression("not valid ((("), undefined);
});
