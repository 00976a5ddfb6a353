import assert from "node:assert/strict";
import { parseExpression } from "./parse.ts";
import {
  columnsComparedToUid,
  isConstantTrue,
  perRowAuthCalls,
  userMetadataReads,
} from "./policy_expr.ts";

async function expr(text: string) {
  const node = await parseExpression(text);
  assert.ok(node, text);
  return node;
}

Deno.test("auth calls outside a scalar sub-select are evaluated per row", async () => {
  assert.deepEqual(perRowAuthCalls(await expr("auth.uid() = user_id")), ["auth.uid"]);
  assert.deepEqual(perRowAuthCalls(await expr("(select auth.uid()) = user_id")), []);
  assert.deepEqual(
    perRowAuthCalls(await expr("(( SELECT auth.uid() AS uid) = user_id)")),
    [],
    "Postgres' own deparsed form",
  );
  assert.deepEqual(
    perRowAuthCalls(await expr("(auth.jwt() ->> 'role') = 'admin' or (select auth.uid()) = id")),
    ["auth.jwt"],
  );
  assert.deepEqual(
    perRowAuthCalls(await expr("current_setting('request.jwt.claims', true) is not null")),
    ["current_setting"],
  );
});

Deno.test("an auth call inside a sub-select with FROM still runs per row of that sub-select", async () => {
  const calls = perRowAuthCalls(
    await expr("exists (select 1 from notes n where n.user_id = auth.uid())"),
  );
  assert.deepEqual(calls, ["auth.uid"]);
  const wrapped = perRowAuthCalls(
    await expr("exists (select 1 from notes n where n.user_id = (select auth.uid()))"),
  );
  assert.deepEqual(wrapped, []);
});

Deno.test("the owner column is the one compared with the caller's id, however it is spelled", async () => {
  assert.deepEqual(columnsComparedToUid(await expr("(select auth.uid()) = user_id")), ["user_id"]);
  assert.deepEqual(columnsComparedToUid(await expr("owner_id = auth.uid()")), ["owner_id"]);
  assert.deepEqual(
    columnsComparedToUid(await expr("author = ((auth.jwt() ->> 'sub'))::uuid")),
    ["author"],
  );
  assert.deepEqual(columnsComparedToUid(await expr("user_id = user_id")), []);
  assert.deepEqual(
    columnsComparedToUid(await expr("exists (select 1 from t where user_id = auth.uid())")),
    [],
    "a column inside a sub-select belongs to the sub-select's table",
  );
});

Deno.test("user_metadata read from the JWT is found in every spelling, app_metadata is not", async () => {
  const reads = async (text: string) => userMetadataReads(await expr(text)).length > 0;
  for (
    const text of [
      "((auth.jwt() -> 'user_metadata') ->> 'role') = 'admin'",
      "(( SELECT auth.jwt() AS jwt) -> 'user_metadata' ->> 'role') = 'admin'",
      "(auth.jwt() #>> '{user_metadata,role}'::text[]) = 'admin'",
      "jsonb_extract_path_text(auth.jwt(), 'user_metadata', 'role') = 'admin'",
      "((current_setting('request.jwt.claims', true))::jsonb -> 'user_metadata' ->> 'team') = team",
      "exists (select 1 from auth.users u where u.id = auth.uid() and u.raw_user_meta_data ->> 'role' = 'admin')",
    ]
  ) assert.ok(await reads(text), text);
  for (
    const text of [
      "((auth.jwt() -> 'app_metadata') ->> 'role') = 'admin'",
      "(select auth.uid()) = user_id",
      "(metadata ->> 'user_metadata') = 'x'",
      "user_metadata_id = 3",
    ]
  ) assert.ok(!await reads(text), text);
});

Deno.test("a constant true is found in its spellings; false and anything per row are not", async () => {
  for (const text of ["true", "(true)", "1 = 1", "(1=1)", "'t'::boolean", "true or false"]) {
    assert.ok(isConstantTrue(await expr(text)), text);
  }
  for (
    const text of [
      "false",
      "true and false",
      "1 = 2",
      "user_id = user_id",
      "published",
      "now() > now()",
    ]
  ) assert.ok(!isConstantTrue(await expr(text)), text);
});
