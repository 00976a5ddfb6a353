/**
 * The agents' validator proves every layer by default (issue 15), as a worker builds it: the
 * edge-functions agent's functions are started and called, the websocket agent's private channels
 * joined through the channel probe the local stack serves over HTTP (the same handler and client
 * adapter, a real local Realtime behind it), and the query-optimizer's index measured before and
 * after — its plans kept with the summary for the deliverable. Where a layer cannot be proven an
 * info finding says so.
 *
 * The resource sanitizers are off: realtime-js leaves a timer behind on disconnect.
 */
import assert from "node:assert/strict";
import { createPostgresShadow, type ShadowDatabase } from "../../shared/shadow/mod.ts";
import { createShadowValidator } from "../../shared/runtime/shadow_validator.ts";
import type { ArtifactDraft } from "../../shared/execution/mod.ts";
import {
  channelProbeHandler,
  type Finding,
  type IndexBenchmark,
  remoteChannelProbe,
  validateMigrations,
} from "../../shared/validation/mod.ts";
import { localChannelProbe } from "../../supabase/local/realtime/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";
import { endpointOf, FUNCTION_CASES, SCHEMA } from "../fixtures/functions/corpus/cases.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const NOTES = `
create table public.notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  created_at timestamptz not null default now()
);
alter table public.notes enable row level security;
create policy "notes: owner" on public.notes for all to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant select, insert on public.notes to authenticated;
`;

const ANY_USER = `
create policy "notes topic: signed-in users read" on realtime.messages for select to authenticated
  using ((select realtime.topic()) like 'notes:%');`;

const OWNER_ONLY = `
create policy "notes topic: owner reads" on realtime.messages for select to authenticated
  using ((select realtime.topic()) = 'notes:' || (select auth.uid())::text);`;

const FUNCTION_HEADER = `
import { verify } from "npm:hono@4.13.19/jwt";
const cors = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
};
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { ...cors, "content-type": "application/json" } });
`;

const GOOD_FUNCTION = FUNCTION_HEADER + `
Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  const token = req.headers.get("authorization")?.replace(/^Bearer /, "");
  try {
    await verify(token ?? "", Deno.env.get("SUPABASE_JWT_SECRET")!, "HS256");
  } catch {
    return json({ error: "unauthorized" }, 401);
  }
  try {
    return json({ body: await req.json() });
  } catch {
    return json({ error: "invalid_json" }, 400);
  }
});
`;

const CRASHING_FUNCTION = FUNCTION_HEADER + `
Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  if (!req.headers.get("authorization")) return json({ error: "unauthorized" }, 401);
  return json({ body: await req.json() });
});
`;

const show = (findings: unknown[]) =>
  (findings as Finding[]).map((f) => `  ${f.level} ${f.rule} ${f.file} ${f.message}`).join("\n");

const rules = (findings: unknown[], prefix: string) =>
  (findings as Finding[]).filter((f) => f.rule.startsWith(prefix)).map((f) => [f.rule, f.file]);

function migration(name: string, sql: string): ArtifactDraft {
  return { kind: "migration", path: `supabase/migrations/${name}`, content: sql, meta: {} };
}

function channel(topic: string): ArtifactDraft {
  return {
    kind: "api_doc",
    path: "docs/realtime.md",
    content: `### Channel \`${topic}\``,
    meta: { topic, private: true },
  };
}

function fn(name: string, source: string, env = ["SUPABASE_JWT_SECRET"]): ArtifactDraft {
  return {
    kind: "edge_function",
    path: `supabase/functions/${name}/index.ts`,
    content: source,
    meta: { function_name: name, entrypoint: true, verify_jwt: true, env_vars: env },
  };
}

const corpus = (name: string) => FUNCTION_CASES.find((c) => c.name === name)!.source;

Deno.test(
  "the agents' validator proves functions, channels and indexes by default",
  opts,
  async (t) => {
    const shadow: ShadowDatabase = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
    // The stack's loopback service, as the workers reach it (BT_CHANNEL_PROBE_URL).
    const secret = crypto.randomUUID() + crypto.randomUUID();
    const abort = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen() {} },
      channelProbeHandler(localChannelProbe(), [secret]),
    );
    const probeUrl = `http://127.0.0.1:${server.addr.port}/channel-probe`;
    const channelProbe = remoteChannelProbe({ url: probeUrl, secret });
    const validator = createShadowValidator({}, { shadow, channelProbe, benchmarkRows: 20_000 });
    const validate = (artifacts: ArtifactDraft[]) =>
      validator.validate({ agent: "test", artifacts, accepted: [] });
    try {
      await t.step("the edge-functions agent's functions are started and called", async () => {
        const summary = await validate([
          fn("good", GOOD_FUNCTION),
          fn("crashes", CRASHING_FUNCTION),
        ]);
        assert.deepEqual(
          rules(summary.findings, "function_"),
          [["function_error_unhandled", "crashes/index.ts"]],
          show(summary.findings),
        );
        assert.equal(summary.ok, false);
      });

      await t.step(
        "an edge-functions attempt is run as the owner and another user, and held to the " +
          "api-data task's documented endpoints",
        async () => {
          const names = ["notes-correct", "notes-service-role-leak", "notes-contradicts-schema"];
          const summary = await validator.validate({
            agent: "edge-functions",
            artifacts: names.map((n) =>
              fn(n, corpus(n), ["SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY"])
            ),
            // The schema an earlier task delivered, accepted by the run.
            accepted: [{ path: "supabase/migrations/notes.sql", up: SCHEMA, down: null }],
            // What it depends on: the api-data task documented the functions' endpoints.
            dependencies: [{
              agent: "api-data",
              output: { summary: "", artifacts: { endpoints: names.map(endpointOf) } },
            }],
          });
          assert.deepEqual(
            rules(summary.findings, "function_"),
            [
              ["function_contract_mismatch", "notes-contradicts-schema/index.ts"],
              ["function_isolation_leak", "notes-service-role-leak/index.ts"],
            ],
            show(summary.findings),
          );
          const messages = show(summary.findings);
          assert.match(
            messages,
            /as another user answered 200 with the owner's rows of public\.notes/,
          );
          assert.match(messages, /answered 200 with a body its response schema refuses/);
          assert.equal(summary.ok, false);
        },
      );

      await t.step(
        "a deployment attempt whose config.toml names a function nobody delivered is refused",
        async () => {
          const config = (body: string): ArtifactDraft => ({
            kind: "deploy_config",
            path: "supabase/config.toml",
            content: body,
            meta: {},
          });
          const earlier = [{
            agent: "edge-functions",
            output: {
              artifacts: {
                functions: [{
                  function_name: "notes-correct",
                  verify_jwt: true,
                  env_vars: [],
                  files: [{ path: "index.ts", content: corpus("notes-correct") }],
                }],
                env_vars: [],
              },
            },
          }];
          const wrong = await validator.validate({
            agent: "deployment",
            artifacts: [
              config("[functions.notes-correct]\nverify_jwt = true\n[functions.notes]\n"),
            ],
            accepted: [],
            dependencies: earlier,
          });
          assert.deepEqual(
            (wrong.findings as Finding[]).map((f) => [f.rule, f.file, f.object]),
            [["deploy_config_unknown_function", "supabase/config.toml", "functions.notes"]],
            show(wrong.findings),
          );
          assert.equal(wrong.ok, false);
          const right = await validator.validate({
            agent: "deployment",
            artifacts: [config("[functions.notes-correct]\nverify_jwt = true\n")],
            accepted: [],
            dependencies: earlier,
          });
          assert.deepEqual(right.findings, [], show(right.findings));
          assert.ok(right.ok);
        },
      );

      await t.step(
        "a websocket channel any signed-in user reads is caught over the probe service",
        async () => {
          const summary = await validate([
            migration("20260101000000_notes.sql", NOTES + ANY_USER),
            channel("notes:<user_id>"),
            channel("project:<project_id>"),
          ]);
          assert.deepEqual(
            rules(summary.findings, "realtime_"),
            [
              ["realtime_isolation_leak", "channel notes:{uid}"],
              ["realtime_probe_not_run", "channel project:<project_id>"],
            ].sort(),
            show(summary.findings),
          );
          const skipped = (summary.findings as Finding[]).find((f) =>
            f.rule === "realtime_probe_not_run"
          );
          assert.match(skipped!.message, /not keyed by the user's id/);
          assert.equal(summary.ok, false);
        },
      );

      await t.step("a channel tied to its owner passes", async () => {
        const summary = await validate([
          migration("20260101000000_notes.sql", NOTES + OWNER_ONLY),
          channel("notes:{user_id}"),
        ]);
        assert.deepEqual(rules(summary.findings, "realtime_"), [], show(summary.findings));
      });

      await t.step(
        "the query-optimizer's index is measured and the plans travel with the summary",
        async () => {
          const summary = await validate([
            migration(
              "20260101000000_notes.sql",
              NOTES +
                "create index notes_user_created_idx on public.notes (user_id, created_at desc);",
            ),
            {
              kind: "index",
              path: "docs/indexes.md",
              content: "notes_user_created_idx",
              meta: {
                name: "notes_user_created_idx",
                serves_query: "select id, title from public.notes where user_id = $1 " +
                  "order by created_at desc limit 20",
              },
            },
          ]);
          const benchmarks = (summary as { benchmarks?: IndexBenchmark[] }).benchmarks ?? [];
          assert.equal(benchmarks.length, 1, show(summary.findings));
          const [b] = benchmarks;
          assert.equal(b.index, "notes_user_created_idx");
          assert.equal(b.rows["public.notes"], 20_000);
          assert.ok(b.improved, `${b.before.plan}\n---\n${b.after.plan}`);
          assert.ok(b.after.usesIndex && !b.before.usesIndex);
          assert.ok(
            (summary.findings as Finding[]).some((f) => f.rule === "index_benefit_measured"),
            show(summary.findings),
          );
        },
      );

      await t.step(
        "without a probe the channels are reported as not joined, never silently",
        async () => {
          const bare = createShadowValidator({}, { shadow, benchmark: false });
          const summary = await bare.validate({
            agent: "websocket",
            artifacts: [
              migration("20260101000000_notes.sql", NOTES + OWNER_ONLY),
              channel("notes:<uid>"),
            ],
            accepted: [],
          });
          const skipped = (summary.findings as Finding[]).filter((f) =>
            f.rule === "realtime_probe_not_run"
          );
          assert.equal(skipped.length, 1, show(summary.findings));
          assert.equal(skipped[0].level, "info");
          assert.ok(summary.ok);
        },
      );

      await t.step(
        "functions share the validation's time: with too little left none starts",
        async () => {
          const report = await validateMigrations({
            shadow,
            files: [{ name: "x.sql", sql: "select 1;" }],
            functions: [{ name: "good/index.ts", source: GOOD_FUNCTION }],
            runFunctions: true,
            limits: { totalMs: 2_000 },
          });
          const notRun = report.findings.filter((f) => f.rule === "function_probe_not_run");
          assert.equal(notRun.length, 1, show(report.findings));
          assert.match(notRun[0].message, /too little of the validation's time was left/);
          assert.equal(notRun[0].level, "info");
        },
      );

      await t.step("the probe service refuses a caller without the worker secret", async () => {
        const res = await fetch(probeUrl, { method: "POST", body: "{}" });
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error.code, "unauthorized");
        const bad = await fetch(probeUrl, {
          method: "POST",
          headers: { authorization: `Bearer ${secret}` },
          body: '{"topic": 1',
        });
        assert.equal(bad.status, 400);
      });
    } finally {
      abort.abort();
      await server.finished;
      await shadow.close();
    }
  },
);
