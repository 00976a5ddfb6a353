import assert from "node:assert/strict";
import { ArtifactKind } from "../runs/artifact.ts";
import { AGENTS } from "../plan/schema.ts";
import { artifactsOf, DOC_PATHS, fileKind } from "./artifacts_of.ts";
import { SAMPLES } from "./testdata/samples.ts";

Deno.test("migrations become supabase/migrations/<name>.sql rows carrying their rollback", () => {
  const rows = artifactsOf("db-architect", SAMPLES["db-architect"]);
  const migrations = rows.filter((r) => r.kind === "migration");
  assert.deepEqual(migrations.map((r) => r.path), [
    "supabase/migrations/create_task_watchers.sql",
    "supabase/migrations/add_invoice_reminders.sql",
  ]);
  assert.equal(migrations[0].content, SAMPLES["db-architect"].artifacts.migrations[0].up_sql);
  assert.equal(migrations[0].meta.down_sql, "drop table public.task_watchers;");
  assert.equal(migrations[0].meta.section, false);
  assert.equal(rows[0].kind, "migration", "migrations come first");
});

Deno.test("each documented policy becomes a section of docs/policies.md linked to its migration", () => {
  const policies = artifactsOf("db-architect", SAMPLES["db-architect"]).filter((r) =>
    r.kind === "policy"
  );
  assert.equal(policies.length, 3);
  for (const p of policies) {
    assert.equal(p.path, DOC_PATHS.policies);
    assert.equal(p.meta.section, true);
    assert.equal(p.meta.migration, "create_task_watchers");
    assert.equal(p.meta.table, "public.task_watchers");
  }
  assert.match(policies[1].content, /with check: `\(select auth\.uid\(\)\) = user_id/);
});

Deno.test("indexes keep the query they serve and point to the migration that creates them", () => {
  const rows = artifactsOf("query-optimizer", SAMPLES["query-optimizer"]);
  const index = rows.find((r) => r.kind === "index" && r.meta.name === "tasks_sprint_status_idx")!;
  assert.equal(index.path, DOC_PATHS.indexes);
  assert.equal(index.meta.migration, "add_board_indexes");
  assert.match(String(index.meta.serves_query), /where sprint_id = \$1/);
  assert.match(index.content, /Serves:/);
  assert.equal(rows.filter((r) => r.kind === "query").length, 1);
});

Deno.test("edge function files land in supabase/functions/<name>/ with their settings", () => {
  const rows = artifactsOf("edge-functions", SAMPLES["edge-functions"]);
  const fns = rows.filter((r) => r.kind === "edge_function");
  assert.deepEqual(fns.map((r) => r.path), [
    "supabase/functions/export-tasks/index.ts",
    "supabase/functions/_shared/cors.ts",
  ]);
  assert.equal(fns[0].meta.verify_jwt, true);
  assert.equal(fns[0].meta.entrypoint, true);
  assert.equal(fns[1].meta.entrypoint, false, "_shared is not deployed");
  const setup = rows.filter((r) => r.path === DOC_PATHS.setup);
  assert.equal(setup.length, 1);
  assert.match(setup[0].content, /`SUPABASE_URL`/);
});

Deno.test("endpoints and channels become sections of docs/api.md and docs/realtime.md", () => {
  const api = artifactsOf("api-data", SAMPLES["api-data"]);
  const endpoints = api.filter((r) => r.kind === "api_doc");
  assert.deepEqual(endpoints.map((r) => r.path), [DOC_PATHS.api, DOC_PATHS.api]);
  assert.match(endpoints[0].content, /^### GET \/rest\/v1\/tasks/);
  assert.match(endpoints[0].content, /\| 401 \| PGRST301 \|/);
  assert.equal(api.find((r) => r.path.endsWith("types.ts"))?.kind, "types");

  const ws = artifactsOf("websocket", SAMPLES.websocket);
  const channel = ws.find((r) => r.path === DOC_PATHS.realtime)!;
  assert.equal(channel.kind, "api_doc");
  assert.match(channel.content, /project:<project_id>.*private/);
  assert.equal(ws.find((r) => r.path === "docs/realtime/subscribe.ts")?.kind, "other");
});

Deno.test("deployment files are deploy_config rows and steps join the setup document", () => {
  const rows = artifactsOf("deployment", SAMPLES.deployment);
  assert.deepEqual(
    rows.filter((r) => r.kind === "deploy_config").map((r) => r.path),
    ["supabase/config.toml", ".github/workflows/deploy.yml"],
  );
  const setup = rows.filter((r) => r.path === DOC_PATHS.setup).map((r) => r.content).join("\n");
  assert.match(setup, /1\. supabase link/);
  assert.match(setup, /`SUPABASE_ACCESS_TOKEN` \(secret\)/);
});

Deno.test("diagnoses, monitoring checks and security findings map to their documents", () => {
  const d = artifactsOf("debugger", SAMPLES.debugger);
  assert.deepEqual(d.map((r) => [r.kind, r.path]), [["diagnosis", DOC_PATHS.diagnosis]]);
  const m = artifactsOf("monitor", SAMPLES.monitor);
  assert.deepEqual(m.map((r) => r.path), [
    "monitoring/slow_task_queries.sql",
    "monitoring/queue_backlog.sql",
  ]);
  assert.match(m[1].content, /-- alert when: oldest_msg_age_sec > 300\n.*pgmq\.metrics_all/s);
  const s = artifactsOf("security", SAMPLES.security);
  assert.equal(s.filter((r) => r.path === DOC_PATHS.security).length, 2);
  assert.match(s.find((r) => r.path === DOC_PATHS.security)!.content, /^### \[high\]/);
});

Deno.test("every row of every agent has a valid artifact kind and a relative path", () => {
  for (const agent of AGENTS) {
    for (const row of artifactsOf(agent, SAMPLES[agent])) {
      assert.ok(ArtifactKind.safeParse(row.kind).success, `${agent}: ${row.kind}`);
      assert.ok(!row.path.startsWith("/") && !row.path.includes(".."), row.path);
      assert.equal(row.meta.agent, agent);
      assert.doesNotThrow(() => JSON.stringify(row.meta));
    }
  }
});

Deno.test("whole files are classified by where they live and who wrote them", () => {
  assert.equal(fileKind("debugger", "supabase/functions/x/index.ts"), "edge_function");
  assert.equal(fileKind("debugger", "supabase/functions/tests/x-test.ts"), "test");
  assert.equal(fileKind("deployment", "Dockerfile"), "deploy_config");
  assert.equal(fileKind("deployment", "README.md"), "doc");
  assert.equal(fileKind("api-data", "src/types.ts"), "types");
  assert.equal(fileKind("websocket", "client.ts"), "other");
});
