import assert from "node:assert/strict";
import { lineAt, splitStatements } from "./split.ts";

Deno.test("statements split on semicolons outside quotes, dollar bodies and comments", () => {
  const script = `-- header; not a statement
create table t (a text default 'x;y', "odd;name" int);
/* block; comment /* nested; */ still */
create function f() returns int language plpgsql as $body$
begin
  return 1; -- inner;
end;
$body$;
select $$a;b$$, e'it''s;';
`;
  const stmts = splitStatements(script);
  assert.equal(stmts.length, 3);
  assert.match(stmts[0].text, /^create table t/);
  assert.equal(stmts[0].line, 2);
  assert.match(stmts[1].text, /^create function f\(\)/);
  assert.match(stmts[1].text, /end;\n\$body\$$/);
  assert.equal(stmts[1].line, 4);
  assert.equal(stmts[2].text, "select $$a;b$$, e'it''s;'");
  assert.equal(stmts[2].line, 9);
});

Deno.test("a script of only comments has no statements", () => {
  assert.deepEqual(splitStatements("-- nothing\n/* at all */\n;\n"), []);
});

Deno.test("lineAt counts lines from 1", () => {
  assert.equal(lineAt("a\nb\nc", 0), 1);
  assert.equal(lineAt("a\nb\nc", 4), 3);
});
