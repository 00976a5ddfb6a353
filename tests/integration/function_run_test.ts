/**
 * Delivered edge functions started and called (issue 15): a corpus of functions, each run in the
 * sandboxed subprocess against a PostgreSQL shadow session, with the findings each must and must
 * not raise — a correct one is clean; one that crashes on bad JSON, one that forgets CORS, one that
 * answers without a token and one that throws while loading are each caught. The sandbox itself is
 * attacked too: a function that reads a server file, writes one, starts a process or calls out
 * gets nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createPgliteShadow, createPostgresShadow } from "../../shared/shadow/mod.ts";
import {
  type Finding,
  readCatalog,
  runFunctionChecks,
  validateMigrations,
} from "../../shared/validation/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";
import { endpointOf, FUNCTION_CASES, SCHEMA } from "../fixtures/functions/corpus/cases.ts";

const HEADER = `
import { verify } from "npm:hono@4.13.19/jwt";
const cors = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
};
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { ...cors, "content-type": "application/json" } });
async function user(req: Request): Promise<string | null> {
  const token = req.headers.get("authorization")?.replace(/^Bearer /, "");
  if (!token) return null;
  try {
    const claims = await verify(token, Deno.env.get("SUPABASE_JWT_SECRET")!, "HS256");
    return String(claims.sub);
  } catch {
    return null;
  }
}
`;

const GOOD = HEADER + `
Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  const uid = await user(req);
  if (!uid) return json({ error: "unauthorized" }, 401);
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return json({ error: "invalid_json" }, 400);
  }
  return json({ uid, body });
});
`;

const CASES: { name: string; source: string; must: string[] }[] = [
  { name: "good", source: GOOD, must: [] },
  {
    name: "crashes_on_bad_json",
    source: GOOD.replace(
      /let body[^]*?return json\(\{ error: "invalid_json" \}, 400\);\n {2}\}/,
      "const body = await req.json();",
    ),
    must: ["function_error_unhandled"],
  },
  {
    name: "forgets_cors",
    source: GOOD.replace(
      'if (req.method === "OPTIONS") return new Response("ok", { headers: cors });',
      "",
    ),
    must: ["function_contract_mismatch"],
  },
  {
    name: "no_auth",
    source: GOOD.replace('if (!uid) return json({ error: "unauthorized" }, 401);', ""),
    must: ["function_contract_mismatch"],
  },
  {
    name: "throws_at_load",
    source:
      `throw new Error("SUPABASE_URL is required");\nDeno.serve(() => new Response("never"));`,
    must: ["function_boot_error"],
  },
];

const show = (f: Finding[]) =>
  f.map((x) => `  ${x.level} ${x.rule} ${x.file} ${x.message}`).join("\n");

Deno.test("delivered functions run in a sandbox and the generated HTTP checks catch each case", async (t) => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  const databaseUrl = await session.connectionUrl!(4);
  for (const c of CASES) {
    await t.step(`${c.name}: ${c.must.join(", ") || "clean"}`, async () => {
      const started = performance.now();
      const found = await runFunctionChecks([{ name: `${c.name}/index.ts`, source: c.source }], {
        databaseUrl,
      });
      console.log(`${c.name}: ${Math.round(performance.now() - started)} ms`);
      assert.deepEqual([...new Set(found.map((f) => f.rule))].sort(), c.must, show(found));
      for (const f of found) assert.equal(f.file, `${c.name}/index.ts`);
    });
  }

  await t.step(
    "the sandbox gives a hostile function no file, process, write or network",
    async () => {
      const source = `
const tries: Record<string, string> = {};
const attempt = async (name: string, fn: () => unknown) => {
  try { await fn(); tries[name] = "allowed"; } catch (e) { tries[name] = (e as Error).name; }
};
await attempt("read", () => Deno.readTextFile("/etc/hostname"));
await attempt("write", () => Deno.writeTextFile("/tmp/bt_function_run_escape", "x"));
await attempt("run", () => new Deno.Command("id").output());
await attempt("net", () => fetch("http://1.1.1.1/"));
await attempt("env", () => { if (Deno.env.get("PATH") || Deno.env.get("HOME")) throw new Error("leaked"); });
Deno.serve((req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: { "Access-Control-Allow-Origin": "*" } });
  const leaked = Object.entries(tries).filter(([, v]) => v === "allowed").map(([k]) => k);
  return new Response(JSON.stringify({ leaked }), {
    status: leaked.length ? 500 : 401, headers: { "content-type": "application/json" },
  });
});`;
      const found = await runFunctionChecks([{ name: "hostile/index.ts", source }], {
        databaseUrl,
      });
      // 401 everywhere (malformed JSON included, a 4xx JSON) unless something got through (500).
      assert.ok(!found.some((f) => f.rule === "function_error_unhandled"), show(found));
      assert.ok(!found.some((f) => f.rule === "function_boot_error"), show(found));
      await assert.rejects(Deno.stat("/tmp/bt_function_run_escape"));
    },
  );
});

Deno.test("a function whose imports are not cached yet is started after one deno cache of them", async () => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  // An empty Deno cache: the first start (offline, --cached-only) stops on its npm: import, the
  // imports are fetched once (running none of the code), and the function starts.
  const denoDir = await Deno.makeTempDir({ prefix: "bt_function_run_cache_" });
  try {
    const found = await runFunctionChecks([{ name: "good/index.ts", source: GOOD }], {
      databaseUrl: await session.connectionUrl!(4),
      denoDir,
    });
    assert.deepEqual(found, [], show(found));
    const fetched = [...Deno.readDirSync(join(denoDir, "npm", "registry.npmjs.org"))]
      .map((e) => e.name);
    assert.ok(fetched.includes("hono"), fetched.join(", "));
    // With nothing to fetch (an import that does not exist) the boot error says so.
    const missing = await runFunctionChecks([{
      name: "missing/index.ts",
      source: 'import "npm:@bt-probe-nonexistent/never@1.0.0";\nDeno.serve(() => new Response());',
    }], { databaseUrl: await session.connectionUrl!(4), denoDir });
    assert.deepEqual(missing.map((f) => f.rule), ["function_boot_error"], show(missing));
    assert.match(missing[0].message, /its imports could not be downloaded/);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("validateMigrations runs the functions on its own shadow when asked", async (t) => {
  const files = [{ name: "notes.sql", sql: "create table public.notes (id bigint primary key);" }];
  const functions = [
    { name: "good/index.ts", source: GOOD },
    { name: "crashes_on_bad_json/index.ts", source: CASES[1].source },
  ];
  await t.step("on PostgreSQL each function is started and checked", async () => {
    await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
    const report = await validateMigrations({ shadow, files, functions, runFunctions: true });
    const hits = report.findings.filter((f) => f.rule.startsWith("function_"));
    assert.deepEqual(
      hits.map((f) => [f.rule, f.file]),
      [["function_error_unhandled", "crashes_on_bad_json/index.ts"]],
      show(report.findings),
    );
    assert.ok(!report.ok);
  });
  await t.step("on PGlite an info finding says they were not started", async () => {
    await using shadow = await createPgliteShadow({ poolSize: 1 });
    const report = await validateMigrations({ shadow, files, functions, runFunctions: true });
    const hits = report.findings.filter((f) => f.rule.startsWith("function_"));
    assert.deepEqual(hits.map((f) => [f.rule, f.level]), [["function_probe_not_run", "info"]]);
    assert.match(hits[0].message, /were not started: this shadow has no server/);
  });
});

Deno.test("the delivered-function corpus: leaks, crashes, schema contradictions and missing CORS are caught; the correct one is clean", async (t) => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  await session.exec(SCHEMA);
  const catalog = await readCatalog(session);
  const databaseUrl = await session.connectionUrl!(8);
  const times: number[] = [];
  const totals: number[] = [];
  for (const c of FUNCTION_CASES) {
    await t.step(`${c.name}: ${c.must.join(", ") || "clean"}`, async () => {
      const began = performance.now();
      const found = await runFunctionChecks([{ name: `${c.name}/index.ts`, source: c.source }], {
        databaseUrl,
        session,
        catalog,
        endpoints: [c.endpoint ?? endpointOf(c.name)],
        trace: (_, ms) => times.push(ms),
      });
      totals.push(performance.now() - began);
      const rules = [...new Set(found.map((f) => f.rule))].sort();
      assert.deepEqual(rules, [...c.must].sort(), show(found));
      for (const f of found) assert.equal(f.file, `${c.name}/index.ts`);
      if (c.must.includes("function_contract_mismatch") && c.name.includes("schema")) {
        assert.match(show(found), /POST \/functions\/v1\/notes-contradicts-schema answered 200/);
        assert.match(show(found), /\/notes\/0\/title: must be string/);
      }
      if (c.must.includes("function_isolation_leak")) {
        assert.match(
          show(found),
          /as another user answered 200 with the owner's rows of public\.notes/,
        );
      }
    });
  }
  await t.step(
    "without verify_jwt a public function need not answer 401 without a token",
    async () => {
      const source = FUNCTION_CASES[0].source.replace(
        'if (!authorization) return fail(401, "unauthorized", "sign in first");',
        "if (!authorization) return json({ notes: [] });",
      );
      const run = (verifyJwt: boolean) =>
        runFunctionChecks([{ name: "public-notes/index.ts", source }], {
          databaseUrl,
          verifyJwt: { "public-notes": verifyJwt },
        });
      assert.deepEqual((await run(false)).map((f) => f.rule), []);
      assert.deepEqual((await run(true)).map((f) => f.rule), ["function_contract_mismatch"]);
    },
  );
  await t.step("an answer shaped by what the stand-in refuses says so", async () => {
    const source = FUNCTION_CASES[0].source.replace(
      '.select("id,title").order("created_at")',
      '.select("id,title").or("title.eq.a,title.eq.b")',
    );
    const found = await runFunctionChecks([{ name: "notes-or/index.ts", source }], {
      databaseUrl,
      session,
      catalog,
      endpoints: [endpointOf("notes-or")],
    });
    assert.ok(found.some((f) => f.rule === "function_error_unhandled"), show(found));
    for (const f of found) {
      assert.match(f.message, /stand-in refused what it does not support: or= filters/);
    }
  });
  await t.step("the seeded users and rows are gone afterwards", async () => {
    const [{ n }] = await session.query<{ n: number }>(
      "select (select count(*) from public.notes)::int + (select count(*) from auth.users)::int as n",
    );
    assert.equal(n, 0);
  });
  const p50 = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[xs.length >> 1]);
  console.log(
    `function proof p50: ${p50(times)} ms started and called, ${p50(totals)} ms with the run's ` +
      `setup (seeding, cache); per case ${totals.map((ms) => Math.round(ms)).join(", ")} ms`,
  );
});

Deno.test("the nine-agents scenario's board-summary runs isolated on its migration and keeps its contract; without CORS it is caught", async () => {
  const fixture = (name: string) =>
    Deno.readTextFile(new URL(`../fixtures/nine_agents/${name}`, import.meta.url));
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  await session.exec(await fixture("create_boards.up.sql"));
  const found = await runFunctionChecks(
    [{ name: "board-summary/index.ts", source: await fixture("board_summary.ts") }],
    {
      databaseUrl: await session.connectionUrl!(8),
      session,
      catalog: await readCatalog(session),
      endpoints: [{
        method: "GET",
        path: "/functions/v1/board-summary",
        request: null,
        response: JSON.stringify({
          type: "object",
          required: ["boards"],
          properties: {
            boards: {
              type: "array",
              items: {
                type: "object",
                required: ["id", "name", "open", "done"],
                properties: {
                  id: { type: "string", format: "uuid" },
                  name: { type: "string" },
                  open: { type: "integer", minimum: 0 },
                  done: { type: "integer", minimum: 0 },
                },
              },
            },
          },
        }),
        errors: [{ status: 401 }, { status: 405 }],
      }],
    },
  );
  // Boards and cards were seeded for the owner and the owner saw them (no "not shown"); the
  // other user saw none (no leak); the preflight, the 401 and the 405 on malformed JSON hold.
  assert.deepEqual(found.map((f) => f.rule), [], show(found));
  // The same function without its OPTIONS answer (as the scenario first delivered it) is caught.
  const withoutCors = (await fixture("board_summary.ts")).replace(
    /\n {2}if \(req\.method === "OPTIONS"\)[^\n]*/,
    "",
  );
  const caught = await runFunctionChecks(
    [{ name: "board-summary/index.ts", source: withoutCors }],
    { databaseUrl: await session.connectionUrl!(8) },
  );
  assert.ok(
    caught.some((f) =>
      f.rule === "function_contract_mismatch" && /OPTIONS preflight got 405/.test(f.message)
    ),
    show(caught),
  );
});

Deno.test("rows RLS shows every user are not the owner's to leak; nor is a shared parent's id", async (t) => {
  await using shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
  await using session = await shadow.open();
  await session.exec(`
    create table public.topics (id uuid primary key default gen_random_uuid(), label text not null);
    alter table public.topics enable row level security;
    create policy topics_read on public.topics for select to authenticated using (true);
    create table public.posts (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references auth.users (id) on delete cascade,
      topic_id uuid not null references public.topics (id) on delete cascade,
      body text not null
    );
    alter table public.posts enable row level security;
    create policy posts_read on public.posts for select to authenticated using (true);
    grant select on public.topics, public.posts to authenticated;
  `);
  // The service-role function of the corpus, listing another table.
  const lister = (table: string, columns: string) =>
    FUNCTION_CASES[1].source.replace(
      'admin.from("notes").select("id,title")',
      `admin.from("${table}").select("${columns}")`,
    );
  const run = async (table: string, columns: string) =>
    (await runFunctionChecks([{ name: `${table}/index.ts`, source: lister(table, columns) }], {
      databaseUrl: await session.connectionUrl!(8),
      session,
      catalog: await readCatalog(session),
    })).map((f) => f.rule);
  await t.step("posts everyone may read: listing them all is no leak", async () => {
    assert.deepEqual(await run("posts", "id,topic_id,body"), []);
  });
  await session.exec(`
    drop policy posts_read on public.posts;
    create policy posts_read on public.posts for select to authenticated
      using ((select auth.uid()) = user_id);
  `);
  await t.step("posts of their owner only: listing them all is a leak", async () => {
    assert.deepEqual(await run("posts", "id,topic_id,body"), ["function_isolation_leak"]);
  });
  await t.step("the public topic an owner's post points to is no leak of that post", async () => {
    // No leak; and since no owner row came back either, the check says it showed nothing.
    assert.deepEqual(await run("topics", "id,label"), ["function_isolation_not_shown"]);
  });
});
