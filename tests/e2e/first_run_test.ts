/**
 * A new user's first run, on the deployed-shape functions: the real `orchestrator`,
 * `orchestrator-worker` and an agent worker started by the local functions gateway from
 * `supabase/config.toml`, with no model settings at all. Every 401 has the product's error shape,
 * the OpenAPI document needs no token, `POST /runs` says `llm_not_configured` at once, the workers
 * start and say so instead of crash-looping, and a run queued anyway is failed with the reason
 * rather than left in `received`. A valid token for a user that does not exist is a 403.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { createOrchestratorApp } from "../../shared/api/mod.ts";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { submitRun } from "../../shared/runs/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";
import { runChanges } from "../_support/events.ts";

const WORKER_SECRET = "bt_worker_first_run_test_secret";

async function startProject(db: TestDatabase) {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const logs: string[] = [];
  const route: { gateway?: ReturnType<typeof createFunctionsGateway> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => route.gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const gateway = route.gateway = createFunctionsGateway({
    jwtSecret: LOCAL_JWT_SECRET,
    // No OPENAI_* at all: the gateway passes functions only what it is given.
    env: {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: keys.anon,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      SUPABASE_DB_URL: db.url,
      BT_WORKER_SECRET: WORKER_SECRET,
    },
    bootTimeoutMs: 120_000,
    log: (line) => logs.push(line),
  });
  return {
    url,
    keys,
    logs,
    fn: (path: string, init?: RequestInit) => fetch(`${url}/functions/v1/${path}`, init),
    async [Symbol.asyncDispose]() {
      await gateway.close();
      await server.shutdown();
    },
  };
}

async function newUser(db: TestDatabase) {
  const id = crypto.randomUUID();
  await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
  return { id, token: await mintUserToken(LOCAL_JWT_SECRET, { sub: id }) };
}

function base64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("first run without a model: one 401 shape, a public OpenAPI document, llm_not_configured at once, workers that start and say why", async () => {
  await using db = await freshDatabase();
  await using project = await startProject(db);
  const alice = await newUser(db);

  // Every 401 is the product's { error: { code, message } } with a Bearer challenge.
  const refused: Record<string, string | undefined> = {
    "no token": undefined,
    "not a JWT": "nope",
    expired: await mintUserToken(LOCAL_JWT_SECRET, { sub: alice.id, expiresIn: -60 }),
    "another secret": await mintUserToken("another-secret-another-secret-another-secret!", {
      sub: alice.id,
    }),
    "alg none": `${base64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
      base64url(JSON.stringify({ sub: alice.id, role: "authenticated", aud: "authenticated" }))
    }.`,
    "without exp": await sign(
      { sub: alice.id, role: "authenticated", aud: "authenticated" },
      LOCAL_JWT_SECRET,
      "HS256",
    ),
    "the anon key": project.keys.anon,
  };
  for (const [name, token] of Object.entries(refused)) {
    for (const path of ["orchestrator/runs", "validate"]) {
      const res = await project.fn(path, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(
          path === "validate" ? { files: [{ name: "a.sql", sql: "select 1" }] } : { request: "x" },
        ),
      });
      const body = await res.json();
      assert.equal(res.status, 401, `${name} on ${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, "unauthorized", `${name} on ${path}`);
      assert.equal(typeof body.error?.message, "string", `${name} on ${path}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /, `${name} on ${path}`);
    }
  }

  // The API's documentation needs no token.
  const doc = await project.fn("orchestrator/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal((await doc.json()).openapi, "3.1.0");

  // A signed-in user is told at once that no model is configured, and what to set.
  const started = performance.now();
  const submit = await project.fn("orchestrator/runs", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
    body: JSON.stringify({ request: "A todo API with per-user lists" }),
  });
  const submitted = await submit.json();
  assert.equal(submit.status, 503, JSON.stringify(submitted));
  assert.equal(submitted.error.code, "llm_not_configured");
  assert.match(submitted.error.message, /OPENAI_API_KEY/);
  assert.match(submitted.error.message, /npm run demo/);
  assert.ok(performance.now() - started < 1000, "answered within a second (function warm)");
  const [{ count }] = await db.sql`select count(*)::int as count from backend_team.runs`;
  assert.equal(count, 0);

  // An agent worker starts and answers its wake with the reason, leaving its queue alone.
  const wake = await project.fn("agent-db-architect/wake", {
    method: "POST",
    headers: { authorization: `Bearer ${WORKER_SECRET}` },
  });
  const woken = await wake.json();
  assert.equal(wake.status, 503);
  assert.equal(woken.error.code, "llm_not_configured");

  // A run queued anyway (submitted before the key was removed, say) is failed with the reason.
  const run = await submitRun(db.sql, { role: "authenticated", sub: alice.id }, {
    request: "A todo API with per-user lists",
  });
  const drain = await project.fn("orchestrator-worker/wake", {
    method: "POST",
    headers: { authorization: `Bearer ${WORKER_SECRET}` },
  });
  assert.equal(drain.status, 202);
  await drain.body?.cancel();
  let status = "received";
  let error: { code?: string; message?: string } | null = null;
  for (let i = 0; i < 100 && status !== "failed"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    [{ status, error }] = await db
      .sql`select status, error from backend_team.runs where id = ${run.id}`;
  }
  assert.equal(status, "failed", project.logs.join("\n"));
  assert.equal(error?.code, "llm_not_configured");
  assert.match(error?.message ?? "", /OPENAI_MODEL/);
  const events = (await runChanges(db.sql, run.id)).filter((e) => e.type === "run.status");
  assert.ok(
    events.some((e) =>
      (e.payload.error as { code?: string } | null)?.code === "llm_not_configured"
    ),
  );

  // No crash, no stack trace: only the one-line notices.
  const traces = project.logs.filter((line) => /^\S*\s*at .+:\d+:\d+\)?$/.test(line.trim()));
  assert.deepEqual(traces, [], project.logs.join("\n"));
  assert.ok(
    project.logs.some((line) => /agent-db-architect.*no language model is configured/.test(line)),
    project.logs.join("\n"),
  );
});

Deno.test("a valid token for a user who does not exist gets 403 user_not_found, never a 500", async () => {
  await using db = await freshDatabase();
  const logged: unknown[] = [];
  const app = createOrchestratorApp({
    sql: db.sql,
    jwtSecret: LOCAL_JWT_SECRET,
    logError: (e) => logged.push(e),
  });
  const ghost = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  const res = await app.fetch(
    new Request("http://localhost/orchestrator/runs", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ghost}` },
      body: JSON.stringify({ request: "A todo API with per-user lists" }),
    }),
  );
  const body = await res.json();
  assert.equal(res.status, 403, JSON.stringify(body));
  assert.equal(body.error.code, "user_not_found");
  assert.match(body.error.message, /does not exist/);
  assert.deepEqual(logged, []);
  // The same user, once created (the token helper and `bt --user` do it), submits.
  const claims = JSON.parse(atob(ghost.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  await db.sql`insert into auth.users (id) values (${claims.sub})`;
  const ok = await app.fetch(
    new Request("http://localhost/orchestrator/runs", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ghost}` },
      body: JSON.stringify({ request: "A todo API with per-user lists" }),
    }),
  );
  assert.equal(ok.status, 202);
  await ok.body?.cancel();
});
