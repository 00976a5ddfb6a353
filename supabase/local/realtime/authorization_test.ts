import assert from "node:assert/strict";
import { freshDatabase, type TestDatabase } from "../../../tests/_support/db.ts";
import { readPolicies, writePolicies } from "./authorization.ts";

async function withTopicPolicies(db: TestDatabase, owner: string): Promise<string> {
  await db.sql.unsafe(`
    create table public.topic_owners (topic text primary key, owner uuid not null);
    alter table public.topic_owners enable row level security;
    grant select on public.topic_owners to authenticated;
    create policy "own rows" on public.topic_owners for select to authenticated
      using (owner = (select auth.uid()));
    create policy "owners read" on realtime.messages for select to authenticated
      using (realtime.messages.extension = 'broadcast'
             and exists (select 1 from public.topic_owners t where t.topic = (select realtime.topic())));
    create policy "owners write" on realtime.messages for insert to authenticated
      with check (exists (select 1 from public.topic_owners t where t.topic = (select realtime.topic())));
  `);
  const topic = `room:${crypto.randomUUID()}`;
  await db.sql`insert into public.topic_owners values (${topic}, ${owner})`;
  return topic;
}

Deno.test("the SELECT policies decide read access per extension, with the caller's claims and topic", async () => {
  await using db = await freshDatabase();
  const owner = crypto.randomUUID();
  const topic = await withTopicPolicies(db, owner);
  const claims = { role: "authenticated", sub: owner };
  assert.deepEqual(await readPolicies(db.sql, { topic, claims }), {
    broadcast: true,
    presence: false,
  });
  assert.deepEqual(
    await readPolicies(db.sql, {
      topic,
      claims: { role: "authenticated", sub: crypto.randomUUID() },
    }),
    { broadcast: false, presence: false },
  );
  assert.deepEqual(await readPolicies(db.sql, { topic, claims: { role: "anon" } }), {
    broadcast: false,
    presence: false,
  });
  assert.deepEqual(await readPolicies(db.sql, { topic: "room:other", claims }), {
    broadcast: false,
    presence: false,
  });
});

Deno.test("the INSERT policies decide write access, and service_role bypasses them", async () => {
  await using db = await freshDatabase();
  const owner = crypto.randomUUID();
  const topic = await withTopicPolicies(db, owner);
  assert.deepEqual(
    await writePolicies(db.sql, { topic, claims: { role: "authenticated", sub: owner } }),
    {
      broadcast: true,
      presence: true,
    },
  );
  assert.deepEqual(
    await writePolicies(db.sql, {
      topic,
      claims: { role: "authenticated", sub: crypto.randomUUID() },
    }),
    { broadcast: false, presence: false },
  );
  assert.deepEqual(await writePolicies(db.sql, { topic, claims: { role: "service_role" } }), {
    broadcast: true,
    presence: true,
  });
});

Deno.test("probes leave no row behind and never reach a listener", async () => {
  await using db = await freshDatabase();
  const owner = crypto.randomUUID();
  const topic = await withTopicPolicies(db, owner);
  const [{ role: before }] = await db.sql`select current_user as role`;
  const heard: string[] = [];
  const { unlisten } = await db.sql.listen("realtime_messages", (x) => heard.push(x));
  try {
    const claims = { role: "authenticated", sub: owner };
    await readPolicies(db.sql, { topic, claims });
    await writePolicies(db.sql, { topic, claims });
    await db.sql`select pg_notify('realtime_messages', 'marker')`;
    for (let i = 0; i < 100 && !heard.includes("marker"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(heard, ["marker"]);
    const [{ n }] = await db.sql`select count(*)::int as n from realtime.messages`;
    assert.equal(n, 0);
    const [{ role }] = await db.sql`select current_user as role`;
    assert.equal(role, before, "the pool's connections are not left as the caller");
  } finally {
    await unlisten();
  }
});
