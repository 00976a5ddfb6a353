import assert from "node:assert/strict";
import { asCaller } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";

Deno.test("auth.uid() is the caller's sub as authenticated and null as anon", async () => {
  await using db = await freshDatabase();
  const a = crypto.randomUUID();
  const [asA] = await asCaller(
    db.sql,
    { sub: a, role: "authenticated" },
    (tx) => tx`select auth.uid()::text as uid, auth.role() as role, current_user as who`,
  );
  assert.deepEqual(asA, { uid: a, role: "authenticated", who: "authenticated" });
  const [asAnon] = await asCaller(
    db.sql,
    { role: "anon" },
    (tx) => tx`select auth.uid() as uid, auth.jwt() ->> 'role' as role, current_user as who`,
  );
  assert.deepEqual(asAnon, { uid: null, role: "anon", who: "anon" });
});

Deno.test("realtime.send inserts a broadcast row with an id in its payload", async () => {
  await using db = await freshDatabase();
  await db.sql`select realtime.send('{"n":1}'::jsonb, 'run.status', 'run:abc', true)`;
  const rows = await db.sql`
    select topic, event, extension, private, payload from realtime.messages`;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].topic, "run:abc");
  assert.equal(rows[0].event, "run.status");
  assert.equal(rows[0].extension, "broadcast");
  assert.equal(rows[0].private, true);
  assert.equal(rows[0].payload.n, 1);
  assert.match(rows[0].payload.id, /^[0-9a-f-]{36}$/);
});

Deno.test("realtime.send rolled back with its transaction leaves no row", async () => {
  await using db = await freshDatabase();
  await assert.rejects(db.sql.begin(async (tx) => {
    await tx`select realtime.send('{}'::jsonb, 'e', 'run:x', true)`;
    throw new Error("abort");
  }));
  const [{ count }] = await db.sql`select count(*)::int as count from realtime.messages`;
  assert.equal(count, 0);
});

Deno.test("realtime.topic() reads the topic the Realtime server sets for a join", async () => {
  await using db = await freshDatabase();
  const [row] = await db.sql.begin(async (tx) => {
    await tx`select set_config('realtime.topic', 'run:42', true)`;
    return await tx`select realtime.topic() as topic`;
  });
  assert.equal(row.topic, "run:42");
});

Deno.test("platform SQL applies again without error or change (idempotent)", async () => {
  await using db = await freshDatabase();
  const before = await db.sql`select count(*)::int as n from pg_proc`;
  await applyPlatformSql(db.sql);
  const after = await db.sql`select count(*)::int as n from pg_proc`;
  assert.equal(after[0].n, before[0].n);
});
