/**
 * The local Realtime server's caps (issue 12 §6), attacked as one client with the anon key would:
 * REST broadcast bodies past the payload cap (declared, streamed, or endless), WebSocket frames
 * past the frame cap, one socket joining more channels than allowed or joining too fast, and
 * client broadcasts past the per-second cap. Each is refused with a clear error — 413 JSON on
 * REST, close code 1009 for a frame, a `phx_reply` error with Supabase's reason for joins and
 * messages — and the server keeps serving everyone else.
 *
 * Real Postgres (a fresh database with every migration), real HTTP and WebSockets on a port from
 * 0; small limits passed to the server so the tests stay fast. The resource sanitizers are off:
 * realtime-js leaves a 10 s timer behind on disconnect.
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { apiKeys, LOCAL_JWT_SECRET } from "../../shared/auth/mod.ts";
import { routeApi } from "../../supabase/local/api_server.ts";
import { createRealtimeServer, type RealtimeLimits } from "../../supabase/local/realtime/mod.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";

const SECRET = LOCAL_JWT_SECRET;
const opts = { sanitizeOps: false, sanitizeResources: false };

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(20);
  }
}

interface Harness {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
}

/** The Realtime server with `limits`, behind the stack's router on a free port. */
async function withRealtime(
  db: TestDatabase,
  limits: Partial<RealtimeLimits>,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const keys = await apiKeys(SECRET);
  const realtime = await createRealtimeServer({ databaseUrl: db.url, jwtSecret: SECRET, limits });
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
    });
  } finally {
    await realtime.close();
    abort.abort();
    await server.finished;
  }
}

/** A vsn 1.0.0 frame as the server sends it. */
interface Frame {
  topic: string;
  event: string;
  payload: { status?: string; response?: { reason?: string }; [k: string]: unknown };
  ref: string | null;
}

/** A raw Phoenix socket (vsn 1.0.0, JSON objects), for frames no well-behaved client sends. */
class RawSocket {
  readonly frames: Frame[] = [];
  closed: CloseEvent | undefined;
  #ref = 0;

  private constructor(readonly ws: WebSocket, readonly apikey: string) {
    ws.onmessage = (e) => {
      if (typeof e.data === "string") this.frames.push(JSON.parse(e.data));
    };
    ws.onclose = (e) => this.closed = e;
  }

  static async open(h: Harness): Promise<RawSocket> {
    const url = `${
      h.url.replace("http", "ws")
    }/realtime/v1/websocket?apikey=${h.anonKey}&vsn=1.0.0`;
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    return new RawSocket(ws, h.anonKey);
  }

  /** Sends a push and returns its ref. */
  push(topic: string, event: string, payload: unknown, joinRef?: string): string {
    const ref = String(++this.#ref);
    this.ws.send(JSON.stringify({ topic, event, payload, ref, join_ref: joinRef ?? ref }));
    return ref;
  }

  join(topic: string, config: Record<string, unknown> = {}): string {
    return this.push(topic, "phx_join", { config, access_token: this.apikey });
  }

  reply(ref: string): Frame | undefined {
    return this.frames.find((f) => f.event === "phx_reply" && f.ref === ref);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise((resolve) => this.ws.addEventListener("close", resolve));
    this.ws.close();
    await closed;
  }
}

async function subscribedClient(h: Harness, topic: string) {
  const client = createClient(h.url, h.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const statuses: string[] = [];
  const events: { event: string; payload: Record<string, unknown> }[] = [];
  client.channel(topic)
    .on("broadcast", { event: "*" }, (m) => events.push(m as unknown as (typeof events)[number]))
    .subscribe((s, err) => statuses.push(err ? `${s}: ${err.message}` : s));
  await until(`subscribed to ${topic}`, () => statuses.includes("SUBSCRIBED"));
  return { client, events, statuses };
}

interface ErrorJson {
  error: { code: string; message: string };
}

async function assertTooLarge(res: Response, limit: number): Promise<void> {
  assert.equal(res.status, 413);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json() as ErrorJson;
  assert.equal(body.error.code, "payload_too_large");
  assert.match(body.error.message, new RegExp(`${limit}`));
}

Deno.test(
  "a REST broadcast body over the payload cap gets 413 JSON, declared, streamed or endless",
  opts,
  async () => {
    await using db = await freshDatabase();
    const limit = 1024;
    await withRealtime(db, { maxPayloadBytes: limit }, async (h) => {
      const lobby = `lobby:${crypto.randomUUID()}`;
      const listener = await subscribedClient(h, lobby);
      const base = `${h.url}/realtime/v1/api/broadcast`;
      const single = `${base}/${encodeURIComponent(lobby)}/events/note`;
      const headers = { apikey: h.anonKey, "content-type": "application/json" };

      // Declared: the batch endpoint with a Content-Length over the cap.
      const big = JSON.stringify({
        messages: [{ topic: lobby, event: "note", payload: { pad: "x".repeat(4 * limit) } }],
      });
      await assertTooLarge(await fetch(base, { method: "POST", headers, body: big }), limit);

      // Streamed: no Content-Length, chunks that pass the cap only together.
      const chunks = (n: number) =>
        new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < n; i++) c.enqueue(new TextEncoder().encode(" ".repeat(300)));
            c.close();
          },
        });
      await assertTooLarge(
        await fetch(single, { method: "POST", headers, body: chunks(8) }),
        limit,
      );
      await assertTooLarge(
        await fetch(single, {
          method: "POST",
          headers: { ...headers, "content-type": "application/octet-stream" },
          body: new Uint8Array(limit + 1),
        }),
        limit,
      );

      // Endless: the answer comes once the cap is passed, not after the (never) end.
      let pulled = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(c) {
          pulled += 16_384;
          c.enqueue(new Uint8Array(16_384).fill(32));
        },
      });
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 5_000);
      try {
        const res = await fetch(single, {
          method: "POST",
          headers,
          body: endless,
          signal: abort.signal,
        });
        await assertTooLarge(res, limit);
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
      assert.ok(pulled < 64 * 1024 * 1024, `the server stopped reading (${pulled} bytes pulled)`);

      // Under the cap, the same endpoints still deliver.
      const ok = await fetch(single, { method: "POST", headers, body: JSON.stringify({ n: 1 }) });
      assert.equal(ok.status, 202);
      await ok.body?.cancel();
      await until("the small message arrived", () => listener.events.length === 1);
      await delay(200);
      assert.deepEqual(listener.events.map((e) => e.payload), [{ n: 1 }]);
      await listener.client.removeAllChannels();
    });
  },
);

Deno.test(
  "a batch carrying more messages than the per-second cap is refused whole with 422",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, { maxEventsPerSecond: 3 }, async (h) => {
      const lobby = `lobby:${crypto.randomUUID()}`;
      const listener = await subscribedClient(h, lobby);
      const post = (count: number) =>
        fetch(`${h.url}/realtime/v1/api/broadcast`, {
          method: "POST",
          headers: { apikey: h.anonKey, "content-type": "application/json" },
          body: JSON.stringify({
            messages: Array.from({ length: count }, (_, n) => ({
              topic: lobby,
              event: "note",
              payload: { n },
            })),
          }),
        });
      const over = await post(4);
      assert.equal(over.status, 422);
      const body = await over.json() as { errors: Record<string, string[]> };
      assert.ok(body.errors.messages?.length, "the error names the messages field");
      const ok = await post(3);
      assert.equal(ok.status, 202);
      await ok.body?.cancel();
      await until("the accepted batch arrived", () => listener.events.length === 3);
      await delay(200);
      assert.equal(listener.events.length, 3);
      await listener.client.removeAllChannels();
    });
  },
);

Deno.test(
  "a frame over the cap closes that socket with 1009, unparsed, and the server keeps serving others",
  opts,
  async () => {
    await using db = await freshDatabase();
    const maxFrameBytes = 4096;
    await withRealtime(db, { maxFrameBytes }, async (h) => {
      const lobby = `lobby:${crypto.randomUUID()}`;
      const bystander = await subscribedClient(h, lobby);

      // A well-formed join, padded past the cap: were it parsed, the join would succeed.
      const text = await RawSocket.open(h);
      const ref = text.push(`realtime:${lobby}`, "phx_join", {
        config: {},
        access_token: h.anonKey,
        pad: "x".repeat(2 * maxFrameBytes),
      });
      await until("the text socket closed", () => text.closed !== undefined);
      assert.equal(text.closed?.code, 1009);
      assert.match(text.closed?.reason ?? "", /4096/);
      assert.equal(text.reply(ref), undefined, "the oversized join was never answered");

      // The same for a binary frame (a kind-3 broadcast push).
      const binary = await RawSocket.open(h);
      binary.ws.send(new Uint8Array(maxFrameBytes + 1).fill(3));
      await until("the binary socket closed", () => binary.closed !== undefined);
      assert.equal(binary.closed?.code, 1009);

      // A frame right at the cap is still read.
      const atCap = await RawSocket.open(h);
      const frameFor = (pad: string) =>
        JSON.stringify({
          topic: `realtime:${lobby}`,
          event: "phx_join",
          payload: { config: {}, access_token: h.anonKey, pad },
          ref: "1",
          join_ref: "1",
        });
      const bare = new TextEncoder().encode(frameFor("")).byteLength;
      atCap.ws.send(frameFor("y".repeat(maxFrameBytes - bare)));
      await until("the frame at the cap was answered", () => atCap.reply("1") !== undefined);
      assert.equal(atCap.reply("1")?.payload.status, "ok");

      // Everyone else is still served: the bystander receives, a newcomer joins.
      await db.sql`select realtime.send('{"n": 1}'::jsonb, 'note', ${lobby}, false)`;
      await until("the bystander received", () => bystander.events.length === 1);
      const newcomer = await subscribedClient(h, `lobby:${crypto.randomUUID()}`);
      assert.deepEqual(bystander.statuses, ["SUBSCRIBED"]);
      await atCap.close();
      await bystander.client.removeAllChannels();
      await newcomer.client.removeAllChannels();
    });
  },
);

Deno.test(
  "joining one channel more than the per-socket cap is refused with ChannelRateLimitReached",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, { maxChannelsPerClient: 3 }, async (h) => {
      const client: SupabaseClient = createClient(h.url, h.anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
      });
      const statuses: string[][] = [];
      const channels = Array.from({ length: 4 }, (_, i) => {
        const mine: string[] = [];
        statuses.push(mine);
        return client.channel(`lobby:${i}:${crypto.randomUUID()}`)
          .subscribe((s, err) => mine.push(err ? `${s}: ${err.message}` : s));
      });
      await until(
        "three joined and one was refused",
        () =>
          statuses.filter((s) => s.includes("SUBSCRIBED")).length === 3 &&
          statuses.some((s) => s.some((x) => x.startsWith("CHANNEL_ERROR"))),
      );
      const refused = statuses.findIndex((s) => !s.includes("SUBSCRIBED"));
      assert.equal(
        statuses[refused][0],
        "CHANNEL_ERROR: ChannelRateLimitReached: Too many channels",
      );

      // Leaving frees a slot.
      await client.removeChannel(channels[refused]);
      await client.removeChannel(channels[(refused + 1) % 4]);
      const later: string[] = [];
      client.channel(`lobby:later:${crypto.randomUUID()}`).subscribe((s) => later.push(s));
      await until("a join after a leave succeeded", () => later.includes("SUBSCRIBED"));
      await client.removeAllChannels();
    });
  },
);

Deno.test(
  "concurrent joins cannot slip past the channel cap",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, { maxChannelsPerClient: 5 }, async (h) => {
      const socket = await RawSocket.open(h);
      const refs = Array.from(
        { length: 12 },
        (_, i) => socket.join(`realtime:lobby:${i}:${crypto.randomUUID()}`),
      );
      await until("every join was answered", () => refs.every((r) => socket.reply(r)));
      const replies = refs.map((r) => socket.reply(r)!);
      assert.equal(replies.filter((r) => r.payload.status === "ok").length, 5);
      for (const r of replies.filter((r) => r.payload.status !== "ok")) {
        assert.equal(r.payload.status, "error");
        assert.equal(r.payload.response?.reason, "ChannelRateLimitReached: Too many channels");
      }
      await socket.close();
    });
  },
);

Deno.test(
  "joins faster than the per-second cap are refused with ClientJoinRateLimitReached, then allowed again",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, { maxJoinsPerSecond: 5 }, async (h) => {
      const socket = await RawSocket.open(h);
      const refs = Array.from(
        { length: 8 },
        (_, i) => socket.join(`realtime:lobby:${i}:${crypto.randomUUID()}`),
      );
      await until("every join was answered", () => refs.every((r) => socket.reply(r)));
      const replies = refs.map((r) => socket.reply(r)!);
      assert.equal(replies.filter((r) => r.payload.status === "ok").length, 5);
      const refusedReplies = replies.filter((r) => r.payload.status === "error");
      assert.equal(refusedReplies.length, 3);
      for (const r of refusedReplies) {
        assert.equal(
          r.payload.response?.reason,
          "ClientJoinRateLimitReached: Too many joins per second",
        );
      }
      await delay(1_100);
      const again = socket.join(`realtime:lobby:again:${crypto.randomUUID()}`);
      await until("the later join was answered", () => socket.reply(again) !== undefined);
      assert.equal(socket.reply(again)?.payload.status, "ok");
      assert.equal(socket.closed, undefined, "the socket stays open");
      await socket.close();
    });
  },
);

Deno.test(
  "client broadcasts past the per-second cap are dropped with MessagePerSecondRateLimitReached",
  opts,
  async () => {
    await using db = await freshDatabase();
    await withRealtime(db, { maxEventsPerSecond: 3 }, async (h) => {
      const lobby = `lobby:${crypto.randomUUID()}`;
      const listener = await subscribedClient(h, lobby);
      const socket = await RawSocket.open(h);
      const joinRef = socket.join(`realtime:${lobby}`, { broadcast: { ack: true } });
      await until("joined", () => socket.reply(joinRef)?.payload.status === "ok");
      const refs = Array.from(
        { length: 5 },
        (_, n) =>
          socket.push(
            `realtime:${lobby}`,
            "broadcast",
            { type: "broadcast", event: "note", payload: { n } },
            joinRef,
          ),
      );
      await until("every push was answered", () => refs.every((r) => socket.reply(r)));
      const replies = refs.map((r) => socket.reply(r)!);
      assert.deepEqual(replies.map((r) => r.payload.status), ["ok", "ok", "ok", "error", "error"]);
      assert.equal(
        replies[3].payload.response?.reason,
        "MessagePerSecondRateLimitReached: Too many messages per second",
      );
      await until("the accepted ones arrived", () => listener.events.length === 3);
      await delay(300);
      assert.deepEqual(listener.events.map((e) => e.payload.n), [0, 1, 2]);
      await socket.close();
      await listener.client.removeAllChannels();
    });
  },
);
