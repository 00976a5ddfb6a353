/**
 * The function tests a deliverable ships (`supabase/functions/tests/`, issue 15) pass against the
 * local stack, as a user would run them: the deliverable is assembled from agent outputs, written
 * as a project folder, its migrations pushed with the real Supabase CLI to a fresh database holding
 * only what a Supabase project has, its function served by the local functions gateway (the
 * function host, `verify_jwt` enforced), two users made with an owner's note, and
 * `deno test -A supabase/functions/tests/` run in the folder with `SUPABASE_URL`,
 * `SUPABASE_ANON_KEY` and the two users' tokens — it must pass. The same tests must fail against a
 * function that leaks the owner's rows to another user, so they are not tests that cannot fail.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { apiKeys, LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import { artifactsOf } from "../../shared/agents/mod.ts";
import type { DbArchitectOutput, EdgeFunctionsOutput } from "../../shared/agents/outputs.ts";
import { assembleDeliverable, type AssemblyInput } from "../../shared/delivery/mod.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { createFunctionsGateway } from "../../supabase/local/functions_gateway.ts";
import { dbPush } from "../../supabase/local/supabase_cli.ts";
import { freshDatabase } from "../_support/db.ts";

const NOTES_UP = `create table public.notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null
);
comment on table public.notes is 'A user''s notes.';
create index notes_user_id_idx on public.notes (user_id);
alter table public.notes enable row level security;
create policy "notes: owner reads" on public.notes for select to authenticated
  using ((select auth.uid()) = user_id);
grant select on public.notes to authenticated;
`;

// A correct function: CORS, the caller's claims for RLS (the gateway verified the token), a 400
// JSON error for a body that is not JSON.
const FUNCTION = (asCaller: boolean) =>
  `import postgres from "npm:postgres@3.4.9";

const cors = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
};
const json = (body: unknown, status = 200) =>
  Response.json(body, { status, headers: cors });
const sql = postgres(Deno.env.get("SUPABASE_DB_URL")!, { max: 2 });

function claimsOf(req: Request): Record<string, unknown> | null {
  const token = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
  try {
    const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return null;
  }
}

Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  const claims = claimsOf(req);
  if (!claims?.sub || claims.role !== "authenticated") return json({ error: "unauthorized" }, 401);
  try {
    await req.json();
  } catch {
    return json({ error: "invalid_json" }, 400);
  }
  const notes = await sql.begin(async (tx) => {
    ${
    asCaller
      ? "await tx`select set_config('role', 'authenticated', true), " +
        "set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;"
      : "// (reads as the connection's role: every user's rows)"
  }
    return await tx\`select id, user_id, title from public.notes order by id\`;
  });
  return json({ notes });
});
`;

function input(source: string): AssemblyInput {
  const db: DbArchitectOutput = {
    summary: "Notes, owned by users.",
    artifacts: {
      migrations: [{
        name: "create_notes",
        description: "Creates notes with owner-only reads.",
        up_sql: NOTES_UP,
        down_sql: "drop table public.notes;",
        policies: [{
          name: "notes: owner reads",
          table: "public.notes",
          command: "select",
          roles: ["authenticated"],
          using: "(select auth.uid()) = user_id",
          with_check: null,
        }],
      }],
    },
    notes: [],
    assumptions: [],
  };
  const fns: EdgeFunctionsOutput = {
    summary: "notes: the caller's notes.",
    artifacts: {
      functions: [{
        function_name: "notes",
        description: "Returns the caller's notes.",
        verify_jwt: true,
        env_vars: ["SUPABASE_DB_URL"],
        files: [{ path: "index.ts", content: source }],
      }],
      env_vars: [],
    },
    notes: [],
    assumptions: [],
  };
  const tasks = [
    { key: "T1", agent: "db-architect" as const, output: db, depends_on: [] },
    { key: "T2", agent: "edge-functions" as const, output: fns, depends_on: ["T1"] },
  ].map((t, i) => ({
    id: `00000000-0000-4000-8000-00000000000${i + 1}`,
    key: t.key,
    agent: t.agent,
    title: t.key,
    depends_on: t.depends_on,
    status: "succeeded",
    output: t.output,
    validation: { ok: true, errors: 0, warnings: 0, findings: [] },
  }));
  return {
    run: {
      id: "00000000-0000-4000-8000-00000000a001",
      request: "Notes per user, and a function returning mine",
      created_at: "2026-12-02T10:00:00.000Z",
      understanding: null,
    },
    tasks,
    artifacts: tasks.flatMap((t) =>
      artifactsOf(t.agent, t.output as never).map((a, n) => ({
        task_id: t.id,
        kind: a.kind,
        path: a.path,
        content: a.content,
        meta: a.meta,
        ordinal: n + 1,
      }))
    ),
  };
}

async function writeProject(dir: string, source: string): Promise<string[]> {
  const { files } = await assembleDeliverable(input(source));
  for (const f of files) {
    await Deno.mkdir(join(dir, f.path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, f.path), f.content);
  }
  return files.map((f) => f.path);
}

async function runGeneratedTests(
  dir: string,
  source: string,
): Promise<{ code: number; output: string; paths: string[] }> {
  const paths = await writeProject(dir, source);
  await using db = await freshDatabase({ template: false });
  await applyPlatformSql(db.sql);
  const push = await dbPush(db.url, { workdir: dir });
  assert.equal(push.applied.length, 1, push.applied.join(", "));
  const owner = crypto.randomUUID();
  const other = crypto.randomUUID();
  await db.sql`insert into auth.users (id, email, aud, role) values
    (${owner}, 'owner@example.com', 'authenticated', 'authenticated'),
    (${other}, 'other@example.com', 'authenticated', 'authenticated')`;
  await db.sql`insert into public.notes (user_id, title) values (${owner}, 'the owner''s note')`;

  const keys = await apiKeys(LOCAL_JWT_SECRET);
  const logs: string[] = [];
  const route: { gateway?: ReturnType<typeof createFunctionsGateway> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => route.gateway!.fetch(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  route.gateway = createFunctionsGateway({
    jwtSecret: LOCAL_JWT_SECRET,
    functions: [{
      name: "notes",
      entrypoint: join(dir, "supabase/functions/notes/index.ts"),
      verifyJwt: true,
      enabled: true,
    }],
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
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "supabase/functions/tests/"],
      cwd: dir,
      env: {
        SUPABASE_URL: url,
        SUPABASE_ANON_KEY: keys.anon,
        TEST_USER_TOKEN: await mintUserToken(LOCAL_JWT_SECRET, { sub: owner }),
        TEST_OTHER_USER_TOKEN: await mintUserToken(LOCAL_JWT_SECRET, { sub: other }),
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output();
    const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr) +
      `\n--- gateway\n${logs.slice(-20).join("\n")}`;
    return { code: run.code, output, paths };
  } finally {
    await route.gateway.close();
    await server.shutdown();
  }
}

Deno.test("a deliverable's generated function tests pass against the local stack", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-fn-tests-" });
  try {
    const { code, output, paths } = await runGeneratedTests(dir, FUNCTION(true));
    assert.ok(paths.includes("supabase/functions/tests/notes_test.ts"), paths.join("\n"));
    assert.equal(code, 0, output);
    assert.match(output, /ok \| [4-9] passed \| 0 failed/, output);
    const readme = await Deno.readTextFile(join(dir, "README.md"));
    assert.match(readme, /deno test -A supabase\/functions\/tests\//);
    assert.match(readme, /TEST_USER_TOKEN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the same generated tests fail against a function that leaks the owner's rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-fn-tests-leak-" });
  try {
    const { code, output } = await runGeneratedTests(dir, FUNCTION(false));
    assert.notEqual(code, 0, output);
    assert.match(output, /another user's answer holds the owner's id/, output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
