/**
 * The orchestrator's REST API end to end: the real app on a loopback server that maps
 * `/functions/v1/orchestrator/...` to the function as Supabase's gateway does, a fresh database with
 * every migration, and the real `@supabase/supabase-js` client where an app would use it (plain
 * `fetch` for malformed input no SDK would send).
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError, type SupabaseClient } from "@supabase/supabase-js";
import { sign } from "hono/jwt";
import { createOrchestratorApp, type OrchestratorDeps } from "../../shared/api/mod.ts";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { connect, type Sql } from "../../shared/db/mod.ts";
import type { Run } from "../../shared/runs/mod.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";
import { openApiProblems, validateWithOfficialSchema } from "../_support/openapi_shape.ts";

interface Api extends AsyncDisposable {
  db: TestDatabase;
  /** Project URL (what apps pass to `createClient`). */
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Runs passed to `onRunSubmitted`, once its work has settled. */
  submitted: Run[];
  /** Background work started by the app (awaited on close). */
  background: Promise<unknown>[];
  /** Errors the app logged as server errors. */
  logged: unknown[];
  /** A new user (in `auth.users`) and their access token. */
  newUser(): Promise<{ id: string; token: string }>;
  /** A supabase-js client sending `token` as the user's bearer token (or the anon key alone). */
  client(token?: string): SupabaseClient;
  /** `fetch` on the orchestrator function's URL (path after `/functions/v1/orchestrator`). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Starts the app on a loopback port behind a gateway-like path mapping, on a fresh database. */
async function startApi(overrides: Partial<OrchestratorDeps> & { sql?: Sql } = {}): Promise<Api> {
  const db = await freshDatabase();
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const submitted: Run[] = [];
  const background: Promise<unknown>[] = [];
  const logged: unknown[] = [];
  const app = createOrchestratorApp({
    sql: db.sql,
    jwtSecret: LOCAL_JWT_SECRET,
    onRunSubmitted: (run) => {
      submitted.push(run);
    },
    waitUntil: (work) => background.push(work),
    logError: (e) => logged.push(e),
    ...overrides,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    // The gateway strips `/functions/v1`; the function sees `/orchestrator/...`.
    const url = new URL(req.url);
    if (!url.pathname.startsWith("/functions/v1/")) return new Response("no", { status: 404 });
    url.pathname = url.pathname.slice("/functions/v1".length);
    // A new request from parts (not `new Request(url, req)`, which would touch `req.signal`).
    return app.fetch(
      new Request(url, { method: req.method, headers: req.headers, body: req.body }),
    );
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const clients: SupabaseClient[] = [];
  return {
    db,
    url,
    anonKey: keys.anon,
    serviceRoleKey: keys.serviceRole,
    submitted,
    background,
    logged,
    async newUser() {
      const id = crypto.randomUUID();
      await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
      return { id, token: await mintUserToken(LOCAL_JWT_SECRET, { sub: id }) };
    },
    client(token?: string) {
      const client = createClient(url, keys.anon, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        global: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
      });
      clients.push(client);
      return client;
    },
    fetch(path: string, init?: RequestInit) {
      return fetch(`${url}/functions/v1/orchestrator${path}`, init);
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(background);
      for (const client of clients) await client.removeAllChannels();
      await server.shutdown();
      await db.close();
    },
  };
}

/** What `functions.invoke` returned: data on success, else the HTTP status and error body. */
interface Outcome<T> {
  status: number;
  data?: T;
  error?: { code: string; message: string; details?: unknown };
}

async function invoke<T>(
  client: SupabaseClient,
  path: string,
  options: { method?: "GET" | "POST"; body?: Record<string, unknown> } = {},
): Promise<Outcome<T>> {
  const { data, error, response } = await client.functions.invoke(`orchestrator${path}`, {
    method: options.method ?? "GET",
    ...(options.body ? { body: options.body } : {}),
  });
  if (!error) return { status: response!.status, data: data as T };
  assert.ok(error instanceof FunctionsHttpError, `expected an HTTP error, got ${error}`);
  const res = error.context as Response;
  const body = await res.json();
  return { status: res.status, error: body.error };
}

function userHeaders(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${token}`, ...extra };
}

const JSON_TYPE = { "Content-Type": "application/json" };

async function createRun(api: Api, token: string, request = "A todo API with per-user lists") {
  const created = await invoke<{ run: Run }>(api.client(token), "/runs", {
    method: "POST",
    body: { request },
  });
  assert.equal(created.status, 202, JSON.stringify(created.error));
  return created.data!.run;
}

/** Moves a run along the state machine as the service side does (superuser calls SQL). */
async function transition(sql: Sql, id: string, to: string, patch: Record<string, unknown> = {}) {
  await sql`select backend_team.transition_run(${id}::uuid, ${to}, ${
    JSON.stringify(patch)
  }::text::jsonb)`;
}

Deno.test("a user submits a run and reads it back with its tasks and events", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const client = api.client(alice.token);

  const created = await invoke<{ run: Run }>(client, "/runs", {
    method: "POST",
    body: {
      request: "A todo API with per-user lists",
      context: { stack: "Next.js + supabase-js", conventions: "snake_case tables" },
      options: { token_budget: 50_000, max_parallel: 2 },
    },
  });
  assert.equal(created.status, 202);
  const run = created.data!.run;
  assert.match(run.id, /^[0-9a-f-]{36}$/);
  assert.equal(run.status, "received");
  assert.equal(run.request, "A todo API with per-user lists");
  assert.deepEqual(run.context, {
    stack: "Next.js + supabase-js",
    conventions: "snake_case tables",
  });
  assert.equal(run.token_budget, 50_000);
  assert.equal(run.prompt_tokens, 0);
  assert.ok(!Number.isNaN(Date.parse(run.created_at)));
  assert.ok(!("owner_id" in run) && !("lease_until" in run), "internal columns are not shown");

  const detail = await invoke<{ run: Run; tasks: unknown[] }>(client, `/runs/${run.id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.data!.run.id, run.id);
  assert.deepEqual(detail.data!.tasks, []);

  const events = await invoke<
    {
      events: { seq: number; type: string; payload: { status?: string } }[];
      next_after: number;
      has_more: boolean;
    }
  >(
    client,
    `/runs/${run.id}/events`,
  );
  assert.equal(events.status, 200);
  assert.ok(events.data!.events.length >= 1);
  assert.equal(events.data!.events[0].seq, 1);
  assert.equal(events.data!.events[0].type, "run.status");
  assert.equal(events.data!.events[0].payload.status, "received");
  assert.equal(events.data!.has_more, false);
  const last = events.data!.next_after;
  const later = await invoke<{ events: unknown[]; next_after: number }>(
    client,
    `/runs/${run.id}/events?after=${last}`,
  );
  assert.deepEqual(later.data!.events, []);
  assert.equal(later.data!.next_after, last);

  await Promise.all(api.background);
  assert.deepEqual(api.submitted.map((r) => r.id), [run.id], "onRunSubmitted saw the run");
});

Deno.test("runs are listed newest first, a page at a time, without gaps or repeats", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await createRun(api, alice.token, `request ${i}`)).id);
  const client = api.client(alice.token);

  const seen: string[] = [];
  let cursor: string | null = null;
  const sizes: number[] = [];
  do {
    const query: string = `/runs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await invoke<{ runs: Run[]; next_cursor: string | null }>(client, query);
    assert.equal(page.status, 200);
    sizes.push(page.data!.runs.length);
    seen.push(...page.data!.runs.map((r) => r.id));
    cursor = page.data!.next_cursor;
  } while (cursor);
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(seen, [...ids].reverse());

  const all = await invoke<{ runs: Run[]; next_cursor: string | null }>(client, "/runs");
  assert.equal(all.data!.runs.length, 5);
  assert.equal(all.data!.next_cursor, null);
  assert.ok(!("plan" in all.data!.runs[0]), "list items are summaries");
});

Deno.test("another user gets 404 on every route of a run they do not own, and an empty list", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const bob = await api.newUser();
  const run = await createRun(api, alice.token);
  const asBob = api.client(bob.token);

  const list = await invoke<{ runs: Run[]; next_cursor: string | null }>(asBob, "/runs");
  assert.equal(list.status, 200);
  assert.deepEqual(list.data, { runs: [], next_cursor: null });

  const attempts: [string, "GET" | "POST", Record<string, unknown>?][] = [
    [`/runs/${run.id}`, "GET"],
    [`/runs/${run.id}/events`, "GET"],
    [`/runs/${run.id}/events?after=0`, "GET"],
    [`/runs/${run.id}/deliverable`, "GET"],
    [`/runs/${run.id}/answers`, "POST", { answers: { q1: "yes" } }],
    [`/runs/${run.id}/cancel`, "POST"],
  ];
  for (const [path, method, body] of attempts) {
    const outcome = await invoke(asBob, path, { method, body });
    assert.equal(outcome.status, 404, `${method} ${path}`);
    assert.equal(outcome.error?.code, "not_found", `${method} ${path}`);
  }

  // Bob's attempts changed nothing, and Alice still sees her run.
  const mine = await invoke<{ run: Run }>(api.client(alice.token), `/runs/${run.id}`);
  assert.equal(mine.data!.run.status, "received");
  // A run that does not exist at all looks the same as someone else's.
  const missing = await invoke(asBob, `/runs/${crypto.randomUUID()}`);
  assert.equal(missing.status, 404);
});

Deno.test("the anon key, the service role key and no token at all get 401", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const run = await createRun(api, alice.token);

  for (const client of [api.client(), api.client(api.anonKey), api.client(api.serviceRoleKey)]) {
    const list = await invoke(client, "/runs");
    assert.equal(list.status, 401);
    assert.equal(list.error?.code, "unauthorized");
    const create = await invoke(client, "/runs", { method: "POST", body: { request: "x" } });
    assert.equal(create.status, 401);
    const read = await invoke(client, `/runs/${run.id}`);
    assert.equal(read.status, 401);
  }
  const bare = await api.fetch("/runs");
  assert.equal(bare.status, 401);
  assert.equal(bare.headers.get("www-authenticate"), 'Bearer realm="orchestrator"');
  assert.equal((await bare.json()).error.code, "unauthorized");
});

Deno.test("a user cancels their run once; cancelling again is an illegal transition", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const run = await createRun(api, alice.token);
  const client = api.client(alice.token);

  const cancelled = await invoke<{ run: Run }>(client, `/runs/${run.id}/cancel`, {
    method: "POST",
  });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.data!.run.status, "cancelled");
  assert.ok(cancelled.data!.run.completed_at);

  const again = await invoke(client, `/runs/${run.id}/cancel`, { method: "POST", body: {} });
  assert.equal(again.status, 409);
  assert.equal(again.error?.code, "illegal_transition");
});

Deno.test("a user answers the questions of a run awaiting clarification, and only then", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const run = await createRun(api, alice.token);
  const client = api.client(alice.token);

  const early = await invoke(client, `/runs/${run.id}/answers`, {
    method: "POST",
    body: { answers: { auth: "email" } },
  });
  assert.equal(early.status, 409, "not awaiting clarification yet");
  assert.equal(early.error?.code, "illegal_transition");

  await transition(api.db.sql, run.id, "understanding");
  await transition(api.db.sql, run.id, "awaiting_clarification", {
    clarification: {
      questions: [{ id: "auth", text: "Email or OAuth?" }, { id: "tenancy", text: "Teams?" }],
      answers: null,
      reason: "The request does not say how users sign in.",
    },
  });

  const wrong = await invoke(client, `/runs/${run.id}/answers`, {
    method: "POST",
    body: { answers: { auth: "email", colour: "blue" } },
  });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.error?.code, "validation_failed");
  assert.deepEqual(wrong.error?.details, [
    { location: "body", path: ["answers", "colour"], message: "no such question" },
    { location: "body", path: ["answers", "tenancy"], message: "is required" },
  ]);

  const answered = await invoke<{ run: Run }>(client, `/runs/${run.id}/answers`, {
    method: "POST",
    body: { answers: { auth: "email", tenancy: false } },
  });
  assert.equal(answered.status, 200, JSON.stringify(answered.error));
  assert.equal(answered.data!.run.status, "understanding");
  assert.deepEqual(answered.data!.run.clarification?.answers, { auth: "email", tenancy: false });
});

Deno.test("the deliverable is a 409 until the run is completed, then its result and artifacts in order", async () => {
  await using api = await startApi();
  const alice = await api.newUser();
  const run = await createRun(api, alice.token);
  const client = api.client(alice.token);

  const early = await invoke(client, `/runs/${run.id}/deliverable`);
  assert.equal(early.status, 409);
  assert.equal(early.error?.code, "conflict");
  assert.match(early.error!.message, /received/);

  for (const to of ["understanding", "planning", "executing", "delivering"]) {
    await transition(api.db.sql, run.id, to);
  }
  await api.db.sql`
    insert into backend_team.artifacts (run_id, owner_id, kind, path, content, ordinal)
    values (${run.id}, ${alice.id}, 'policy', 'migrations/0002_rls.sql', 'alter table ...', 2),
           (${run.id}, ${alice.id}, 'migration', 'migrations/0001_todos.sql', 'create table ...', 1)`;
  await transition(api.db.sql, run.id, "completed", { result: { summary: "todos with RLS" } });

  const done = await invoke<{
    run_id: string;
    status: string;
    result: unknown;
    artifacts: { path: string; ordinal: number; kind: string }[];
  }>(client, `/runs/${run.id}/deliverable`);
  assert.equal(done.status, 200, JSON.stringify(done.error));
  assert.equal(done.data!.run_id, run.id);
  assert.equal(done.data!.status, "completed");
  assert.deepEqual(done.data!.result, { summary: "todos with RLS" });
  assert.deepEqual(done.data!.artifacts.map((a) => [a.ordinal, a.kind, a.path]), [
    [1, "migration", "migrations/0001_todos.sql"],
    [2, "policy", "migrations/0002_rls.sql"],
  ]);
});

/** One malformed request and the error it must get. */
interface BadCase {
  name: string;
  method?: string;
  /** Path after `/orchestrator`; `:run` stands for a real run of the caller. */
  path: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  status: number;
  code: string;
  /** For validation errors: a path that must be among the details. */
  detailPath?: (string | number)[];
}

function bigBody(bytes: number): string {
  return JSON.stringify({ request: "x", context: { schema_sql: "-".repeat(bytes) } });
}

/** A body sent in chunks without `Content-Length`, so only its actual size can be checked. */
function chunkedBody(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 16 * 1024));
      offset += 16 * 1024;
    },
  });
}

// One case per line, as a table.
// deno-fmt-ignore
const BAD_INPUT: BadCase[] = [
  // POST /runs: the body
  { name: "missing request", method: "POST", path: "/runs", body: "{}", status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "empty request", method: "POST", path: "/runs", body: '{"request":""}', status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "blank request", method: "POST", path: "/runs", body: '{"request":"   \\n"}', status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "request over 20000 characters", method: "POST", path: "/runs", body: JSON.stringify({ request: "a".repeat(20_001) }), status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "request is a number", method: "POST", path: "/runs", body: '{"request":42}', status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "request is null", method: "POST", path: "/runs", body: '{"request":null}', status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "request holds a NUL character", method: "POST", path: "/runs", body: '{"request":"a\\u0000b"}', status: 400, code: "validation_failed", detailPath: ["request"] },
  { name: "body is an array", method: "POST", path: "/runs", body: "[]", status: 400, code: "validation_failed" },
  { name: "body is a string", method: "POST", path: "/runs", body: '"make me an API"', status: 400, code: "validation_failed" },
  { name: "body is null", method: "POST", path: "/runs", body: "null", status: 400, code: "validation_failed" },
  { name: "unknown top-level field", method: "POST", path: "/runs", body: '{"request":"x","priority":"high"}', status: 400, code: "validation_failed", detailPath: ["priority"] },
  { name: "unknown context field", method: "POST", path: "/runs", body: '{"request":"x","context":{"framework":"next"}}', status: 400, code: "validation_failed", detailPath: ["context", "framework"] },
  { name: "unknown options field", method: "POST", path: "/runs", body: '{"request":"x","options":{"model":"gpt"}}', status: 400, code: "validation_failed", detailPath: ["options", "model"] },
  { name: "context is a string", method: "POST", path: "/runs", body: '{"request":"x","context":"supabase"}', status: 400, code: "validation_failed", detailPath: ["context"] },
  { name: "schema_sql is a number", method: "POST", path: "/runs", body: '{"request":"x","context":{"schema_sql":1}}', status: 400, code: "validation_failed", detailPath: ["context", "schema_sql"] },
  { name: "token_budget is a string", method: "POST", path: "/runs", body: '{"request":"x","options":{"token_budget":"lots"}}', status: 400, code: "validation_failed", detailPath: ["options", "token_budget"] },
  { name: "token_budget is fractional", method: "POST", path: "/runs", body: '{"request":"x","options":{"token_budget":1500.5}}', status: 400, code: "validation_failed", detailPath: ["options", "token_budget"] },
  { name: "max_parallel is 0", method: "POST", path: "/runs", body: '{"request":"x","options":{"max_parallel":0}}', status: 400, code: "validation_failed", detailPath: ["options", "max_parallel"] },
  { name: "max_parallel is huge", method: "POST", path: "/runs", body: '{"request":"x","options":{"max_parallel":1000}}', status: 400, code: "validation_failed", detailPath: ["options", "max_parallel"] },
  { name: "invalid JSON", method: "POST", path: "/runs", body: '{"request":', status: 400, code: "invalid_json" },
  { name: "empty JSON body", method: "POST", path: "/runs", body: "", status: 400, code: "invalid_json" },
  { name: "body is not UTF-8", method: "POST", path: "/runs", body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: "invalid_json" },
  { name: "text/plain body", method: "POST", path: "/runs", headers: { "Content-Type": "text/plain" }, body: '{"request":"x"}', status: 415, code: "unsupported_media_type" },
  { name: "form body", method: "POST", path: "/runs", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "request=x", status: 415, code: "unsupported_media_type" },
  { name: "body without a content type", method: "POST", path: "/runs", headers: {}, body: new TextEncoder().encode('{"request":"x"}'), status: 415, code: "unsupported_media_type" },
  { name: "body over 256 KiB", method: "POST", path: "/runs", body: bigBody(300 * 1024), status: 413, code: "payload_too_large" },
  { name: "chunked body over 256 KiB", method: "POST", path: "/runs", body: chunkedBody(bigBody(300 * 1024)), status: 413, code: "payload_too_large" },
  // GET /runs: the query
  { name: "limit 0", path: "/runs?limit=0", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "limit over 100", path: "/runs?limit=101", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "limit not a number", path: "/runs?limit=ten", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "limit negative", path: "/runs?limit=-1", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "limit empty", path: "/runs?limit=", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "limit given twice", path: "/runs?limit=1&limit=2", status: 400, code: "validation_failed", detailPath: ["limit"] },
  { name: "cursor garbage", path: "/runs?cursor=not*a*cursor", status: 400, code: "validation_failed", detailPath: ["cursor"] },
  { name: "cursor of the wrong shape", path: `/runs?cursor=${btoa('{"at":1}').replaceAll("=", "")}`, status: 400, code: "validation_failed", detailPath: ["cursor"] },
  { name: "cursor with an impossible date", path: `/runs?cursor=${btoa(JSON.stringify(["2026-13-45T99:00:00.000000Z", crypto.randomUUID()])).replaceAll("=", "")}`, status: 400, code: "validation_failed", detailPath: ["cursor"] },
  { name: "cursor too long", path: `/runs?cursor=${"a".repeat(600)}`, status: 400, code: "validation_failed", detailPath: ["cursor"] },
  // Path ids
  { name: "run id not a UUID", path: "/runs/not-a-uuid", status: 400, code: "validation_failed", detailPath: ["id"] },
  { name: "events of a non-UUID id", path: "/runs/123/events", status: 400, code: "validation_failed", detailPath: ["id"] },
  { name: "deliverable of a non-UUID id", path: "/runs/xyz/deliverable", status: 400, code: "validation_failed", detailPath: ["id"] },
  { name: "cancel a non-UUID id", method: "POST", path: "/runs/xyz/cancel", status: 400, code: "validation_failed", detailPath: ["id"] },
  { name: "answer a non-UUID id", method: "POST", path: "/runs/'%20or%201=1/answers", body: '{"answers":{"a":"b"}}', status: 400, code: "validation_failed", detailPath: ["id"] },
  // GET /runs/:id/events: the query
  { name: "after negative", path: "/runs/:run/events?after=-1", status: 400, code: "validation_failed", detailPath: ["after"] },
  { name: "after not a number", path: "/runs/:run/events?after=abc", status: 400, code: "validation_failed", detailPath: ["after"] },
  { name: "after fractional", path: "/runs/:run/events?after=1.5", status: 400, code: "validation_failed", detailPath: ["after"] },
  { name: "after beyond any sequence", path: "/runs/:run/events?after=99999999999999999999", status: 400, code: "validation_failed", detailPath: ["after"] },
  { name: "events limit 0", path: "/runs/:run/events?limit=0", status: 400, code: "validation_failed", detailPath: ["limit"] },
  // POST /runs/:id/answers and /cancel: the body
  { name: "answers missing", method: "POST", path: "/runs/:run/answers", body: "{}", status: 400, code: "validation_failed", detailPath: ["answers"] },
  { name: "answers empty", method: "POST", path: "/runs/:run/answers", body: '{"answers":{}}', status: 400, code: "validation_failed", detailPath: ["answers"] },
  { name: "answers is a string", method: "POST", path: "/runs/:run/answers", body: '{"answers":"yes"}', status: 400, code: "validation_failed", detailPath: ["answers"] },
  { name: "answer is an object", method: "POST", path: "/runs/:run/answers", body: '{"answers":{"q":{"deep":1}}}', status: 400, code: "validation_failed", detailPath: ["answers", "q"] },
  { name: "answers with unknown field", method: "POST", path: "/runs/:run/answers", body: '{"answers":{"q":"a"},"note":"x"}', status: 400, code: "validation_failed", detailPath: ["note"] },
  { name: "answers invalid JSON", method: "POST", path: "/runs/:run/answers", body: "{answers:1}", status: 400, code: "invalid_json" },
  { name: "answers as text/plain", method: "POST", path: "/runs/:run/answers", headers: { "Content-Type": "text/plain" }, body: '{"answers":{"q":"a"}}', status: 415, code: "unsupported_media_type" },
  { name: "cancel with unknown field", method: "POST", path: "/runs/:run/cancel", body: '{"reason":"x"}', status: 400, code: "validation_failed", detailPath: ["reason"] },
  { name: "cancel with a text body", method: "POST", path: "/runs/:run/cancel", headers: { "Content-Type": "text/plain" }, body: "please", status: 415, code: "unsupported_media_type" },
  // Routing
  { name: "unknown route", path: "/nope", status: 404, code: "not_found" },
  { name: "wrong method on /runs", method: "DELETE", path: "/runs", status: 405, code: "method_not_allowed" },
  { name: "wrong method on a run", method: "PUT", path: "/runs/:run", body: "{}", status: 405, code: "method_not_allowed" },
];

Deno.test("malformed input gets a 4xx in the error shape, never a 5xx", async () => {
  assert.ok(BAD_INPUT.length >= 30);
  await using api = await startApi();
  const alice = await api.newUser();
  const run = await createRun(api, alice.token);
  for (const c of BAD_INPUT) {
    const res = await api.fetch(c.path.replace(":run", run.id), {
      method: c.method ?? "GET",
      headers: userHeaders(alice.token, c.headers ?? (c.body !== undefined ? JSON_TYPE : {})),
      body: c.body,
    });
    const text = await res.text();
    assert.equal(res.status, c.status, `${c.name}: ${res.status} ${text}`);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/, c.name);
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body), ["error"], c.name);
    assert.equal(body.error.code, c.code, `${c.name}: ${text}`);
    assert.equal(typeof body.error.message, "string", c.name);
    if (c.detailPath) {
      assert.ok(Array.isArray(body.error.details), `${c.name}: details is a list`);
      for (const d of body.error.details) {
        assert.ok(Array.isArray(d.path) && typeof d.message === "string", `${c.name}: ${text}`);
      }
      assert.ok(
        body.error.details.some((d: { path: unknown }) =>
          JSON.stringify(d.path) === JSON.stringify(c.detailPath)
        ),
        `${c.name}: no detail at ${JSON.stringify(c.detailPath)} in ${text}`,
      );
    }
  }
  assert.deepEqual(api.logged, [], "no input was a server error");
});

Deno.test("tokens that are forged, expired or not a user's are refused with 401", async () => {
  await using api = await startApi();
  const now = Math.floor(Date.now() / 1000);
  const sub = crypto.randomUUID();
  const tokens: [string, string][] = [
    ["garbage", "not.a.jwt"],
    ["another secret", await mintUserToken("another-secret-that-is-at-least-32-chars!", { sub })],
    ["expired", await mintUserToken(LOCAL_JWT_SECRET, { sub, expiresIn: -60 })],
    ["no sub", await sign({ role: "authenticated", exp: now + 60 }, LOCAL_JWT_SECRET, "HS256")],
    [
      "sub not a uuid",
      await sign({ role: "authenticated", sub: "alice", exp: now + 60 }, LOCAL_JWT_SECRET, "HS256"),
    ],
    [
      "role postgres",
      await sign({ role: "postgres", sub, exp: now + 60 }, LOCAL_JWT_SECRET, "HS256"),
    ],
  ];
  for (const [name, token] of tokens) {
    const res = await api.fetch("/runs", { headers: userHeaders(token) });
    assert.equal(res.status, 401, name);
    assert.equal((await res.json()).error.code, "unauthorized", name);
  }
  const basic = await api.fetch("/runs", { headers: { Authorization: "Basic YTpi" } });
  assert.equal(basic.status, 401);
  await basic.body?.cancel();
});

Deno.test("a database failure is a bare 500, logged on the server", async () => {
  const broken = connect("postgres://nobody@127.0.0.1:1/secret_db_name", { max: 1 });
  try {
    await using api = await startApi({ sql: broken });
    const alice = await api.newUser();
    const res = await api.fetch("/runs", { headers: userHeaders(alice.token) });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: { code: "internal", message: "internal error" } });
    assert.ok(!text.includes("secret_db_name") && !text.includes("ECONNREFUSED"));
    assert.equal(api.logged.length, 1);
  } finally {
    await broken.end();
  }
});

Deno.test("browsers get CORS: the preflight is answered and every response carries the headers", async () => {
  await using api = await startApi();
  const preflight = await api.fetch("/runs", {
    method: "OPTIONS",
    headers: {
      Origin: "http://localhost:3000",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization, content-type",
    },
  });
  assert.ok(preflight.ok);
  await preflight.body?.cancel();
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  const allowed = preflight.headers.get("access-control-allow-headers") ?? "";
  for (const h of ["authorization", "x-client-info", "apikey", "content-type"]) {
    assert.ok(allowed.split(/,\s*/).includes(h), `allows ${h}`);
  }
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);

  const refused = await api.fetch("/runs", { headers: { Origin: "http://localhost:3000" } });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  assert.equal(refused.headers.get("access-control-allow-origin"), "*", "errors carry CORS too");
});

Deno.test("/openapi.json is an OpenAPI 3 document listing every route", async () => {
  await using api = await startApi();
  const res = await api.fetch("/openapi.json", {
    headers: { Authorization: `Bearer ${api.anonKey}` },
  });
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.deepEqual(openApiProblems(doc), []);
  const official = await validateWithOfficialSchema(doc);
  if (official) assert.deepEqual(official, { valid: true });
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
  const expected: Record<string, string[]> = {
    "/orchestrator/runs": ["get", "post"],
    "/orchestrator/runs/{id}": ["get"],
    "/orchestrator/runs/{id}/events": ["get"],
    "/orchestrator/runs/{id}/answers": ["post"],
    "/orchestrator/runs/{id}/cancel": ["post"],
    "/orchestrator/runs/{id}/deliverable": ["get"],
    "/orchestrator/openapi.json": ["get"],
  };
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops as object).sort()]),
    ),
    expected,
  );
  for (const name of ["Run", "RunSummary", "Task", "RunEvent", "CreateRunRequest", "Error"]) {
    assert.ok(doc.components.schemas[name], `components.schemas.${name}`);
  }
  assert.equal(
    doc.paths["/orchestrator/runs"].post.requestBody.content["application/json"].schema.$ref,
    "#/components/schemas/CreateRunRequest",
  );
  assert.equal(doc.components.schemas.CreateRunRequest.additionalProperties, false);

  // The structural check itself notices a broken document.
  const broken = structuredClone(doc);
  delete broken.info;
  broken.paths["/orchestrator/runs/{id}"].get.parameters = [];
  broken.paths["/orchestrator/runs"].get.responses["200"].content["application/json"].schema = {
    $ref: "#/components/schemas/Nope",
  };
  const problems = openApiProblems(broken);
  assert.ok(problems.includes("info is missing"), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes("{id} is not a declared parameter")));
  assert.ok(problems.some((p) => p.includes("Nope") && p.includes("does not resolve")));
});
