import assert from "node:assert/strict";
import { asCaller } from "../../shared/db/mod.ts";
import { freshDatabase } from "../_support/db.ts";

// asCaller sends its role switch without waiting for it, so that the caller's statements share its
// round trip: every statement, however it is started, must still run as the caller, and the
// connection must be the pool's own again afterwards.
Deno.test("statements started at once inside asCaller all run as the caller, in order", async () => {
  await using db = await freshDatabase();
  const sub = crypto.randomUUID();
  const rows = await asCaller(
    db.sql,
    { sub, role: "authenticated" },
    (tx) =>
      Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          tx`select ${i}::int as i, current_user as who, auth.uid()::text as uid`),
      ),
  );
  assert.deepEqual(
    rows.map(([r]) => r),
    Array.from({ length: 5 }, (_, i) => ({ i, who: "authenticated", uid: sub })),
  );
  // A statement issued synchronously, before any await, is no exception.
  const [first] = await asCaller(
    db.sql,
    { sub, role: "authenticated" },
    (tx) => tx`select current_user as who`,
  );
  assert.equal(first.who, "authenticated");
  const [after] = await db.sql`select current_user as who,
    current_setting('request.jwt.claims', true) as claims`;
  assert.equal(after.who, "postgres");
  assert.ok(!after.claims, "the caller's claims ended with the transaction");
});

Deno.test("a forged role claim is still refused when the role switch is pipelined", async () => {
  await using db = await freshDatabase();
  const [row] = await asCaller(
    db.sql,
    { sub: crypto.randomUUID(), role: "service_role" },
    (tx) => tx`select current_user as who`,
  );
  assert.equal(row.who, "anon");
});

Deno.test("a failing statement inside asCaller rolls the transaction back and rejects once", async () => {
  await using db = await freshDatabase();
  await db.sql`create table public.pipelined (n int)`;
  await db.sql`grant insert on public.pipelined to authenticated`;
  await assert.rejects(
    asCaller(db.sql, { sub: crypto.randomUUID(), role: "authenticated" }, (tx) =>
      Promise.all([
        tx`insert into public.pipelined values (1)`,
        tx`select 1 / 0`,
      ])),
    /division by zero/,
  );
  const [{ n }] = await db.sql`select count(*)::int as n from public.pipelined`;
  assert.equal(n, 0);
});
