/**
 * Forging Realtime events (issue 12 §6), attacked as someone who can merely log into the product
 * database would: NOTIFY needs no privilege, so a role holding nothing but CONNECT can send any
 * text on the channel the local Realtime server listens to. The victim is a run's owner subscribed
 * with the real supabase-js client to the run's private channel; whatever the forger sends — a
 * whole made-up message, the id of no row, the id of a message already delivered or of one written
 * before the server started — must reach nobody, while the run's real events (written through
 * `realtime.send`) still arrive, once each and in order. Neither the forger nor another signed-in
 * user can write a message into that channel through `realtime.send` or `realtime.messages`.
 *
 * Real Postgres (a fresh database with every migration), real HTTP on a port from 0. The resource
 * sanitizers are off: realtime-js leaves a 10 s timer behind on disconnect.
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { routeApi } from "../../supabase/local/api_server.ts";
import { createRealtimeServer } from "../../supabase/local/realtime/mod.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";

const SECRET = LOCAL_JWT_SECRET;
const opts = { sanitizeOps: false, sanitizeResources: false };
const INSUFFICIENT_PRIVILEGE = "42501";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(20);
  }
}

interface Received {
  event: string;
  payload: Record<string, unknown>;
  meta?: { id: string };
}

/** A run owned by a fresh user, whose private channel `run:<id>` the owner may join. */
async function createRun(db: TestDatabase): Promise<{ owner: string; runId: string }> {
  const owner = crypto.randomUUID();
  await db.sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
  const [{ id }] = await db.sql<{ id: string }[]>`
    insert into backend_team.runs (owner_id, request) values (${owner}, 'a todo app')
    returning id::text`;
  return { owner, runId: id };
}

/** A login role holding nothing but CONNECT on the test database, and a pool logged in as it. */
async function createForger(db: TestDatabase): Promise<{ sql: Sql; drop(): Promise<void> }> {
  const role = `forger_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const password = crypto.randomUUID();
  await db.sql.unsafe(`create role ${role} login password '${password}'`);
  await db.sql.unsafe(`grant connect on database ${db.name} to ${role}`);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  const sql = connect(url.toString(), { max: 1, applicationName: "forger" });
  return {
    sql,
    async drop() {
      await sql.end({ timeout: 1 });
      await db.sql.unsafe(`revoke connect on database ${db.name} from ${role}`);
      await db.sql.unsafe(`drop role ${role}`);
    },
  };
}

/** The Realtime server behind the stack's router on a free port, for the length of `fn`. */
async function withRealtime(
  db: TestDatabase,
  fn: (h: { url: string; anonKey: string }) => Promise<void>,
): Promise<void> {
  const keys = await apiKeys(SECRET);
  const realtime = await createRealtimeServer({ databaseUrl: db.url, jwtSecret: SECRET });
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
    await fn({ url: `http://127.0.0.1:${server.addr.port}`, anonKey: keys.anon });
  } finally {
    await realtime.close();
    abort.abort();
    await server.finished;
  }
}

/** The owner's supabase-js client, subscribed to `run:<id>` as a private channel. */
async function subscribeAsOwner(
  h: { url: string; anonKey: string },
  owner: string,
  runId: string,
): Promise<{ client: SupabaseClient; events: Received[] }> {
  const token = await mintUserToken(SECRET, { sub: owner });
  const client = createClient(h.url, h.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    accessToken: () => Promise.resolve(token),
  });
  await client.realtime.setAuth();
  const events: Received[] = [];
  const statuses: string[] = [];
  client.channel(`run:${runId}`, { config: { private: true } })
    .on("broadcast", { event: "*" }, (m) => events.push(m as unknown as Received))
    .subscribe((status, err) => statuses.push(err ? `${status}: ${err.message}` : status));
  await until("the owner subscribed", () => statuses.includes("SUBSCRIBED"));
  return { client, events };
}

Deno.test(
  "a NOTIFY forged by a role with only CONNECT reaches no subscriber of a private run channel",
  opts,
  async () => {
    await using db = await freshDatabase();
    const { owner, runId } = await createRun(db);
    const topic = `run:${runId}`;
    // A real message committed before the server starts: its id must not be replayable later.
    await db.sql`select backend_team.append_event(${runId}, 'before.start', '{}'::jsonb)`;
    const [{ id: oldId }] = await db.sql<{ id: string }[]>`
      select id::text from realtime.messages where event = 'before.start'`;
    const forger = await createForger(db);
    try {
      await withRealtime(db, async (h) => {
        const { client, events } = await subscribeAsOwner(h, owner, runId);
        const forge = (text: string) => forger.sql`select pg_notify('realtime_messages', ${text})`;

        // A whole message, as the trigger used to send it; one "to fetch"; ids of no row; the id
        // of a row committed before the server started listening.
        const madeUp = crypto.randomUUID();
        await forge(JSON.stringify({
          id: madeUp,
          topic,
          event: "forged",
          private: true,
          extension: "broadcast",
          payload: { forged: true, id: madeUp },
        }));
        await forge(JSON.stringify({ id: crypto.randomUUID(), fetch: true }));
        await forge(crypto.randomUUID());
        await forge("not json, not a uuid");
        await forge(oldId);
        await forge(JSON.stringify({ id: oldId, fetch: true }));

        // The run's real events still arrive, in order.
        await db.sql`select backend_team.append_event(${runId}, 'legit.first', '{}'::jsonb)`;
        const named = (event: string) => events.find((e) => e.event === event);
        await until("the first real event arrived", () => named("legit.first") !== undefined);
        const firstId = named("legit.first")?.meta?.id;
        assert.ok(firstId, "a delivered message carries its id in meta");

        // Replaying the id of a message already delivered delivers nothing again.
        await forge(firstId);
        await forge(JSON.stringify({ id: firstId, fetch: true }));
        await db.sql`select backend_team.append_event(${runId}, 'legit.second', '{}'::jsonb)`;
        await until("the second real event arrived", () => named("legit.second") !== undefined);
        await delay(500);

        assert.deepEqual(events.map((e) => e.event), ["legit.first", "legit.second"]);
        assert.deepEqual(events.map((e) => e.payload.seq), [2, 3]);
        assert.ok(!events.some((e) => e.payload.forged), "no forged payload was delivered");
        await client.removeAllChannels();
      });
    } finally {
      await forger.drop();
    }
  },
);

Deno.test(
  "neither a CONNECT-only role nor another signed-in user can write a message into a private run channel",
  opts,
  async () => {
    await using db = await freshDatabase();
    const { owner, runId } = await createRun(db);
    const topic = `run:${runId}`;
    const forger = await createForger(db);
    try {
      await withRealtime(db, async (h) => {
        const { client, events } = await subscribeAsOwner(h, owner, runId);

        // The login role cannot reach realtime.send or the table at all.
        for (
          const attempt of [
            forger.sql`select realtime.send('{"forged": true}'::jsonb, 'forged', ${topic}, true)`,
            forger.sql`insert into realtime.messages (topic, extension, event, payload, private)
                       values (${topic}, 'broadcast', 'forged', '{"forged": true}', true)`,
          ]
        ) {
          await assert.rejects(attempt, (e: { code?: string }) => {
            assert.equal(e.code, INSUFFICIENT_PRIVILEGE);
            return true;
          });
        }

        // Another user may call realtime.send (as on Supabase), but no INSERT policy lets a row
        // into the run's topic: the send is a warning and nothing is written.
        const stranger = crypto.randomUUID();
        await db.sql.begin(async (tx) => {
          await tx`
            select set_config('role', 'authenticated', true),
                   set_config('request.jwt.claims',
                              ${JSON.stringify({ role: "authenticated", sub: stranger })}, true)`;
          await tx`select realtime.send('{"forged": true}'::jsonb, 'forged', ${topic}, true)`;
        });
        const [{ n }] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from realtime.messages where event = 'forged'`;
        assert.equal(n, 0, "the stranger's send wrote no row");

        await db.sql`select backend_team.append_event(${runId}, 'legit', '{}'::jsonb)`;
        await until("the real event arrived", () => events.some((e) => e.event === "legit"));
        await delay(300);
        assert.deepEqual(events.map((e) => e.event), ["legit"]);
        await client.removeAllChannels();
      });
    } finally {
      await forger.drop();
    }
  },
);
