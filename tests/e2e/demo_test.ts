/**
 * The offline demo (`npm run demo` → `deno task demo`) as a user runs it: its own process, no
 * `OPENAI_API_KEY`, a database of its own (through `DATABASE_URL`, as a user with their own
 * PostgreSQL would) and a free API port. It must say plainly that it uses the scripted LLM, follow
 * the seed run to the end, write the deliverable folder, and exit 0 having stopped what it started.
 * With a model configured (here the scripted server, as any OpenAI-compatible endpoint),
 * `--request` runs the user's own request on it; without one, `--request` is refused at once with
 * the reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freshDatabase, shadowAdminUrl } from "../_support/db.ts";
import { startScriptedLlm } from "../_support/scripted_llm/mod.ts";
import { tradeJournalAgentScenario } from "../fixtures/trade_journal/scenario.ts";
import { parseTap } from "../../shared/delivery/mod.ts";
import { dbPush } from "../../supabase/local/supabase_cli.ts";
import {
  OFFLINE_NOTICE,
  OFFLINE_REQUEST_REFUSAL,
  SEED_REQUEST,
} from "../../supabase/local/demo.ts";
import { applyPlatformSql } from "../../shared/platform/mod.ts";

const DEMO = new URL("../../supabase/local/demo.ts", import.meta.url).pathname;

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...await filesUnder(dir, path));
    else out.push(path);
  }
  return out.sort();
}

Deno.test(
  "the offline demo runs the seed example end to end with the scripted LLM and writes the project folder",
  async () => {
    await using db = await freshDatabase();
    const out = await Deno.makeTempDir({ prefix: "bt-demo-" });
    try {
      const target = join(out, "trade-journal");
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DEMO, "--out", target, "--port", "0"],
        env: { DATABASE_URL: db.url, OPENAI_API_KEY: "", NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(180_000),
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      const stderr = new TextDecoder().decode(output.stderr);
      const explain = `exit ${output.code}\n--- stdout\n${stdout}\n--- stderr\n${
        stderr.slice(-4000)
      }`;
      assert.equal(output.code, 0, explain);
      assert.ok(stdout.includes(OFFLINE_NOTICE), explain);
      assert.match(stdout, /^#\d+ run executing$/m, "progress was shown live");
      assert.match(stdout, /run [0-9a-f-]{36} completed/);
      assert.ok(stdout.includes(`The deliverable is in ${target}`), explain);

      const files = await filesUnder(target);
      assert.ok(
        files.some((f) => /^supabase\/migrations\/\d{14}_create_trade_journal\.sql$/.test(f)),
        `no create_trade_journal migration in:\n${files.join("\n")}`,
      );
      await assertDeliverableHolds(target, files);

      // Everything the demo started is stopped: the port it used no longer answers.
      const port = /Local stack at http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
      assert.ok(port, explain);
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/functions/v1/orchestrator/openapi.json`),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

Deno.test("without a key, the demo refuses --request at once, saying only the recorded example runs offline", async () => {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEMO, "--request", "A todo API with per-user lists", "--port", "0"],
    env: {
      OPENAI_API_KEY: "",
      DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none",
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 2, stderr);
  assert.ok(stderr.includes(OFFLINE_REQUEST_REFUSAL), stderr);
  // Refused before anything starts: no stack, no database (the one given does not exist).
  assert.doesNotMatch(new TextDecoder().decode(output.stdout), /Starting the local stack/);
  assert.ok(performance.now() - started < 30_000);
});

Deno.test(
  "npm run demo -- --request with the scripted server configured as the model runs the given request on it",
  async () => {
    await using db = await freshDatabase();
    await using llm = await startScriptedLlm({
      scenarios: [await tradeJournalAgentScenario()],
      scenarioFiles: [new URL("../fixtures/llm/trade_journal_plan.json", import.meta.url)],
    });
    const request =
      "A trade journal for swing traders: positions, trades and tags, each user seeing only their own";
    const out = await Deno.makeTempDir({ prefix: "bt-demo-request-" });
    try {
      const target = join(out, "swing");
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DEMO, "--request", request, "--out", target, "--port", "0"],
        env: {
          DATABASE_URL: db.url,
          SHADOW_DATABASE_URL: await shadowAdminUrl(),
          OPENAI_API_KEY: "scripted-key",
          OPENAI_BASE_URL: llm.url,
          OPENAI_MODEL: "scripted-model",
          NO_COLOR: "1",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(180_000),
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      const stderr = new TextDecoder().decode(output.stderr);
      const explain = `exit ${output.code}\n--- stdout\n${stdout}\n--- stderr\n${
        stderr.slice(-4000)
      }`;
      assert.equal(output.code, 0, explain);
      assert.ok(!stdout.includes(OFFLINE_NOTICE), explain);
      assert.ok(stdout.includes(`Using the model scripted-model at ${llm.url}`), explain);
      assert.ok(stdout.includes(`Request: "${request}"`), explain);
      assert.match(stdout, /run [0-9a-f-]{36} completed/, explain);
      assert.ok(stdout.includes(`The deliverable is in ${target}`), explain);

      // The configured model was asked about this request, not the seed one.
      const understand = llm.requests.find((r) => r.phase === "understand");
      assert.ok(understand, `requests: ${llm.requests.map((r) => r.phase).join(", ")}`);
      assert.ok(understand.messages.some((m) => m.content.includes(request)));
      assert.ok(
        !llm.requests.some((r) => r.messages.some((m) => m.content.includes(SEED_REQUEST))),
      );
      assert.ok(llm.requests.every((r) => r.model === "scripted-model"));
      assert.equal(llm.requests[0].headers.authorization, "Bearer scripted-key");

      const files = await filesUnder(target);
      assert.ok(
        files.some((f) => /^supabase\/migrations\/\d{14}_create_trade_journal\.sql$/.test(f)),
        files.join("\n"),
      );
      // The run is the demo user's, with the given request.
      const [run] = await db.sql<{ request: string; status: string }[]>`
        select request, status from backend_team.runs`;
      assert.deepEqual(run, { request, status: "completed" });
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

/**
 * The demo's deliverable as a user would use it: its migrations pushed with the real Supabase CLI
 * to a fresh database holding only what a Supabase project has give the expected tables, RLS and
 * indexes; its pgTAP tests pass there; its README carries every section of the deliverable.
 */
async function assertDeliverableHolds(target: string, files: string[]): Promise<void> {
  await using fresh = await freshDatabase({ template: false });
  await applyPlatformSql(fresh.sql);
  await fresh.sql`create extension if not exists pgtap with schema extensions`;
  const report = await dbPush(fresh.url, { workdir: target });
  assert.equal(report.applied.length, 3, report.applied.join(", "));

  const tables = await fresh.sql<{ relname: string; rls: boolean }[]>`
    select c.relname, c.relrowsecurity as rls from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' order by c.relname`;
  assert.deepEqual(tables.map((t) => [t.relname, t.rls]), [
    ["positions", true],
    ["tags", true],
    ["trade_tags", true],
    ["trades", true],
  ]);
  const indexes = await fresh.sql<{ indexname: string }[]>`
    select indexname from pg_indexes where schemaname = 'public'`;
  for (
    const name of [
      "trades_user_executed_at_idx",
      "positions_user_open_idx",
      "trades_position_id_idx",
      "trade_tags_tag_id_idx",
    ]
  ) {
    assert.ok(indexes.some((i) => i.indexname === name), `index ${name}`);
  }

  const tests = files.filter((f) => /^supabase\/tests\/database\/.+\.test\.sql$/.test(f));
  assert.ok(tests.length >= 4, `pgTAP files: ${tests.join(", ")}`);
  const connection = await fresh.sql.reserve();
  try {
    for (const test of tests) {
      const output = await connection.unsafe(
        await Deno.readTextFile(join(target, test)),
      ) as unknown as Record<string, unknown>[][];
      const values = output.flat().flatMap((r) => Object.values(r))
        .filter((v): v is string => typeof v === "string");
      const tap = parseTap(values);
      assert.ok(tap.ok && tap.planned > 0, `${test}: ${tap.failures.join("\n")}`);
    }
  } finally {
    connection.release();
  }

  const readme = await Deno.readTextFile(join(target, "README.md"));
  for (
    const section of [
      "Summary",
      "Migrations",
      "Row level security",
      "Indexes",
      "Edge Functions",
      "API Documentation",
      "Deployment Configuration",
      "Setup",
      "Notes",
      "Rollback",
      "Tests",
      "Validation",
    ]
  ) {
    assert.match(readme, new RegExp(`^#+ .*${section}`, "im"), `README section ${section}`);
  }
}
