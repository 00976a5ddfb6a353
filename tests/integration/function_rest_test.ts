/**
 * The PostgREST stand-in functions reach at `SUPABASE_URL` during a function run, driven by the
 * real supabase-js client on a PostgreSQL shadow: row level security decides what each token
 * sees, the calls supabase-js makes for filters, ordering, `.single()`, inserts with `.select()`,
 * updates, deletes and RPC answer as PostgREST does, and what it does not support is a 400
 * naming it.
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { apiKeys, mintUserToken } from "../../shared/auth/mod.ts";
import { createPostgresShadow } from "../../shared/shadow/mod.ts";
import { readCatalog, restStandIn } from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

const SCHEMA = `
create table public.notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id),
  title text not null,
  done boolean not null default false
);
alter table public.notes enable row level security;
create policy notes_own on public.notes for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant select, insert, update, delete on public.notes to authenticated;
create table public.boards (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id),
  name text not null
);
create table public.cards (
  id uuid primary key default gen_random_uuid(),
  board_id uuid not null references public.boards (id),
  user_id uuid not null default auth.uid() references auth.users (id),
  title text not null
);
alter table public.boards enable row level security;
alter table public.cards enable row level security;
create policy boards_own on public.boards for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy cards_own on public.cards for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant select, insert on public.boards, public.cards to authenticated;
create function public.count_notes() returns bigint language sql stable set search_path = ''
  as $$ select count(*) from public.notes $$;
grant execute on function public.count_notes() to authenticated;
create function public.slow() returns int language sql set search_path = ''
  as $$ select 1 from pg_catalog.pg_sleep(3) $$;
grant execute on function public.slow() to authenticated;
`;

Deno.test("supabase-js against the PostgREST stand-in acts as each caller's token", async () => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  await session.exec(SCHEMA);
  const secret = "a-probe-secret-of-at-least-32-characters!";
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  for (const id of [a, b]) {
    await session.query(
      "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
      [id, `${id}@example.com`],
    );
  }
  const rest = restStandIn(session, {
    secret,
    timeoutMs: 300,
    catalog: await readCatalog(session),
  });
  const abort = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: abort.signal,
    onListen() {},
  }, rest);
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const keys = await apiKeys(secret);
    const as = async (sub: string) =>
      createClient(url, keys.anon, {
        auth: { persistSession: false },
        global: { headers: { Authorization: `Bearer ${await mintUserToken(secret, { sub })}` } },
      });
    const userA = await as(a);
    const userB = await as(b);

    const inserted = await userA.from("notes").insert([{ title: "one" }, { title: "two" }])
      .select("id,title");
    assert.equal(inserted.error, null);
    assert.deepEqual(inserted.data?.map((n) => n.title), ["one", "two"]);
    assert.equal((await userA.from("notes").insert({ title: "quiet" })).status, 201);

    const mine = await userA.from("notes").select("title").in("title", ["one", "two"])
      .order("title", { ascending: false }).limit(5);
    assert.deepEqual(mine.data, [{ title: "two" }, { title: "one" }]);
    assert.deepEqual((await userB.from("notes").select("*")).data, []);

    const single = await userA.from("notes").select("id, label:title").eq("title", "one").single();
    assert.equal(single.data?.label, "one");
    const none = await userB.from("notes").select("*").eq("title", "one").single();
    assert.equal(none.error?.code, "PGRST116");

    const forged = await userB.from("notes").insert({ title: "x", user_id: a });
    assert.equal(forged.error?.code, "42501");

    const updated = await userA.from("notes").update({ done: true }).eq("title", "two")
      .select("done");
    assert.deepEqual(updated.data, [{ done: true }]);
    assert.deepEqual(
      (await userB.from("notes").update({ done: false }).neq("title", "")
        .select()).data,
      [],
    );

    assert.equal((await userA.rpc("count_notes")).data, 3);
    assert.equal((await userB.rpc("count_notes")).data, 0);

    const admin = createClient(url, keys.serviceRole, { auth: { persistSession: false } });
    assert.equal((await admin.from("notes").select("id")).data?.length, 3);
    assert.equal((await userB.from("notes").delete().eq("title", "one").select()).data?.length, 0);
    assert.equal((await userA.from("notes").delete().eq("title", "one").select()).data?.length, 1);

    const slow = await userA.rpc("slow");
    assert.equal(slow.status, 500);
    assert.equal(slow.error?.code, "57014");
    assert.ok(session.alive, "a slow request is cancelled, the session lives on");
    assert.equal((await userA.rpc("count_notes")).data, 2);

    const unrelated = await userA.from("notes").select("*, owner:users(*)");
    assert.equal(unrelated.status, 400);
    assert.match(unrelated.error?.message ?? "", /no foreign key relates notes and users/);
    const unsupported = await userA.from("notes").select("*").or("done.eq.true,title.eq.two");
    assert.equal(unsupported.status, 400);
    assert.match(unsupported.error?.message ?? "", /or= filters are not supported/);

    // Embedding along foreign keys, both ways, filtered by RLS like the top level.
    const board = await userA.from("boards").insert({ name: "home" }).select("id").single();
    await userA.from("cards").insert([{ board_id: board.data!.id, title: "a" }, {
      board_id: board.data!.id,
      title: "b",
    }]);
    await admin.from("cards").insert({ board_id: board.data!.id, user_id: b, title: "theirs" });
    const boards = await userA.from("boards").select("name, cards(title)").order("name");
    assert.deepEqual(boards.data, [{ name: "home", cards: [{ title: "a" }, { title: "b" }] }]);
    const cards = await userA.from("cards").select("title, board:boards(name)").eq("title", "a")
      .single();
    assert.deepEqual(cards.data, { title: "a", board: { name: "home" } });
    const counted = await userA.from("cards").select("*", { count: "exact", head: true });
    assert.equal(counted.count, 2);
    const forgedToken = createClient(url, keys.anon, {
      auth: { persistSession: false },
      global: {
        headers: {
          Authorization: `Bearer ${await mintUserToken("another-secret-of-32-characters-or-more", {
            sub: a,
          })}`,
        },
      },
    });
    assert.equal((await forgedToken.from("notes").select("*")).status, 401);
  } finally {
    abort.abort();
    await server.finished;
  }
});
