/**
 * Auth and per-user limits (issue 12 §7), attacked as one ordinary account would: tokens that
 * never expire or were issued for another audience, and one user trying to take every run slot,
 * every validation slot and the request rate — through two instances of each function on one
 * database, since the platform serves a function from several processes. Real Postgres (a fresh
 * database with every migration), real HTTP on ports from 0.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sign } from "hono/jwt";
import { createOrchestratorApp, type OrchestratorDeps } from "../../shared/api/mod.ts";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { connect, type Sql } from "../../shared/db/mod.ts";
import { createDatabaseLimiter, type RequestLimits } from "../../shared/http/mod.ts";
import { createValidateApp } from "../../shared/validation/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { freshDatabase, type TestDatabase } from "../_support/db.ts";

const GATEWAY_FIXTURES = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));

interface User {
  id: string;
  token: string;
}

/** One serving process's view: its own pool on the shared database, its own HTTP server. */
interface Instance {
  url: string;
  close(): Promise<void>;
}

interface World extends AsyncDisposable {
  db: TestDatabase;
  newUser(): Promise<User>;
  /** Orchestrator instances (default two) sharing the database. */
  orchestrators: string[];
  /** Validate instances (default two) sharing the database. */
  validators: string[];
}

function serve(
  handler: (req: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
}

/** Serves `fetch` under `/functions/v1`, stripping it as Supabase's gateway does. */
function serveFunction(fetchApp: (req: Request) => Response | Promise<Response>, sql: Sql) {
  const server = serve((req) => {
    const url = new URL(req.url);
    url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
    return fetchApp(new Request(url, { method: req.method, headers: req.headers, body: req.body }));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/functions/v1`,
    async close() {
      await server.shutdown();
      await sql.end({ timeout: 5 });
    },
  } satisfies Instance;
}

async function startWorld(
  options: {
    limits?: Partial<RequestLimits>;
    audience?: string;
    orchestrator?: Partial<OrchestratorDeps>;
  } = {},
): Promise<World> {
  const db = await freshDatabase();
  const instances: Instance[] = [];
  const background: Promise<unknown>[] = [];
  for (let i = 0; i < 2; i++) {
    const sql = connect(db.url, { max: 4, applicationName: `orchestrator-${i}` });
    const app = createOrchestratorApp({
      sql,
      jwtSecret: LOCAL_JWT_SECRET,
      audience: options.audience,
      limits: options.limits,
      waitUntil: (work) => background.push(work),
      logError: () => {},
      ...options.orchestrator,
    });
    instances.push(serveFunction(app.fetch, sql));
  }
  for (let i = 0; i < 2; i++) {
    const sql = connect(db.url, { max: 4, applicationName: `validate-${i}` });
    const app = createValidateApp({
      jwtSecret: LOCAL_JWT_SECRET,
      audience: options.audience,
      sql,
      limits: options.limits,
      // No request here reaches a shadow: each is refused, or has a body that is not valid.
      shadow: () => Promise.reject(new Error("no shadow in this test")),
      logError: () => {},
    });
    instances.push(serveFunction(app.fetch, sql));
  }
  return {
    db,
    orchestrators: instances.slice(0, 2).map((i) => `${i.url}/orchestrator`),
    validators: instances.slice(2).map((i) => `${i.url}/validate`),
    async newUser() {
      const id = crypto.randomUUID();
      await db.sql`insert into auth.users (id, email) values (${id}, ${`${id}@example.test`})`;
      return { id, token: await mintUserToken(LOCAL_JWT_SECRET, { sub: id }) };
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(background);
      for (const instance of instances) await instance.close();
      await db.close();
    },
  };
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string; details?: unknown }; run?: { id: string } };
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: JSON.parse(text) };
}

function postRun(base: string, token: string, request = "A todo API"): Promise<Answer> {
  return fetch(`${base}/runs`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ request }),
  }).then(answer);
}

/** A body nothing accepts (no files): a 400 proves the request got past every limit. */
function postInvalidValidation(base: string, token: string): Promise<Answer> {
  return fetch(base, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ files: [] }),
  }).then(answer);
}

/**
 * A validation kept in flight: its body is still being sent, so the function holds the request
 * (and its slot) until `finish()` ends the body.
 */
async function validationInFlight(base: string, token: string) {
  const body = new TransformStream<Uint8Array, Uint8Array>();
  const writer = body.writable.getWriter();
  const response = fetch(base, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body.readable,
  }).then(answer);
  await writer.write(new TextEncoder().encode('{"files": ['));
  let open = true;
  return {
    response,
    async finish() {
      open = false;
      await writer.write(new TextEncoder().encode("]}"));
      await writer.close();
      return await response;
    },
    /** Ends the body if the test did not (a failed assertion), so the servers can shut down. */
    async [Symbol.asyncDispose]() {
      if (!open) return;
      await writer.abort().catch(() => {});
      await response.catch(() => {});
    },
  };
}

function assertLimited(got: Answer, code: string, what: string): void {
  assert.equal(got.status, 429, `${what}: ${JSON.stringify(got.body)}`);
  assert.equal(got.body.error?.code, code, what);
  assert.equal(typeof got.body.error?.message, "string", what);
  assert.match(got.retryAfter ?? "", /^[1-9][0-9]*$/, `${what}: Retry-After in whole seconds`);
}

/** Polls until `check` holds (the server has reached a state only visible in the database). */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(what);
}

// Tokens ----------------------------------------------------------------------------------------

Deno.test("a token without exp is a 401 unauthorized on the orchestrator and on validate", async () => {
  await using world = await startWorld();
  const alice = await world.newUser();
  const forever = await sign(
    { aud: "authenticated", role: "authenticated", sub: alice.id },
    LOCAL_JWT_SECRET,
    "HS256",
  );
  const runs = await answer(
    await fetch(`${world.orchestrators[0]}/runs`, {
      headers: { Authorization: `Bearer ${forever}` },
    }),
  );
  assert.equal(runs.status, 401);
  assert.deepEqual(Object.keys(runs.body), ["error"]);
  assert.equal(runs.body.error?.code, "unauthorized");
  assert.equal(typeof runs.body.error?.message, "string");
  const created = await postRun(world.orchestrators[0], forever);
  assert.equal(created.status, 401);
  assert.equal(created.body.error?.code, "unauthorized");
  const validated = await postInvalidValidation(world.validators[0], forever);
  assert.equal(validated.status, 401);
  assert.equal(validated.body.error?.code, "unauthorized");
  // The same user with a token that expires is let in.
  assert.equal((await postRun(world.orchestrators[0], alice.token)).status, 202);
});

Deno.test("a token for another audience is a 401; an aud list that names ours is accepted", async () => {
  await using world = await startWorld();
  const alice = await world.newUser();
  const exp = Math.floor(Date.now() / 1000) + 600;
  const claims = { role: "authenticated", sub: alice.id, exp };
  const cases: [string, string | string[] | undefined, number][] = [
    ["aud other", "other", 401],
    ["aud list without ours", ["other", "admin"], 401],
    ["no aud", undefined, 401],
    ["aud list with ours", ["other", "authenticated"], 200],
    ["aud authenticated", "authenticated", 200],
  ];
  for (const [name, aud, status] of cases) {
    const token = await sign(
      aud === undefined ? claims : { ...claims, aud },
      LOCAL_JWT_SECRET,
      "HS256",
    );
    const got = await answer(
      await fetch(`${world.orchestrators[0]}/runs`, {
        headers: { Authorization: `Bearer ${token}` },
      }),
    );
    assert.equal(got.status, status, `${name}: ${JSON.stringify(got.body)}`);
    if (status === 401) assert.equal(got.body.error?.code, "unauthorized", name);
    const validated = await postInvalidValidation(world.validators[0], token);
    assert.equal(validated.status, status === 200 ? 400 : 401, `validate, ${name}`);
  }
});

Deno.test("the audience is configurable: a deployment for another audience refuses 'authenticated'", async () => {
  await using world = await startWorld({ audience: "backend-team" });
  const alice = await world.newUser();
  const exp = Math.floor(Date.now() / 1000) + 600;
  const ours = await sign(
    { aud: "backend-team", role: "authenticated", sub: alice.id, exp },
    LOCAL_JWT_SECRET,
    "HS256",
  );
  const get = (token: string) =>
    fetch(`${world.orchestrators[0]}/runs`, { headers: { Authorization: `Bearer ${token}` } })
      .then(answer);
  assert.equal((await get(ours)).status, 200);
  assert.equal((await get(alice.token)).status, 401);
});

Deno.test("the local functions gateway's verify_jwt refuses a token without exp, in the relay's format", async () => {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const abort = new AbortController();
  let gateway: ReturnType<typeof createFunctionsGateway> | undefined;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen() {} },
    (req) => gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    gateway = createFunctionsGateway({
      configPath: `${GATEWAY_FIXTURES}config.toml`,
      functionsDir: GATEWAY_FIXTURES,
      jwtSecret: LOCAL_JWT_SECRET,
      env: {
        SUPABASE_URL: url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
        SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/unused",
      },
      log: () => {},
    });
    const forever = await sign(
      { aud: "authenticated", role: "authenticated", sub: crypto.randomUUID() },
      LOCAL_JWT_SECRET,
      "HS256",
    );
    const refused = await fetch(`${url}/functions/v1/echo`, {
      method: "POST",
      headers: { Authorization: `Bearer ${forever}` },
    });
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { code: 401, message: "Invalid JWT" });
    // The API keys (no aud) and a user's token still pass the gateway.
    for (
      const token of [
        keys.anon,
        keys.serviceRole,
        await mintUserToken(LOCAL_JWT_SECRET, {
          sub: crypto.randomUUID(),
        }),
      ]
    ) {
      const passed = await fetch(`${url}/functions/v1/echo`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(passed.status, 200);
      await passed.body?.cancel();
    }
  } finally {
    await gateway?.close();
    abort.abort();
    await server.finished;
  }
});

// Runs in flight --------------------------------------------------------------------------------

Deno.test("a user's 6th run while 5 are in flight is a 429 with Retry-After; another user is unaffected", async () => {
  await using world = await startWorld();
  const alice = await world.newUser();
  const bob = await world.newUser();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    // Alternating instances: the count is the database's, not a process's.
    const created = await postRun(world.orchestrators[i % 2], alice.token, `request ${i}`);
    assert.equal(created.status, 202, JSON.stringify(created.body));
    ids.push(created.body.run!.id);
  }
  const sixth = await postRun(world.orchestrators[1], alice.token, "one too many");
  assertLimited(sixth, "too_many_runs_in_flight", "6th run");
  const [{ n }] = await world.db.sql`
    select count(*)::int as n from backend_team.runs where owner_id = ${alice.id}`;
  assert.equal(n, 5, "the refused run was not created");

  const bobs = await postRun(world.orchestrators[0], bob.token);
  assert.equal(bobs.status, 202, "bob is not held to alice's runs");

  // A run that ends frees its slot.
  const cancel = await fetch(`${world.orchestrators[0]}/runs/${ids[0]}/cancel`, {
    method: "POST",
    headers: { Authorization: `Bearer ${alice.token}` },
  });
  assert.equal(cancel.status, 200);
  await cancel.body?.cancel();
  assert.equal((await postRun(world.orchestrators[1], alice.token)).status, 202);
});

Deno.test("runs submitted at once through two instances never exceed the cap", async () => {
  await using world = await startWorld();
  const carol = await world.newUser();
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, (_, i) => postRun(world.orchestrators[i % 2], carol.token, `r${i}`)),
  );
  const statuses = outcomes.map((o) => o.status).sort();
  assert.deepEqual(statuses, [...Array(5).fill(202), ...Array(7).fill(429)]);
  for (const o of outcomes.filter((o) => o.status === 429)) {
    assertLimited(o, "too_many_runs_in_flight", "concurrent run");
  }
});

Deno.test("the runs-in-flight cap is configurable", async () => {
  await using world = await startWorld({ limits: { maxRunsInFlight: 2 } });
  const alice = await world.newUser();
  assert.equal((await postRun(world.orchestrators[0], alice.token)).status, 202);
  assert.equal((await postRun(world.orchestrators[1], alice.token)).status, 202);
  assertLimited(
    await postRun(world.orchestrators[0], alice.token),
    "too_many_runs_in_flight",
    "3rd run with a cap of 2",
  );
});

// Validations in flight -------------------------------------------------------------------------

Deno.test("validations in flight over the cap are a 429 with Retry-After; another user is unaffected", async () => {
  await using world = await startWorld();
  const alice = await world.newUser();
  const bob = await world.newUser();
  const leases = async () => {
    const [row] = await world.db.sql`
      select coalesce((select count(*) from jsonb_object_keys(validation_leases)), 0)::int as n
      from backend_team.request_limits where owner_id = ${alice.id}`;
    return row?.n ?? 0;
  };
  // Two held open, one on each instance (default cap 2).
  await using first = await validationInFlight(world.validators[0], alice.token);
  await using second = await validationInFlight(world.validators[1], alice.token);
  await eventually("both validations hold a slot", async () => (await leases()) === 2);

  assertLimited(
    await postInvalidValidation(world.validators[0], alice.token),
    "too_many_validations_in_flight",
    "3rd validation",
  );
  const bobs = await postInvalidValidation(world.validators[1], bob.token);
  assert.equal(bobs.status, 400, `bob validates meanwhile: ${JSON.stringify(bobs.body)}`);

  // Finished validations give their slots back.
  assert.equal((await first.finish()).status, 400);
  assert.equal((await second.finish()).status, 400);
  assert.equal(await leases(), 0);
  assert.equal((await postInvalidValidation(world.validators[0], alice.token)).status, 400);
});

Deno.test("a slot held by a process that died is free again once its lease expires", async () => {
  await using db = await freshDatabase();
  const owner = crypto.randomUUID();
  const limits = { maxValidationsInFlight: 1, validationLeaseSeconds: 1 };
  // The first process takes the only slot and dies without giving it back.
  const dead = connect(db.url, { max: 1 });
  await createDatabaseLimiter(dead, limits).admit(owner, { lease: true });
  await dead.end();
  const alive = connect(db.url, { max: 1 });
  try {
    const limiter = createDatabaseLimiter(alive, limits);
    await assert.rejects(
      limiter.admit(owner, { lease: true }),
      (e) => (e as { code?: string }).code === "too_many_validations_in_flight",
    );
    await new Promise((r) => setTimeout(r, 1100));
    const lease = await limiter.admit(owner, { lease: true });
    assert.ok(lease, "the expired lease no longer counts");
    await limiter.release(owner, lease);
  } finally {
    await alive.end();
  }
});

// Request rate ----------------------------------------------------------------------------------

Deno.test("POSTs over the rate are a 429 rate_limited with Retry-After; another user is unaffected", async () => {
  await using world = await startWorld({ limits: { requestsPerMinute: 60, requestBurst: 3 } });
  const alice = await world.newUser();
  const bob = await world.newUser();
  // The bucket is shared by both instances and both functions.
  assert.equal((await postRun(world.orchestrators[0], alice.token)).status, 202);
  assert.equal((await postRun(world.orchestrators[1], alice.token)).status, 202);
  assert.equal((await postInvalidValidation(world.validators[0], alice.token)).status, 400);
  const over = await postRun(world.orchestrators[0], alice.token);
  assertLimited(over, "rate_limited", "4th POST in a burst of 3");
  assertLimited(
    await postInvalidValidation(world.validators[1], alice.token),
    "rate_limited",
    "a validation over the rate",
  );
  // Reading is not rate limited.
  const list = await fetch(`${world.orchestrators[1]}/runs`, {
    headers: { Authorization: `Bearer ${alice.token}` },
  });
  assert.equal(list.status, 200);
  await list.body?.cancel();

  assert.equal(
    (await postRun(world.orchestrators[1], bob.token)).status,
    202,
    "bob is not limited",
  );

  // After Retry-After seconds the bucket has refilled enough for one more.
  await new Promise((r) => setTimeout(r, Number(over.retryAfter) * 1000 + 100));
  assert.equal((await postRun(world.orchestrators[0], alice.token)).status, 202);
});
