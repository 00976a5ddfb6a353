/**
 * The local Realtime server, driven only through the real `@supabase/supabase-js` client, as an
 * app would: private channels authorized by RLS policies on `realtime.messages`, Broadcast from
 * Database (`realtime.send`) delivered after commit and in commit order, client broadcasts (binary
 * frames on vsn 2.0.0), the REST broadcast endpoints, heartbeats and idle sockets, token expiry,
 * and reconnecting after a server restart.
 *
 * Each test creates, in its own database, a `public.rooms` table and policies in the style of
 * Supabase's authorization guide: the owner and the listed readers of a room receive on the
 * private topic `room:<id>`, only the owner may send to it.
 *
 * A user token reaches Realtime through supabase-js's `accessToken` option: supabase-js 2.119.1
 * replaces a token given to `supabase.realtime.setAuth(token)` with its own (the signed-in
 * session's, else the anon key) as soon as it connects, against the local server as on Supabase.
 *
 * The resource sanitizers are off: realtime-js leaves a 10 s timer behind on disconnect.
 */
import assert from "node:assert/strict";
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { routeApi } from "../../supabase/local/api_server.ts";
import { createRealtimeServer, type RealtimeServer } from "../../supabase/local/realtime/mod.ts";
import { startLocalStack } from "../../supabase/local/stack.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";

const SECRET = LOCAL_JWT_SECRET;
const opts = { sanitizeOps: false, sanitizeResources: false };

type Vsn = "1.0.0" | "2.0.0";

interface Harness {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  realtime: RealtimeServer;
}

/** Serves the Realtime server behind the stack's router on a free port, for the test's length. */
async function withRealtime(
  db: TestDatabase,
  fn: (h: Harness) => Promise<void>,
  tuning: { idleTimeoutMs?: number } = {},
): Promise<void> {
  const keys = await apiKeys(SECRET);
  const realtime = await createRealtimeServer({
    databaseUrl: db.url,
    jwtSecret: SECRET,
    ...tuning,
  });
  const functions = {
    fetch: () => Promise.resolve(new Response("no functions here", { status: 404 })),
    close: () => Promise.resolve(),
  };
  const abort = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    routeApi({ functions, realtime }),
  );
  try {
    await fn({
      url: `http://127.0.0.1:${server.addr.port}`,
      anonKey: keys.anon,
      serviceRoleKey: keys.serviceRole,
      realtime,
    });
  } finally {
    await realtime.close();
    abort.abort();
    await server.finished;
  }
}

interface Rooms {
  owner: string;
  reader: string;
  stranger: string;
  topic: string;
}

/** Creates a room, its owner and reader, and the policies that guard its topic. */
async function createRoom(db: TestDatabase): Promise<Rooms> {
  await db.sql.unsafe(`
    create table if not exists public.rooms (
      id uuid primary key,
      owner uuid not null,
      readers uuid[] not null default '{}'
    );
    alter table public.rooms enable row level security;
    grant select on public.rooms to authenticated;
    create policy "members see their rooms" on public.rooms for select to authenticated
      using (owner = (select auth.uid()) or (select auth.uid()) = any (readers));
    create policy "room members receive" on realtime.messages for select to authenticated
      using (exists (select 1 from public.rooms r
                      where 'room:' || r.id = (select realtime.topic())
                        and (r.owner = (select auth.uid()) or (select auth.uid()) = any (r.readers))));
    create policy "room owners send" on realtime.messages for insert to authenticated
      with check (exists (select 1 from public.rooms r
                           where 'room:' || r.id = (select realtime.topic())
                             and r.owner = (select auth.uid())));
  `);
  const room = crypto.randomUUID();
  const rooms = {
    owner: crypto.randomUUID(),
    reader: crypto.randomUUID(),
    stranger: crypto.randomUUID(),
    topic: `room:${room}`,
  };
  await db.sql`insert into public.rooms (id, owner, readers)
               values (${room}, ${rooms.owner}, ${[rooms.reader]})`;
  return rooms;
}

interface ClientOptions {
  /** The user token; without it the client uses the anon key, as supabase-js does. */
  token?: () => string;
  vsn?: Vsn;
  heartbeatIntervalMs?: number;
}

async function client(h: { url: string; anonKey: string }, o: ClientOptions = {}) {
  const supabase = createClient(h.url, h.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...(o.token ? { accessToken: () => Promise.resolve(o.token!()) } : {}),
    realtime: {
      vsn: o.vsn ?? "2.0.0",
      ...(o.heartbeatIntervalMs ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
    },
  });
  // Fetch the token now, so the first join already carries it.
  await supabase.realtime.setAuth();
  return supabase;
}

interface Broadcast {
  type: string;
  event: string;
  payload: Record<string, unknown> | ArrayBuffer;
  meta?: { id: string };
}

interface Watched {
  channel: RealtimeChannel;
  statuses: string[];
  events: Broadcast[];
  system: { status: string; message: string; extension: string }[];
}

function watch(
  supabase: SupabaseClient,
  topic: string,
  config: { private?: boolean; broadcast?: { self?: boolean; ack?: boolean } } = {},
): Watched {
  const w: Watched = { channel: undefined!, statuses: [], events: [], system: [] };
  w.channel = supabase.channel(topic, { config })
    .on("broadcast", { event: "*" }, (m) => w.events.push(m as Broadcast))
    .on("system", {}, (m) => w.system.push(m))
    .subscribe((status, err) => w.statuses.push(err ? `${status}: ${err.message}` : status));
  return w;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(20);
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const subscribed = (w: Watched) => until("subscribed", () => w.statuses.includes("SUBSCRIBED"));

const refused = (w: Watched) =>
  until("refused", () => w.statuses.some((s) => s.startsWith("CHANNEL_ERROR")));

/** Sends `count` events numbered from `from` with realtime.send, in one transaction. */
async function sendEvents(db: TestDatabase, topic: string, from: number, count: number) {
  await db.sql.begin(async (tx) => {
    for (let n = from; n < from + count; n++) {
      await tx`select realtime.send(${tx.json({ n })}, 'tick', ${topic}, true)`;
    }
  });
}

const numbers = (w: Watched) =>
  w.events.map((e) => (e.payload as Record<string, unknown>).n as number);

for (const vsn of ["1.0.0", "2.0.0"] as const) {
  Deno.test(
    `the owner receives every committed realtime.send on a private topic, in commit order (vsn ${vsn})`,
    opts,
    async () => {
      await using db = await freshDatabase();
      const rooms = await createRoom(db);
      await withRealtime(db, async (h) => {
        const token = await mintUserToken(SECRET, { sub: rooms.owner });
        const owner = await client(h, { token: () => token, vsn });
        const w = watch(owner, rooms.topic, { private: true });
        await subscribed(w);

        // 200 events from 10 transactions, with a rolled-back one in the middle.
        for (let t = 0; t < 10; t++) {
          await sendEvents(db, rooms.topic, t * 20, 20);
          if (t === 4) {
            await assert.rejects(db.sql.begin(async (tx) => {
              await tx`select realtime.send('{"n": -1}'::jsonb, 'tick', ${rooms.topic}, true)`;
              throw new Error("roll back");
            }));
          }
        }
        await until("200 events arrived", () => w.events.length >= 200);
        await delay(200);
        assert.deepEqual(numbers(w), Array.from({ length: 200 }, (_, i) => i));
        for (const e of w.events) {
          assert.equal(e.type, "broadcast");
          assert.equal(e.event, "tick");
          const payload = e.payload as Record<string, unknown>;
          assert.equal(e.meta?.id, payload.id, "meta.id is the message id realtime.send put in");
        }
        assert.equal(new Set(w.events.map((e) => e.meta?.id)).size, 200);
        assert.deepEqual(w.statuses, ["SUBSCRIBED"]);
        await owner.removeAllChannels();
      });
    },
  );
}

Deno.test(
  "a message too large for a notification is read back by id and keeps its place in the order",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const token = await mintUserToken(SECRET, { sub: rooms.owner });
      const owner = await client(h, { token: () => token });
      const w = watch(owner, rooms.topic, { private: true });
      await subscribed(w);
      const big = "x".repeat(20_000);
      await db.sql.begin(async (tx) => {
        for (let n = 0; n < 6; n++) {
          const payload = n % 2 === 1 ? { n, big } : { n };
          await tx`select realtime.send(${tx.json(payload)}, 'tick', ${rooms.topic}, true)`;
        }
      });
      await until("all six arrived", () => w.events.length >= 6);
      assert.deepEqual(numbers(w), [0, 1, 2, 3, 4, 5]);
      assert.equal((w.events[3].payload as { big: string }).big, big);
      await owner.removeAllChannels();
    });
  },
);

Deno.test(
  "another user and anon are refused a private topic with an Unauthorized reason and receive nothing",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const ownerToken = await mintUserToken(SECRET, { sub: rooms.owner });
      const strangerToken = await mintUserToken(SECRET, { sub: rooms.stranger });
      const owner = await client(h, { token: () => ownerToken });
      const stranger = await client(h, { token: () => strangerToken, vsn: "1.0.0" });
      const anon = await client(h);
      const publicListener = await client(h);

      const o = watch(owner, rooms.topic, { private: true });
      const s = watch(stranger, rooms.topic, { private: true });
      const a = watch(anon, rooms.topic, { private: true });
      // A public join of the same name lives in another namespace.
      const p = watch(publicListener, rooms.topic);
      await Promise.all([subscribed(o), refused(s), refused(a), subscribed(p)]);
      const reason =
        `CHANNEL_ERROR: Unauthorized: You do not have permissions to read from this Channel topic: ${rooms.topic}`;
      assert.equal(s.statuses[0], reason);
      assert.equal(a.statuses[0], reason);

      await sendEvents(db, rooms.topic, 0, 5);
      await db.sql`select realtime.send('{"n": 100}'::jsonb, 'tick', ${rooms.topic}, false)`;
      await until("the owner has the private events", () => o.events.length >= 5);
      await until("the public join has the public event", () => p.events.length >= 1);
      await delay(300);
      assert.deepEqual(
        numbers(o),
        [0, 1, 2, 3, 4],
        "the public message is not on the private join",
      );
      assert.deepEqual(numbers(p), [100], "private messages are not on the public join");
      assert.equal(s.events.length, 0);
      assert.equal(a.events.length, 0);
      assert.ok(!s.statuses.includes("SUBSCRIBED") && !a.statuses.includes("SUBSCRIBED"));
      for (const c of [owner, stranger, anon, publicListener]) await c.removeAllChannels();
    });
  },
);

Deno.test(
  "with the product's own policy, a run's owner receives its events on run:<id> and others are refused",
  opts,
  async () => {
    await using db = await freshDatabase();
    const owner = crypto.randomUUID();
    const stranger = crypto.randomUUID();
    await db.sql`insert into auth.users (id, email) values (${owner}, 'owner@example.com')`;
    const [{ id: runId }] = await db.sql`
      insert into backend_team.runs (owner_id, request) values (${owner}, 'a todo app')
      returning id::text`;
    await withRealtime(db, async (h) => {
      const ownerToken = await mintUserToken(SECRET, { sub: owner });
      const strangerToken = await mintUserToken(SECRET, { sub: stranger });
      const o = watch(await client(h, { token: () => ownerToken }), `run:${runId}`, {
        private: true,
      });
      const s = watch(await client(h, { token: () => strangerToken }), `run:${runId}`, {
        private: true,
      });
      await Promise.all([subscribed(o), refused(s)]);
      for (let i = 0; i < 3; i++) {
        await db.sql`select backend_team.append_event(${runId}, 'test.progress', ${
          db.sql.json({ i })
        })`;
      }
      await until("three run events arrived", () => o.events.length === 3);
      assert.deepEqual(o.events.map((e) => (e.payload as { seq: number }).seq), [1, 2, 3]);
      assert.deepEqual(o.events.map((e) => e.event), Array(3).fill("test.progress"));
      await delay(200);
      assert.equal(s.events.length, 0);
      await o.channel.socket.disconnect();
      await s.channel.socket.disconnect();
    });
  },
);

Deno.test(
  "an event is delivered only after its transaction commits, and a rolled-back one never",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const token = await mintUserToken(SECRET, { sub: rooms.owner });
      const owner = await client(h, { token: () => token });
      const w = watch(owner, rooms.topic, { private: true });
      await subscribed(w);

      const held = await db.sql.reserve();
      try {
        await held`begin`;
        await held`select realtime.send('{"n": 1}'::jsonb, 'tick', ${rooms.topic}, true)`;
        await delay(500);
        assert.equal(w.events.length, 0, "nothing arrives while the transaction is open");
        await held`commit`;
        await until("the committed event arrived", () => w.events.length === 1);

        await held`begin`;
        await held`select realtime.send('{"n": 2}'::jsonb, 'tick', ${rooms.topic}, true)`;
        await held`rollback`;
      } finally {
        held.release();
      }
      await db.sql`select realtime.send('{"n": 3}'::jsonb, 'tick', ${rooms.topic}, true)`;
      await until("the later event arrived", () => w.events.length >= 2);
      await delay(200);
      assert.deepEqual(numbers(w), [1, 3]);
      await owner.removeAllChannels();
    });
  },
);

Deno.test(
  "heartbeats keep a connection open through 65 seconds without any other traffic",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    // Server defaults: sockets silent for 60 s are closed; realtime-js heartbeats every 25 s.
    await withRealtime(db, async (h) => {
      const token = await mintUserToken(SECRET, { sub: rooms.owner });
      const owner = await client(h, { token: () => token });
      const w = watch(owner, rooms.topic, { private: true });
      await subscribed(w);
      await delay(65_000);
      assert.deepEqual(w.statuses, ["SUBSCRIBED"], "the channel never dropped");
      assert.equal(h.realtime.connectionCount, 1);
      await sendEvents(db, rooms.topic, 0, 1);
      await until("the event arrived", () => w.events.length === 1);
      await owner.removeAllChannels();
    });
  },
);

Deno.test(
  "a socket that sends nothing, not even heartbeats, is closed after the idle timeout",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, async (h) => {
      const topic = `lobby:${crypto.randomUUID()}`;
      const silent = await client(h, { heartbeatIntervalMs: 600_000 });
      const beating = await client(h, { heartbeatIntervalMs: 400 });
      const s = watch(silent, topic);
      const b = watch(beating, topic);
      await Promise.all([subscribed(s), subscribed(b)]);
      const started = Date.now();
      await until("the silent socket was closed", () => s.statuses.length > 1, 5_000);
      assert.match(s.statuses[1], /^CHANNEL_ERROR: socket closed: 1000 \(idle timeout\)$/);
      assert.ok(Date.now() - started < 3_000);
      await delay(2_500);
      assert.deepEqual(b.statuses, ["SUBSCRIBED"], "a socket sending heartbeats stays open");
      await silent.removeAllChannels();
      await beating.removeAllChannels();
    }, { idleTimeoutMs: 1_500 });
  },
);

Deno.test(
  "after the server restarts on the same port, realtime-js rejoins and receives new events",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    const first = await startLocalStack({ port: 0, databaseUrl: db.url, functions: [] });
    const port = Number(new URL(first.apiUrl).port);
    const token = await mintUserToken(SECRET, { sub: rooms.owner });
    const owner = await client({ url: first.apiUrl, anonKey: first.anonKey }, {
      token: () => token,
    });
    const w = watch(owner, rooms.topic, { private: true });
    let second;
    try {
      await subscribed(w);
      await sendEvents(db, rooms.topic, 0, 1);
      await until("the first event arrived", () => w.events.length === 1);

      await first.stop();
      second = await startLocalStack({
        port,
        databaseUrl: db.url,
        migrate: false,
        functions: [],
      });
      await until(
        "the channel joined again",
        () => w.statuses.filter((s) => s === "SUBSCRIBED").length === 2,
        20_000,
      );
      await sendEvents(db, rooms.topic, 1, 1);
      await until("the event sent after the restart arrived", () => w.events.length === 2);
      assert.deepEqual(numbers(w), [0, 1]);
    } finally {
      await owner.removeAllChannels();
      await first.stop().catch(() => {});
      await second?.stop();
    }
  },
);

Deno.test(
  "a channel closes when its token expires, unless the client sends a fresh access_token",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const expiring = await mintUserToken(SECRET, { sub: rooms.owner, expiresIn: 3 });
      const owner = await client(h, { token: () => expiring });
      const w = watch(owner, rooms.topic, { private: true });

      // This client swaps in a fresh token; realtime-js pushes it on its next heartbeat.
      let current = await mintUserToken(SECRET, { sub: rooms.owner, expiresIn: 3 });
      const refreshing = await client(h, { token: () => current, heartbeatIntervalMs: 500 });
      const r = watch(refreshing, rooms.topic, { private: true });

      // And this one turns into a user who may not read the topic.
      let switching = await mintUserToken(SECRET, { sub: rooms.owner });
      const switcher = await client(h, { token: () => switching, heartbeatIntervalMs: 500 });
      const x = watch(switcher, rooms.topic, { private: true });

      await Promise.all([subscribed(w), subscribed(r), subscribed(x)]);
      current = await mintUserToken(SECRET, { sub: rooms.owner, expiresIn: 3600 });
      switching = await mintUserToken(SECRET, { sub: rooms.stranger });

      await until("the expired channel closed", () => w.statuses.includes("CLOSED"), 6_000);
      assert.equal(w.system.length, 1);
      assert.equal(w.system[0].status, "error");
      assert.match(w.system[0].message, /^Token has expired \d+ seconds ago$/);

      await until("the switched channel closed", () => x.statuses.includes("CLOSED"), 6_000);
      assert.equal(
        x.system[0]?.message,
        `You no longer have permission to read from this Channel topic: ${rooms.topic}`,
      );

      await delay(1_500); // well past the first token's expiry
      assert.deepEqual(r.statuses, ["SUBSCRIBED"], "the refreshed channel stays open");
      await sendEvents(db, rooms.topic, 0, 1);
      await until("the refreshed channel receives", () => r.events.length === 1);
      await delay(200);
      assert.equal(w.events.length, 0, "a closed channel receives nothing");
      assert.equal(x.events.length, 0);
      for (const c of [owner, refreshing, switcher]) await c.removeAllChannels();
    });
  },
);

Deno.test(
  "a client's broadcast reaches the topic's other clients, sent as binary frames on vsn 2.0.0",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const topic = `lobby:${crypto.randomUUID()}`;
      const sender = await client(h, { vsn: "2.0.0" });
      const v2 = await client(h, { vsn: "2.0.0" });
      const v1 = await client(h, { vsn: "1.0.0" });
      const echo = await client(h, { vsn: "2.0.0" });
      const s = watch(sender, topic, { broadcast: { ack: true } });
      const a = watch(v2, topic);
      const b = watch(v1, topic);
      const e = watch(echo, topic, { broadcast: { self: true } });
      await Promise.all([subscribed(s), subscribed(a), subscribed(b), subscribed(e)]);

      const ack = await s.channel.send({ type: "broadcast", event: "cursor", payload: { x: 1 } });
      assert.equal(ack, "ok", "with ack the server acknowledges the push");
      await until(
        "both versions received it",
        () => a.events.length === 1 && b.events.length === 1,
      );
      for (const got of [a.events[0], b.events[0]]) {
        assert.deepEqual(got, { type: "broadcast", event: "cursor", payload: { x: 1 } });
      }

      const bytes = new Uint8Array([1, 2, 3, 250]);
      await s.channel.send({ type: "broadcast", event: "bytes", payload: bytes.buffer });
      await until("the binary payload arrived", () => a.events.length === 2);
      assert.ok(a.events[1].payload instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(a.events[1].payload as ArrayBuffer), bytes);

      await e.channel.send({ type: "broadcast", event: "mine", payload: { y: 2 } });
      await until(
        "self: true echoes to the sender",
        () => e.events.some((m) => m.event === "mine"),
      );
      await until("the others got it too", () => a.events.length === 3 && b.events.length === 2);
      await delay(200);
      assert.deepEqual(
        s.events.map((m) => m.event),
        ["mine"],
        "without self the sender receives only others' messages",
      );
      assert.equal(b.events.length, 2, "a 1.0.0 socket cannot carry a binary payload");

      // Private: the owner may send, a reader may only receive.
      const ownerToken = await mintUserToken(SECRET, { sub: rooms.owner });
      const readerToken = await mintUserToken(SECRET, { sub: rooms.reader });
      const owner = await client(h, { token: () => ownerToken });
      const reader = await client(h, { token: () => readerToken, vsn: "1.0.0" });
      const o = watch(owner, rooms.topic, { private: true, broadcast: { ack: true } });
      const r = watch(reader, rooms.topic, { private: true, broadcast: { ack: true } });
      await Promise.all([subscribed(o), subscribed(r)]);
      assert.equal(
        await o.channel.send({ type: "broadcast", event: "chat", payload: { t: "hi" } }),
        "ok",
      );
      await until("the reader received the owner's message", () => r.events.length === 1);
      assert.equal(
        await r.channel.send({ type: "broadcast", event: "chat", payload: { t: "no" } }, {
          timeout: 1_000,
        }),
        "timed out",
        "a broadcast the INSERT policy refuses is dropped without a reply",
      );
      await delay(200);
      assert.equal(o.events.length, 0);
      for (const c of [sender, v2, v1, echo, owner, reader]) await c.removeAllChannels();
    });
  },
);

Deno.test(
  "presence is minimal: a presence join syncs an empty state and track is acknowledged",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, async (h) => {
      const supabase = await client(h);
      let syncs = 0;
      const statuses: string[] = [];
      const channel = supabase.channel(`lobby:${crypto.randomUUID()}`)
        .on("presence", { event: "sync" }, () => syncs++)
        .subscribe((status) => statuses.push(status));
      await until("subscribed", () => statuses.includes("SUBSCRIBED"));
      await until("presence synced", () => syncs === 1);
      assert.deepEqual(channel.presenceState(), {});
      assert.equal(await channel.track({ online_at: Date.now() }), "ok");
      assert.equal(await channel.untrack(), "ok");
      await supabase.removeAllChannels();
    });
  },
);

Deno.test(
  "the REST broadcast endpoint delivers what the caller may send and refuses callers without a valid token",
  opts,
  async () => {
    await using db = await freshDatabase();
    const rooms = await createRoom(db);
    await withRealtime(db, async (h) => {
      const ownerToken = await mintUserToken(SECRET, { sub: rooms.owner });
      const readerToken = await mintUserToken(SECRET, { sub: rooms.reader });
      const owner = await client(h, { token: () => ownerToken });
      const reader = await client(h, { token: () => readerToken });
      const listener = await client(h);
      const o = watch(owner, rooms.topic, { private: true });
      const r = watch(reader, rooms.topic, { private: true });
      const lobby = `lobby:${crypto.randomUUID()}`;
      const p = watch(listener, lobby);
      await Promise.all([subscribed(o), subscribed(r), subscribed(p)]);

      // httpSend: the single-message endpoint, as the caller.
      assert.deepEqual(await o.channel.httpSend("note", { n: 1 }), { success: true });
      await until("the reader got the owner's note", () => r.events.length === 1);
      assert.deepEqual(r.events[0], { type: "broadcast", event: "note", payload: { n: 1 } });
      // As on Supabase, a private message the INSERT policy refuses is skipped, still with 202.
      assert.deepEqual(await r.channel.httpSend("note", { n: 2 }), { success: true });

      const endpoint = `${h.url}/realtime/v1/api/broadcast`;
      const post = (headers: Record<string, string>, body: unknown) =>
        fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
      const batch = {
        messages: [
          { topic: rooms.topic, event: "note", payload: { n: 3 }, private: true },
          { topic: lobby, event: "note", payload: { n: 4 } },
        ],
      };
      const asService = await post({
        apikey: h.anonKey,
        authorization: `Bearer ${h.serviceRoleKey}`,
      }, batch);
      assert.equal(asService.status, 202);
      assert.equal(await asService.text(), "");
      await until("the batch arrived", () => r.events.length === 2 && p.events.length === 1);
      assert.deepEqual(r.events.map((e) => (e.payload as { n: number }).n), [1, 3]);
      assert.deepEqual(o.events.map((e) => (e.payload as { n: number }).n), [1, 3]);
      assert.deepEqual(p.events[0].payload, { n: 4 });

      const expired = await mintUserToken(SECRET, { sub: rooms.owner, expiresIn: -10 });
      const forged = await mintUserToken("another-secret-another-secret-another-secret", {
        sub: rooms.owner,
      });
      const refusedHeaders: Record<string, string>[] = [
        {},
        { apikey: "not-a-jwt" },
        { authorization: `Bearer ${expired}` },
        { authorization: `Bearer ${forged}` },
      ];
      for (const headers of refusedHeaders) {
        const res = await post(headers, batch);
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { message: "Unauthorized" });
      }
      const invalid = await post({ apikey: h.anonKey }, { messages: [{ topic: lobby }] });
      assert.equal(invalid.status, 422);
      await invalid.body?.cancel();

      await delay(300);
      assert.equal(r.events.length, 2, "refused and unauthenticated messages were not delivered");
      assert.equal(p.events.length, 1);
      for (const c of [owner, reader, listener]) await c.removeAllChannels();
    });
  },
);

Deno.test(
  "a socket is refused at connect time without an apikey signed by the stack's secret",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, async (h) => {
      const ws = `${h.url.replace("http", "ws")}/realtime/v1/websocket`;
      const forged = await mintUserToken("another-secret-another-secret-another-secret", {
        sub: crypto.randomUUID(),
      });
      for (const apikey of ["", "not-a-jwt", forged]) {
        const res = await fetch(`${h.url}/realtime/v1/websocket?apikey=${apikey}&vsn=2.0.0`);
        assert.equal(res.status, 403);
        assert.equal(typeof (await res.json()).error, "string");
        const socket = new WebSocket(`${ws}?apikey=${apikey}&vsn=2.0.0`);
        const opened = await new Promise<boolean>((resolve) => {
          socket.onopen = () => resolve(true);
          socket.onerror = () => resolve(false);
        });
        assert.equal(opened, false);
      }
      // The anon key is accepted, as on Supabase.
      const socket = new WebSocket(`${ws}?apikey=${h.anonKey}&vsn=2.0.0`);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      const closed = new Promise((resolve) => socket.onclose = resolve);
      socket.close();
      await closed;
    });
  },
);
