/**
 * What proving each layer adds to a validation (issue 15), on the PostgreSQL shadow, p50/p95 over
 * `--runs` after a warm-up:
 * - per function: starting one delivered function in its sandboxed subprocess and running the
 *   generated HTTP checks — preflight, no token, malformed JSON, the owner and another user on
 *   seeded rows (the validator's `functions run` phase, seeding included);
 * - per index: filling the queried tables with synthetic rows (`--rows`, default 50 000 per
 *   table) and measuring the query with `EXPLAIN (ANALYZE, BUFFERS)` with and without the index
 *   (the `index benefit` phase);
 * - per channel: joining one private channel on a shadow Realtime as owner, another user and
 *   anon, then listening 500 ms for a leak (the `channels` phase, `localChannelProbe`).
 * Each is the validator's own trace of that phase inside a full validation. Budgets (p50):
 * function ≤ 2 500 ms (one Deno process, started offline from the cache; `deno cache` runs only
 * when an import is missing from it; `deno check` runs alongside, not before), index
 * ≤ 2 000 ms at 50 000 rows, channel ≤ 2 000 ms (of which 500 ms is
 * the deliberate wait for a leaked message). Lines read `<label>  p50 N ms  p95 N ms …` (picked
 * up by main.ts through `_proof_bench.ts`).
 *
 *   deno run -A tests/bench/proof_bench.ts [--runs 10] [--rows 50000]
 */
import { parseArgs } from "node:util";
import { createPostgresShadow } from "../../shared/shadow/mod.ts";
import { validateMigrations } from "../../shared/validation/mod.ts";
import { localChannelProbe } from "../../supabase/local/realtime/mod.ts";
import { shadowAdminUrl } from "../_support/db.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    rows: { type: "string", default: "50000" },
  },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const ROWS = Number(args.rows);

/** The p50 budgets of the added proof, in ms. */
export const PROOF_BUDGETS = { function: 500, index: 1_000, channel: 2_000 } as const;

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
create index notes_user_created_idx on public.notes (user_id, created_at desc);
create policy "notes topic: owner reads" on realtime.messages for select to authenticated
  using ((select realtime.topic()) = 'notes:' || (select auth.uid())::text);
`;

// The caller's notes through supabase-js with their token (RLS decides): the owner sees the
// seeded rows, another user none — the full proof (boot, preflight, no token, malformed JSON,
// owner and other user) with a realistic import graph.
const FUNCTION = `
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
const cors = { "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type" };
const json = (b: unknown, status = 200) =>
  new Response(JSON.stringify(b), { status, headers: { ...cors, "content-type": "application/json" } });
Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  const authorization = req.headers.get("authorization");
  if (!authorization) return json({ error: "unauthorized" }, 401);
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    auth: { persistSession: false },
    global: { headers: { Authorization: authorization } },
  });
  const { data: { user } } = await supabase.auth.getUser(authorization.slice(7));
  if (!user) return json({ error: "unauthorized" }, 401);
  if (req.method === "POST") {
    try {
      await req.json();
    } catch {
      return json({ error: "invalid_json" }, 400);
    }
  }
  const { data, error } = await supabase.from("notes").select("id,title").order("created_at");
  if (error) return json({ error: error.message }, 500);
  return json({ notes: data });
});
`;

const QUERY = {
  name: "notes of a user",
  sql: "select id, title from public.notes where user_id = $1 order by created_at desc limit 20",
  index: "notes_user_created_idx",
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function line(label: string, times: number[], budget: number): string {
  const s = [...times].sort((a, b) => a - b);
  const p50 = percentile(s, 50);
  return `${label.padEnd(44)} p50 ${p50.toFixed(0)} ms  p95 ${percentile(s, 95).toFixed(0)} ms  ` +
    `(n=${s.length}) budget p50 ≤ ${budget} ms: ${p50 <= budget ? "pass" : "MISS"}`;
}

const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(
  `proof bench — PostgreSQL shadow, ${ROWS} rows per queried table; ` +
    `${navigator.hardwareConcurrency} CPUs, load ${load}`,
);

const shadow = await createPostgresShadow({ adminUrl: await shadowAdminUrl() });
const files = [{ name: "notes.sql", sql: NOTES }];
const functions = [{ name: "notes/index.ts", source: FUNCTION }];
const channelProbe = localChannelProbe();
try {
  // Each measure: the validator's own phase for the layer (its trace), in a full validation.
  const measure = async (
    label: string,
    phase: string,
    budget: number,
    validate: (
      trace: (phase: string, ms: number) => void,
    ) => Promise<{ findings: { rule: string; level: string }[] }>,
    expect: (findings: { rule: string; level: string }[]) => boolean,
  ) => {
    const times: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      let took: number | undefined;
      const report = await validate((p, ms) => {
        if (p === phase) took = ms;
      });
      if (!expect(report.findings) || took === undefined) {
        throw new Error(`${label}: unexpected findings ${JSON.stringify(report.findings)}`);
      }
      if (i >= WARMUP) times.push(took);
    }
    console.log(line(label, times, budget));
  };

  await measure(
    "proof per function (boot + HTTP checks)",
    "functions run",
    PROOF_BUDGETS.function,
    (trace) =>
      validateMigrations({ shadow, files, functions, runFunctions: true, benchmark: false, trace }),
    (f) => !f.some((x) => x.rule.startsWith("function_")),
  );
  await measure(
    `proof per index (${ROWS} rows, EXPLAIN ANALYZE x2)`,
    "index benefit",
    PROOF_BUDGETS.index,
    (trace) =>
      validateMigrations({ shadow, files, queries: [QUERY], benchmark: { rows: ROWS }, trace }),
    (f) => f.some((x) => x.rule === "index_benefit_measured"),
  );
  await measure(
    "proof per channel (owner, other user, anon)",
    "channels",
    PROOF_BUDGETS.channel,
    (trace) =>
      validateMigrations({
        shadow,
        files,
        channels: [{ topic: "notes:{uid}", event: "changed" }],
        channelProbe,
        benchmark: false,
        trace,
      }),
    (f) => !f.some((x) => x.rule.startsWith("realtime_")),
  );
} finally {
  await shadow.close();
}
// realtime-js leaves a timer behind on disconnect; everything of ours is closed.
Deno.exit(0);
