/**
 * `POST /functions/v1/validate` as a user meets it: the real `validate` function started by the
 * local functions gateway from `supabase/config.toml` (so `verify_jwt` and the entrypoint are the
 * deployed ones), called with `@supabase/supabase-js`; plus the app on its own for inputs no SDK
 * sends (malformed JSON, unknown fields, a backend the server lacks, CORS preflight).
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import {
  createPgliteShadow,
  createPostgresShadow,
  type ShadowDatabase,
} from "../../shared/shadow/mod.ts";
import { createValidateApp, ValidationReport } from "../../shared/validation/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { freshDatabase, shadowAdminUrl } from "../_support/db.ts";
import { endpointOf, FUNCTION_CASES, SCHEMA } from "../fixtures/functions/corpus/cases.ts";
import { openApiProblems } from "../_support/openapi_shape.ts";

const UNPROTECTED = "create table public.invoices (id bigint primary key, amount numeric);";

Deno.test("a signed-in user validates SQL through supabase-js and gets findings, not an error", async () => {
  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const logs: string[] = [];
  // The product database keeps the per-user limits (the validator's SQL never goes there).
  await using db = await freshDatabase();
  // The gateway needs the server's URL, the server needs the gateway.
  const route: { gateway?: ReturnType<typeof createFunctionsGateway> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => route.gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const gateway = route.gateway = createFunctionsGateway({
    jwtSecret: LOCAL_JWT_SECRET,
    env: {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: keys.anon,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      SUPABASE_DB_URL: db.url,
    },
    bootTimeoutMs: 120_000,
    log: (line) => logs.push(line),
  });
  try {
    const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
    const user = createClient(url, keys.anon, {
      global: { headers: { Authorization: `Bearer ${token}` } },
      auth: { persistSession: false },
    });
    const { data, error } = await user.functions.invoke("validate", {
      body: { files: [{ name: "001_invoices.sql", sql: UNPROTECTED }] },
    });
    assert.equal(error, null, logs.join("\n"));
    const report = ValidationReport.parse(data);
    assert.deepEqual(Object.keys(data).sort(), ["durationMs", "findings", "ok"]);
    assert.equal(report.ok, false);
    const finding = report.findings.find((f) => f.rule === "rls_disabled_in_public");
    assert.equal(finding?.file, "001_invoices.sql");
    assert.equal(finding?.line, 1);

    const anonOnly = createClient(url, keys.anon, { auth: { persistSession: false } });
    const denied = await anonOnly.functions.invoke("validate", {
      body: { files: [{ name: "x.sql", sql: "select 1" }] },
    });
    assert.ok(denied.error instanceof FunctionsHttpError);
    assert.equal(denied.error.context.status, 401);
    await denied.error.context.body?.cancel();

    const bad = await user.functions.invoke("validate", { body: { files: [] } });
    assert.ok(bad.error instanceof FunctionsHttpError);
    assert.equal(bad.error.context.status, 400);
    const body = await bad.error.context.json();
    assert.equal(body.error.code, "validation_failed");
    assert.deepEqual(body.error.details[0].path, ["files"]);
  } finally {
    await gateway.close();
    await server.shutdown();
  }
});

Deno.test("the validate endpoint takes the layer options its OpenAPI document describes", async () => {
  await withApp(async (call) => {
    const doc = await call({ method: "GET", headers: {}, token: null, path: "/openapi.json" });
    assert.equal(doc.status, 200);
    const openapi = await doc.json();
    assert.deepEqual(openApiProblems(openapi), []);
    const props = openapi.components.schemas.ValidateRequest.properties;
    for (
      const option of [
        "runFunctions",
        "endpoints",
        "verifyJwt",
        "benchmark",
        "channels",
        "queries",
        "functions",
      ]
    ) {
      assert.ok(props[option], `ValidateRequest documents ${option}`);
    }
    assert.deepEqual(props.benchmark.anyOf[1].properties.rows, {
      type: "integer",
      minimum: 1000,
      maximum: 200000,
    });

    const json = { "content-type": "application/json" };
    const sql = "create table public.t (id bigint primary key, email text not null);\n" +
      "alter table public.t enable row level security;\n" +
      "create index t_email_idx on public.t (email);";
    // PGlite has no server a function could connect to: the endpoint says so, never silently.
    const run = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({
        files: [{ name: "001_t.sql", sql }],
        functions: [{ name: "hello/index.ts", source: "Deno.serve(() => new Response('hi'));" }],
        runFunctions: true,
        queries: [{ sql: "select id from public.t where email = $1", index: "t_email_idx" }],
        benchmark: { rows: 2_000 },
      }),
    });
    assert.equal(run.status, 200);
    const report = ValidationReport.parse(await run.json());
    const notRun = report.findings.find((f) => f.rule === "function_probe_not_run");
    assert.equal(notRun?.level, "info", JSON.stringify(report.findings));
    assert.equal(report.benchmarks?.[0]?.rows["public.t"], 2_000, JSON.stringify(report));

    const skipped = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({
        files: [{ name: "001_t.sql", sql }],
        queries: [{ sql: "select id from public.t where email = $1", index: "t_email_idx" }],
        benchmark: false,
      }),
    });
    const quiet = ValidationReport.parse(await skipped.json());
    assert.equal(quiet.benchmarks, undefined);

    const tooMany = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({
        files: [{ name: "001_t.sql", sql }],
        functions: Array.from({ length: 11 }, (_, i) => ({
          name: `f${i}/index.ts`,
          source: "Deno.serve(() => new Response('hi'));",
        })),
        runFunctions: true,
      }),
    });
    assert.equal(tooMany.status, 400);
    assert.deepEqual((await tooMany.json()).error.details[0].path, ["runFunctions"]);

    const tooBig = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({
        files: [{ name: "001_t.sql", sql }],
        benchmark: { rows: 10_000_000 },
      }),
    });
    assert.equal(tooBig.status, 400);
    await tooBig.body?.cancel();
  });
});

async function withApp(
  fn: (
    call: (init: RequestInit & { token?: string | null; path?: string }) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const shadow: Promise<ShadowDatabase> = createPgliteShadow({ poolSize: 1 });
  const app = createValidateApp({ jwtSecret: LOCAL_JWT_SECRET, shadow: () => shadow });
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  try {
    await fn(async (init) => {
      const headers = new Headers(init.headers);
      if (init.token !== null) headers.set("authorization", `Bearer ${init.token ?? token}`);
      const url = `http://localhost/validate${init.path ?? ""}`;
      return await app.fetch(new Request(url, { ...init, headers }));
    });
  } finally {
    await (await shadow).close();
  }
}

Deno.test("the validate endpoint answers bad input with 400s in the shared error shape", async () => {
  await withApp(async (call) => {
    const json = { "content-type": "application/json" };
    const malformed = await call({ method: "POST", headers: json, body: "{ nope" });
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).error.code, "invalid_json");

    const unknown = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({ files: [{ name: "a.sql", sql: "select 1", extra: true }] }),
    });
    assert.equal(unknown.status, 400);
    const issues = (await unknown.json()).error.details;
    assert.deepEqual(issues[0], {
      location: "body",
      path: ["files", 0, "extra"],
      message: "unknown field",
    });

    const duplicate = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({ files: [{ name: "a.sql", sql: "" }, { name: "a.sql", sql: "" }] }),
    });
    assert.equal(duplicate.status, 400);
    await duplicate.body?.cancel();

    const postgres = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({ files: [{ name: "a.sql", sql: "select 1" }], shadow: "postgres" }),
    });
    assert.equal(postgres.status, 400);
    assert.deepEqual((await postgres.json()).error.details[0].path, ["shadow"]);

    const noToken = await call({
      method: "POST",
      headers: json,
      body: JSON.stringify({ files: [{ name: "a.sql", sql: "select 1" }] }),
      token: null,
    });
    assert.equal(noToken.status, 401);
    assert.equal((await noToken.json()).error.code, "unauthorized");
  });
});

Deno.test("the validate endpoint answers CORS preflight and reports a rollback and a query check", async () => {
  await withApp(async (call) => {
    const preflight = await call({
      method: "OPTIONS",
      headers: { origin: "http://app.test", "access-control-request-method": "POST" },
      token: null,
    });
    assert.ok(preflight.status < 300);
    assert.ok(preflight.headers.get("access-control-allow-origin"));
    await preflight.body?.cancel();

    const response = await call({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        files: [{
          name: "001_t.sql",
          sql: "create table public.t (id bigint primary key, email text not null);\n" +
            "alter table public.t enable row level security;\n" +
            "create index t_lower_email_idx on public.t (lower(email));",
          down: "drop index public.t_lower_email_idx;",
        }],
        queries: [{ sql: "select id from public.t where email = $1", index: "t_lower_email_idx" }],
      }),
    });
    assert.equal(response.status, 200);
    const report = ValidationReport.parse(await response.json());
    const rules = report.findings.map((f) => f.rule).sort();
    assert.ok(rules.includes("rollback_mismatch"), JSON.stringify(report.findings));
    assert.ok(rules.includes("index_not_used"), JSON.stringify(report.findings));
    assert.equal(report.ok, false);
  });
});

Deno.test("POST /validate with runFunctions runs the functions as the owner and another user and holds them to the documented endpoints", async () => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  const app = createValidateApp({
    jwtSecret: LOCAL_JWT_SECRET,
    shadow: () => Promise.resolve(shadow),
    postgresAvailable: true,
  });
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  const post = (body: unknown) =>
    app.fetch(
      new Request("http://localhost/validate", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }),
    );
  const names = ["notes-correct", "notes-service-role-leak", "notes-contradicts-schema"];
  const body = {
    files: [{ name: "001_notes.sql", sql: SCHEMA }],
    functions: names.map((n) => ({
      name: `${n}/index.ts`,
      source: FUNCTION_CASES.find((c) => c.name === n)!.source,
    })),
    runFunctions: true,
    // The api-data agent's ApiEndpoints as it wrote them (kind, description, auth included).
    endpoints: names.map(endpointOf),
    verifyJwt: Object.fromEntries(names.map((n) => [n, true])),
    shadow: "postgres",
    benchmark: false,
  };
  const res = await post(body);
  assert.equal(res.status, 200);
  const report = ValidationReport.parse(await res.json());
  const hits = report.findings.filter((f) => f.rule.startsWith("function_"))
    .map((f) => [f.rule, f.file]);
  assert.deepEqual(hits, [
    ["function_contract_mismatch", "notes-contradicts-schema/index.ts"],
    ["function_isolation_leak", "notes-service-role-leak/index.ts"],
  ], JSON.stringify(report.findings, null, 1));
  assert.equal(report.ok, false);

  const bad = await post({
    ...body,
    endpoints: [{ ...endpointOf("x"), errors: [{ status: 42 }] }],
  });
  assert.equal(bad.status, 400);
  const issues = (await bad.json()).error.details;
  assert.deepEqual(issues[0].path, ["endpoints", 0, "errors", 0, "status"]);
});
