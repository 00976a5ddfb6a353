/**
 * Delivery end to end on real PostgreSQL: a trade journal run is driven through the state machine
 * as the service side (plan → tasks → accepted attempts with the agents' artifacts) until it is
 * `delivering`, then `deliverRun` validates the merged migrations on the PostgreSQL shadow (the
 * second server, a database and login role of its own per check, as the unprivileged shadow
 * role), stores the deliverable and completes the run. The three HTTP forms are read through the real app
 * on loopback, and the delivered pgTAP tests are run again, independently, on a fresh empty
 * database holding only the platform SQL, pgTAP and the delivered migrations.
 */
import assert from "node:assert/strict";
import { createOrchestratorApp } from "../../shared/api/mod.ts";
import { artifactsOf } from "../../shared/agents/mod.ts";
import { LOCAL_JWT_SECRET, mintUserToken } from "../../shared/auth/mod.ts";
import type { Sql } from "../../shared/db/mod.ts";
import { deliverRun, parseTap } from "../../shared/delivery/mod.ts";
import {
  TRADE_JOURNAL_REQUEST,
  TRADE_JOURNAL_TASKS,
  TRADE_JOURNAL_UNDERSTANDING,
  tradeJournalValidation,
} from "../../shared/delivery/testdata/trade_journal.ts";
import { pushMigrationFiles } from "../../supabase/local/supabase_cli.ts";
import { DeliveryResult } from "../../shared/runs/mod.ts";
import { createPostgresShadow } from "../../shared/shadow/mod.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";
import { adminUrl, freshDatabase, shadowAdminUrl, type TestDatabase } from "../_support/db.ts";
import { runChanges } from "../_support/events.ts";

/**
 * The shadow delivery validates on: shared/shadow's PostgreSQL shadow on the tests' shadow server,
 * checked at start to be another server than the product's.
 */
async function shadow() {
  return await createPostgresShadow({
    adminUrl: await shadowAdminUrl(),
    productUrl: await adminUrl(),
    spare: false,
  });
}

/** Changes one task's migration SQL (to plant a defect). */
type Tamper = (sql: string) => string;

/**
 * Creates a user and a trade journal run and drives it, as the workers would, to `delivering`:
 * the plan becomes tasks, each task's attempt starts from its queue message and is accepted with
 * the agent's output and artifacts. Returns the ids and the orchestrator message to deliver.
 */
async function seedDeliveringRun(
  sql: Sql,
  tamper: Tamper = (s) => s,
  context: { schema_sql?: string } = {},
  /** Changes an agent's output before it is accepted (to plant a defect outside the SQL). */
  edit: (agent: string, output: { artifacts: Record<string, unknown> }) => void = () => {},
) {
  const owner = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${owner}, ${`${owner}@example.test`})`;
  const [run] = await sql<{ id: string }[]>`
    insert into backend_team.runs (owner_id, request, context)
    values (${owner}, ${TRADE_JOURNAL_REQUEST}, ${sql.json(context)}::jsonb)
    returning id`;
  await sql`select backend_team.transition_run(${run.id}::uuid, 'understanding')`;
  await sql`select backend_team.transition_run(${run.id}::uuid, 'planning', ${
    sql.json({ understanding: TRADE_JOURNAL_UNDERSTANDING, complexity: "complex" })
  }::jsonb)`;
  const plan = {
    goal: TRADE_JOURNAL_UNDERSTANDING.goal,
    strategy: "hybrid",
    tasks: TRADE_JOURNAL_TASKS.map((t) => ({
      id: t.key,
      agent: t.agent,
      title: t.title,
      input: t.title,
      output: ["artifacts"],
      depends_on: t.depends_on,
      tables: [],
    })),
    checkpoints: [],
    contracts: [],
    integration: [],
  };
  await sql`select * from backend_team.persist_plan(${run.id}::uuid, ${sql.json(plan)}::jsonb)`;

  // Complete whichever tasks are queued until none are left, as their agents would.
  for (let round = 0; round < 10; round++) {
    const queued = await sql<{ id: string; key: string; msg_id: string }[]>`
      select id, key, msg_id from backend_team.tasks
       where run_id = ${run.id} and status = 'queued' order by length(key), key`;
    if (queued.length === 0) break;
    for (const task of queued) {
      const spec = TRADE_JOURNAL_TASKS.find((t) => t.key === task.key)!;
      const output = structuredClone(spec.output);
      edit(spec.agent, output as { artifacts: Record<string, unknown> });
      for (
        const m of (output.artifacts as { migrations?: { up_sql: string }[] }).migrations ?? []
      ) {
        m.up_sql = tamper(m.up_sql);
      }
      const validation = tradeJournalValidation(task.key);
      // artifacts.(task_id, path) is unique, yet an agent's document sections share one path:
      // stored here as `doc.md#2`, `doc.md#3`, … (the assembler groups them back by document).
      const seen = new Map<string, number>();
      const artifacts = artifactsOf(spec.agent, output as never).map((a) => {
        const n = (seen.get(a.path) ?? 0) + 1;
        seen.set(a.path, n);
        return {
          ...a,
          path: n === 1 ? a.path : `${a.path}#${n}`,
          meta: { ...a.meta, validation: { ok: true, errors: 0 } },
        };
      });
      const [started] = await sql<{ applied: boolean; attempt: number }[]>`
        select * from backend_team.start_attempt(${task.id}::uuid, ${task.msg_id}::bigint, 1)`;
      assert.ok(started.applied, `task ${task.key} started`);
      const [done] = await sql<{ applied: boolean }[]>`
        select * from backend_team.complete_attempt(${task.id}::uuid, ${started.attempt}::integer, ${
        sql.json(
          { output, artifacts, validation, prompt_tokens: 100, completion_tokens: 50 } as never,
        )
      }::jsonb)`;
      assert.ok(done.applied, `task ${task.key} completed`);
    }
  }
  const [state] = await sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${run.id}`;
  assert.equal(state.status, "delivering");
  const [message] = await sql<{ msg_id: string }[]>`
    select msg_id from pgmq.q_bt_orchestrator
     where message ->> 'run_id' = ${run.id} order by msg_id desc limit 1`;
  return { runId: run.id, ownerId: owner, msgId: Number(message.msg_id) };
}

/** The orchestrator app on a loopback port, as Supabase's gateway would route to it. */
function serveApi(db: TestDatabase) {
  const app = createOrchestratorApp({
    sql: db.sql,
    jwtSecret: LOCAL_JWT_SECRET,
    logError: () => {},
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
    return app.fetch(new Request(url, { method: req.method, headers: req.headers }));
  });
  const base = `http://127.0.0.1:${server.addr.port}/functions/v1/orchestrator`;
  return {
    get: (path: string, token: string, accept?: string) =>
      fetch(`${base}${path}`, {
        headers: { Authorization: `Bearer ${token}`, ...(accept ? { Accept: accept } : {}) },
      }),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function systemTar(args: string[], input: Uint8Array): Promise<string[]> {
  const child = new Deno.Command("tar", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l !== "" && !l.endsWith("/")
  );
}

Deno.test("a delivered run is completed with its deliverable as rows, served as JSON, Markdown and archives", async () => {
  await using db = await freshDatabase();
  const { runId, ownerId, msgId } = await seedDeliveringRun(db.sql);

  await using validationShadow = await shadow();
  const outcome = await deliverRun(
    { sql: db.sql, shadow: validationShadow },
    { id: runId },
    msgId,
  );
  assert.equal(outcome.status, "completed", JSON.stringify(outcome.integration?.tests));
  assert.equal(outcome.integration?.ok, true);

  // The run: completed, with the sections index as its result; the message archived with it.
  const [run] = await db.sql<{ status: string; result: unknown }[]>`
    select status, result from backend_team.runs where id = ${runId}`;
  assert.equal(run.status, "completed");
  const result = DeliveryResult.parse(run.result);
  assert.equal(result.files, outcome.files);
  assert.equal(result.sections.migrations.length, 4);
  // Five pgTAP files, and the Deno tests of the trade-stats function with their env helper.
  assert.equal(result.sections.tests.filter((t) => t.startsWith("supabase/tests/")).length, 5);
  assert.deepEqual(result.sections.tests.filter((t) => t.startsWith("supabase/functions/tests/")), [
    "supabase/functions/tests/_env.ts",
    "supabase/functions/tests/trade-stats_test.ts",
  ]);
  const [queued] = await db.sql`select 1 from pgmq.q_bt_orchestrator where msg_id = ${msgId}`;
  const [archived] = await db.sql`select 1 from pgmq.a_bt_orchestrator where msg_id = ${msgId}`;
  assert.ok(!queued && archived, "the message is archived in the completing transaction");

  // The files: rows without a task under deliverable/, announced as events.
  const rows = await db.sql<{ path: string; kind: string }[]>`
    select path, kind from backend_team.artifacts
     where run_id = ${runId} and task_id is null order by ordinal`;
  assert.equal(rows.length, outcome.files);
  assert.ok(rows.every((r) => r.path.startsWith("deliverable/")));
  const paths = rows.map((r) => r.path);
  assert.equal(paths[0], "deliverable/README.md");
  assert.equal(
    paths.filter((p) => /^deliverable\/supabase\/migrations\/\d{14}_[a-z_]+\.sql$/.test(p)).length,
    4,
  );
  for (const table of ["profiles", "positions", "trades", "tags", "trade_tags"]) {
    assert.ok(paths.includes(`deliverable/supabase/tests/database/${table}.test.sql`), table);
  }
  const events = await runChanges(db.sql, runId);
  assert.equal(
    events.filter((e) => e.type === "artifact.created" && e.payload.task_id === null).length,
    outcome.files,
  );
  assert.equal(events.at(-1)!.type, "run.completed");

  // A redelivered message finds the run completed and changes nothing.
  const [again] = await db.sql<{ id: string }[]>`
    select pgmq.send('bt_orchestrator', ${db.sql.json({ run_id: runId })}::jsonb) as id`;
  const repeat = await deliverRun({ sql: db.sql }, { id: runId }, Number(again.id));
  assert.equal(repeat.status, "skipped");
  const [{ n }] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from backend_team.artifacts where run_id = ${runId} and task_id is null`;
  assert.equal(n, outcome.files);

  // The three forms over HTTP, as the owner.
  await using api = serveApi(db);
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: ownerId });
  const json = await api.get(`/runs/${runId}/deliverable`, token);
  assert.equal(json.status, 200);
  assert.match(json.headers.get("content-type")!, /^application\/json/);
  const body = await json.json();
  assert.equal(body.files.length, outcome.files);
  assert.equal(body.files[0].path, "README.md");
  assert.equal(body.result.validation.integration.ok, true);
  assert.equal(
    body.artifacts.filter((a: { task_id: string | null }) => a.task_id === null).length,
    0,
  );

  const md = await api.get(`/runs/${runId}/deliverable`, token, "text/markdown");
  assert.equal(md.status, 200);
  assert.match(md.headers.get("content-type")!, /^text\/markdown/);
  assert.equal(md.headers.get("access-control-allow-origin"), "*", "browsers may read it too");
  const markdown = await md.text();
  for (
    const heading of [
      "Summary",
      "Migrations",
      "Indexes",
      "Edge Functions",
      "API Documentation",
      "Deployment Configuration",
      "Setup",
      "Notes",
      "Tests",
      "Validation",
    ]
  ) {
    assert.match(markdown, new RegExp(`^## ${heading}$`, "m"), heading);
  }
  assert.match(markdown, /\*\*Passed\*\* on a fresh postgresql shadow database/);

  const tgz = await api.get(`/runs/${runId}/deliverable`, token, "application/gzip");
  assert.equal(tgz.status, 200);
  assert.equal(tgz.headers.get("content-type"), "application/gzip");
  assert.match(tgz.headers.get("content-disposition")!, /filename="deliverable-.*\.tar\.gz"/);
  const listed = await systemTar(["-tzf", "-"], new Uint8Array(await tgz.arrayBuffer()));
  assert.deepEqual(listed, body.files.map((f: { path: string }) => f.path));

  const tar = await api.get(`/runs/${runId}/deliverable`, token, "application/x-tar");
  assert.equal(tar.headers.get("content-type"), "application/x-tar");
  assert.deepEqual(await systemTar(["-tf", "-"], new Uint8Array(await tar.arrayBuffer())), listed);

  const refused = await api.get(`/runs/${runId}/deliverable`, token, "image/png");
  assert.equal(refused.status, 406);
  assert.equal((await refused.json()).error.code, "not_acceptable");

  const stranger = await mintUserToken(LOCAL_JWT_SECRET, { sub: crypto.randomUUID() });
  const hidden = await api.get(`/runs/${runId}/deliverable`, stranger, "application/gzip");
  assert.equal(hidden.status, 404);
  await hidden.body?.cancel();

  // The delivered tests pass on a fresh, empty database holding only what a Supabase project has.
  await using target = await freshDatabase({ template: false });
  await applyPlatformSql(target.sql);
  await target.sql`create extension if not exists pgtap with schema extensions`;
  const files = body.files as { path: string; content: string }[];
  // Pushed with the real Supabase CLI, as a user deploys it.
  await pushMigrationFiles(target.url, files);
  const connection = await target.sql.reserve();
  try {
    for (const test of files.filter((f) => f.path.startsWith("supabase/tests/database/"))) {
      const output = await connection.unsafe(test.content) as unknown as Record<
        string,
        unknown
      >[][];
      const values = output.flat().flatMap((r) => Object.values(r)).filter((v) =>
        typeof v === "string"
      );
      const tap = parseTap(values as string[]);
      assert.ok(tap.ok, `${test.path}: ${tap.failures.join("\n")}`);
      assert.ok(tap.planned >= 15, `${test.path} plans ${tap.planned} tests`);
    }
  } finally {
    connection.release();
  }
});

Deno.test("a policy that leaks rows is attributed to its task, which is sent back with the failing test", async () => {
  await using db = await freshDatabase();
  const leak: Tamper = (sql) =>
    sql.replace(
      'for select to authenticated using (user_id = (select auth.uid()));\ncreate policy "owners create positions"',
      'for select to authenticated using (user_id = user_id);\ncreate policy "owners create positions"',
    );
  const { runId, ownerId, msgId } = await seedDeliveringRun(db.sql, leak);

  await using validationShadow = await shadow();
  const outcome = await deliverRun(
    { sql: db.sql, shadow: validationShadow },
    { id: runId },
    msgId,
  );
  assert.equal(outcome.status, "recovering");
  assert.ok((outcome.wake ?? []).length > 0);
  const [run] = await db.sql<{ status: string }[]>`
    select status from backend_team.runs where id = ${runId}`;
  assert.equal(run.status, "executing", "the run is not failed");
  const decisions = await db.sql<{ class: string; strategy: string; reason: string }[]>`
    select class, strategy, reason from backend_team.recovery_decisions where run_id = ${runId}`;
  assert.ok(decisions.length > 0);
  assert.ok(
    decisions.every((d) => d.class === "integration" && d.strategy === "retry"),
    JSON.stringify(decisions),
  );
  assert.ok(
    decisions.some((d) => d.reason.includes("another user sees none of the owner's rows")),
    JSON.stringify(decisions),
  );
  const [{ n }] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from backend_team.artifacts where run_id = ${runId} and task_id is null`;
  assert.equal(n, 0, "no deliverable is stored");
  const [archived] = await db.sql`select 1 from pgmq.a_bt_orchestrator where msg_id = ${msgId}`;
  assert.ok(archived);

  await using api = serveApi(db);
  const token = await mintUserToken(LOCAL_JWT_SECRET, { sub: ownerId });
  const res = await api.get(`/runs/${runId}/deliverable`, token);
  assert.equal(res.status, 409);
  await res.body?.cancel();
});

Deno.test("a migration that does not apply from scratch names the file and line, and its task is sent back", async () => {
  await using db = await freshDatabase();
  const broken: Tamper = (sql) =>
    sql.replace(
      "create index trades_user_executed_at_idx on public.trades (user_id, executed_at desc);",
      "create index trades_user_executed_at_idx on public.trades (user_id, executed);",
    );
  const { runId, msgId } = await seedDeliveringRun(db.sql, broken);
  await using validationShadow = await shadow();
  const outcome = await deliverRun(
    { sql: db.sql, shadow: validationShadow },
    { id: runId },
    msgId,
  );
  assert.equal(outcome.status, "recovering");
  const failedMigration = outcome.integration!.migrations.find((m) => !m.ok)!;
  assert.match(failedMigration.path, /_add_journal_query_indexes\.sql$/);
  assert.match(failedMigration.error!, /^line 2: column "executed" does not exist/);
  assert.deepEqual(outcome.integration!.tests, []);
});

Deno.test("a config.toml naming a function nobody delivered fails delivery and sends the deployment task back", async () => {
  await using db = await freshDatabase();
  const { runId, msgId } = await seedDeliveringRun(db.sql, undefined, {}, (agent, output) => {
    if (agent !== "deployment") return;
    (output.artifacts.files as { path: string; content: string; description: string }[]).push({
      path: "supabase/config.toml",
      content: "[functions.trade-stats]\nverify_jwt = true\n\n[functions.trade-report]\n" +
        "verify_jwt = true\n",
      description: "Function settings.",
    });
  });
  await using validationShadow = await shadow();
  const outcome = await deliverRun(
    { sql: db.sql, shadow: validationShadow },
    { id: runId },
    msgId,
  );
  assert.equal(outcome.status, "recovering");
  assert.deepEqual(outcome.wake, ["deployment"]);
  // The migrations and their tests passed; the configuration is what failed.
  const report = outcome.integration!;
  assert.ok(report.migrations.every((m) => m.ok) && report.tests.every((t) => t.ok));
  assert.deepEqual(report.config?.map((c) => [c.rule, c.file]), [
    ["deploy_config_unknown_function", "supabase/config.toml"],
  ]);
  const decisions = await db.sql<{ key: string; strategy: string; reason: string }[]>`
    select t.key, d.strategy, d.reason from backend_team.recovery_decisions d
      join backend_team.tasks t on t.id = d.task_id
     where d.run_id = ${runId} and d.class = 'integration'`;
  assert.deepEqual(decisions.map((d) => [d.key, d.strategy]), [["T5", "retry"]]);
  assert.match(decisions[0].reason, /\[functions\.trade-report\] names no delivered function/);
});

Deno.test("without a shadow database the run still completes, and the deliverable says it was not validated together", async () => {
  await using db = await freshDatabase();
  const { runId, msgId } = await seedDeliveringRun(db.sql);
  const outcome = await deliverRun({ sql: db.sql }, { id: runId }, msgId);
  assert.equal(outcome.status, "completed");
  const [run] = await db.sql<
    { result: unknown }[]
  >`select result from backend_team.runs where id = ${runId}`;
  const result = DeliveryResult.parse(run.result);
  assert.equal(result.validation.integration, null);
  // No pgTAP tests without the integration run; the functions' own tests ship all the same.
  assert.deepEqual(result.sections.tests, [
    "supabase/functions/tests/_env.ts",
    "supabase/functions/tests/trade-stats_test.ts",
  ]);
  assert.ok(
    result.sections.notes.future_improvements.some((n) => /not validated together/.test(n)),
  );
});

/** SQL that acts only where it finds a superuser, then tries anyway; writes `marker` if it can. */
function copyToProgram(marker: string): string {
  return `do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    execute 'copy (select 1) to program ''touch ${marker}''';
  end if;
  execute 'copy (select 2) to program ''touch ${marker}''';
end
$$;
`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("COPY … TO PROGRAM in context.schema_sql or a merged migration runs nothing at delivery: the run fails saying why, or the task is sent back", async () => {
  for (const where of ["schema_sql", "migration"] as const) {
    await using db = await freshDatabase();
    const marker = `/tmp/bt_pwned_${crypto.randomUUID().replaceAll("-", "")}`;
    const hostile = copyToProgram(marker);
    const { runId, msgId } = where === "schema_sql"
      ? await seedDeliveringRun(db.sql, undefined, {
        schema_sql: `${hostile}create table public.legacy (id bigint primary key);\n`,
      })
      : await seedDeliveringRun(
        db.sql,
        (sql) => sql.includes("create table public.profiles") ? `${hostile}${sql}` : sql,
      );
    await using validationShadow = await shadow();
    try {
      const outcome = await deliverRun(
        { sql: db.sql, shadow: validationShadow },
        { id: runId },
        msgId,
      );
      assert.equal(await exists(marker), false, `${where}: no program ran`);
      if (where === "migration") {
        // A task's migration is that task's to fix: it is sent back, the run is not lost.
        assert.equal(outcome.status, "recovering", where);
        const [decision] = await db.sql<{ class: string; reason: string }[]>`
          select class, reason from backend_team.recovery_decisions where run_id = ${runId}`;
        assert.equal(decision.class, "integration");
        continue;
      }
      assert.equal(outcome.status, "failed", where);
      const [run] = await db.sql<
        { status: string; error: { code: string; findings: string[] } }[]
      >`select status, error from backend_team.runs where id = ${runId}`;
      assert.equal(run.error.code, "integration_failed", where);
      assert.ok(
        run.error.findings.some((f) => /external program/i.test(f)),
        `${where}: ${run.error.findings.join("\n")}`,
      );
    } finally {
      await Deno.remove(marker).catch(() => {});
    }
  }
});
