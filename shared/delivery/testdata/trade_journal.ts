/**
 * A completed trade journal run, as the agents would have answered it: profiles, positions,
 * trades, tags and trade tags with owner-only row level security (policies on
 * `(select auth.uid())`), indexes on every foreign key and for the journal's queries, an edge
 * function, its API contract and a deploy workflow. Used by the delivery tests, unit and
 * integration alike, so both exercise the same realistic SQL.
 */
import { type AgentOutputs, artifactsOf } from "../../agents/mod.ts";
import type { AssemblyInput, DeliveryArtifact, DeliveryTask } from "../assembly_input.ts";

/** The request the run was made for. */
export const TRADE_JOURNAL_REQUEST =
  "A trading journal: users record positions and the trades within them, tag trades, and see " +
  "per-position statistics. Each user sees only their own data.";

/** The understanding phase's result. */
export const TRADE_JOURNAL_UNDERSTANDING = {
  goal: "A per-user trading journal on Supabase with positions, trades, tags and statistics.",
  requirements: ["positions and trades per user", "tags on trades", "per-position statistics"],
  assumptions: [
    "Prices and quantities are stored as numeric(18,6); no currency conversion.",
    "A profile row is created by the app right after sign-up.",
  ],
  ambiguities: [],
  complexity: "complex",
  scope: ["schema", "performance", "serverless", "api", "deployment", "security"],
  questions: [],
};

const profiles: AgentOutputs["db-architect"]["artifacts"]["migrations"][number] = {
  name: "create_profiles",
  description: "Profiles: one row per user, the owner of every journal row.",
  up_sql: `-- Profiles: one row per signed-in user; every journal row belongs to a profile.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null check (char_length(display_name) between 1 and 80),
  base_currency text not null default 'USD' check (base_currency ~ '^[A-Z]{3}$'),
  created_at timestamptz not null default now()
);
comment on table public.profiles is 'One row per user: display name and base currency.';

alter table public.profiles enable row level security;

create policy "owners read their profile" on public.profiles
  for select to authenticated using (id = (select auth.uid()));
create policy "owners create their profile" on public.profiles
  for insert to authenticated with check (id = (select auth.uid()));
create policy "owners update their profile" on public.profiles
  for update to authenticated using (id = (select auth.uid())) with check (id = (select auth.uid()));
`,
  down_sql: "drop table public.profiles;\n",
  policies: [
    {
      name: "owners read their profile",
      table: "public.profiles",
      command: "select",
      roles: ["authenticated"],
      using: "id = (select auth.uid())",
      with_check: null,
    },
    {
      name: "owners create their profile",
      table: "public.profiles",
      command: "insert",
      roles: ["authenticated"],
      using: null,
      with_check: "id = (select auth.uid())",
    },
    {
      name: "owners update their profile",
      table: "public.profiles",
      command: "update",
      roles: ["authenticated"],
      using: "id = (select auth.uid())",
      with_check: "id = (select auth.uid())",
    },
  ],
};

const positionsAndTrades: typeof profiles = {
  name: "create_positions_and_trades",
  description: "Positions and the trades within them, owner-only.",
  up_sql:
    `-- Positions and their trades. Every row carries user_id so each policy is one indexed equality.
create table public.positions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.profiles (id) on delete cascade,
  symbol text not null check (symbol ~ '^[A-Z0-9.]{1,12}$'),
  side text not null check (side in ('long', 'short')),
  opened_at timestamptz not null default now(),
  closed_at timestamptz,
  check (closed_at is null or closed_at >= opened_at)
);
comment on table public.positions is 'A position in one symbol, opened and eventually closed.';

create table public.trades (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.profiles (id) on delete cascade,
  position_id uuid not null references public.positions (id) on delete cascade,
  executed_at timestamptz not null default now(),
  quantity numeric(18,6) not null check (quantity > 0),
  price numeric(18,6) not null check (price >= 0),
  fee numeric(18,6) not null default 0 check (fee >= 0),
  note text
);
comment on table public.trades is 'One execution (buy or sell) within a position.';

create index positions_user_id_idx on public.positions (user_id);
create index trades_user_id_idx on public.trades (user_id);
create index trades_position_id_idx on public.trades (position_id);

alter table public.positions enable row level security;
alter table public.trades enable row level security;

create policy "owners read their positions" on public.positions
  for select to authenticated using (user_id = (select auth.uid()));
create policy "owners create positions" on public.positions
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy "owners update their positions" on public.positions
  for update to authenticated using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy "owners delete their positions" on public.positions
  for delete to authenticated using (user_id = (select auth.uid()));

create policy "owners read their trades" on public.trades
  for select to authenticated using (user_id = (select auth.uid()));
create policy "owners add trades to their positions" on public.trades
  for insert to authenticated with check (
    user_id = (select auth.uid())
    and exists (select 1 from public.positions p
                 where p.id = position_id and p.user_id = (select auth.uid())));
create policy "owners update their trades" on public.trades
  for update to authenticated using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy "owners delete their trades" on public.trades
  for delete to authenticated using (user_id = (select auth.uid()));
`,
  down_sql: "drop table public.trades;\ndrop table public.positions;\n",
  policies: [
    {
      name: "owners read their positions",
      table: "public.positions",
      command: "select",
      roles: ["authenticated"],
      using: "user_id = (select auth.uid())",
      with_check: null,
    },
    {
      name: "owners add trades to their positions",
      table: "public.trades",
      command: "insert",
      roles: ["authenticated"],
      using: null,
      with_check:
        "user_id = (select auth.uid()) and exists (select 1 from public.positions p where p.id = position_id and p.user_id = (select auth.uid()))",
    },
  ],
};

const tags: typeof profiles = {
  name: "create_tags",
  description: "Tags per user and the tags of each trade.",
  up_sql: `-- Tags a user defines, and which trades carry them.
create table public.tags (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 40),
  unique (user_id, name)
);
comment on table public.tags is 'A label a user puts on trades, unique per user.';

create table public.trade_tags (
  trade_id uuid not null references public.trades (id) on delete cascade,
  tag_id bigint not null references public.tags (id) on delete cascade,
  primary key (trade_id, tag_id)
);
comment on table public.trade_tags is 'Which tags a trade carries.';

create index trade_tags_tag_id_idx on public.trade_tags (tag_id);

alter table public.tags enable row level security;
alter table public.trade_tags enable row level security;

create policy "owners manage their tags" on public.tags
  for all to authenticated using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "owners read the tags of their trades" on public.trade_tags
  for select to authenticated using (
    exists (select 1 from public.trades t where t.id = trade_id and t.user_id = (select auth.uid())));
create policy "owners tag their trades" on public.trade_tags
  for insert to authenticated with check (
    exists (select 1 from public.trades t where t.id = trade_id and t.user_id = (select auth.uid()))
    and exists (select 1 from public.tags g where g.id = tag_id and g.user_id = (select auth.uid())));
create policy "owners untag their trades" on public.trade_tags
  for delete to authenticated using (
    exists (select 1 from public.trades t where t.id = trade_id and t.user_id = (select auth.uid())));
`,
  down_sql: "drop table public.trade_tags;\ndrop table public.tags;\n",
  policies: [{
    name: "owners manage their tags",
    table: "public.tags",
    command: "all",
    roles: ["authenticated"],
    using: "user_id = (select auth.uid())",
    with_check: "user_id = (select auth.uid())",
  }],
};

const dbArchitect: AgentOutputs["db-architect"] = {
  summary: "Five tables (profiles, positions, trades, tags, trade_tags) with owner-only RLS.",
  artifacts: { migrations: [profiles, positionsAndTrades, tags] },
  notes: ["Consider partitioning trades by month once a user has millions of rows."],
  assumptions: ["One profile per auth user, keyed by the user's id."],
};

const queryOptimizer: AgentOutputs["query-optimizer"] = {
  summary: "Indexes for the journal timeline and the open positions list.",
  artifacts: {
    migrations: [{
      name: "add_journal_query_indexes",
      description: "Indexes for the trade timeline and open positions.",
      up_sql: `-- Indexes for the journal's two hot queries.
create index trades_user_executed_at_idx on public.trades (user_id, executed_at desc);
create index positions_open_by_user_idx on public.positions (user_id, opened_at desc)
  where closed_at is null;
`,
      down_sql:
        "drop index public.positions_open_by_user_idx;\ndrop index public.trades_user_executed_at_idx;\n",
      policies: [],
    }],
    indexes: [
      {
        name: "trades_user_executed_at_idx",
        table: "public.trades",
        statement:
          "create index trades_user_executed_at_idx on public.trades (user_id, executed_at desc);",
        serves_query:
          "select * from public.trades where user_id = $1 order by executed_at desc limit 50",
        expected_plan: "Index Scan using trades_user_executed_at_idx on trades",
      },
      {
        name: "positions_open_by_user_idx",
        table: "public.positions",
        statement:
          "create index positions_open_by_user_idx on public.positions (user_id, opened_at desc) where closed_at is null;",
        serves_query:
          "select * from public.positions where user_id = $1 and closed_at is null order by opened_at desc",
        expected_plan: "Index Scan using positions_open_by_user_idx on positions",
      },
    ],
    queries: [{
      name: "trade_timeline",
      description: "The latest trades of the signed-in user.",
      sql: "select * from public.trades where user_id = $1 order by executed_at desc limit 50",
      uses_indexes: ["trades_user_executed_at_idx"],
    }],
  },
  notes: ["Revisit the partial index if most positions stay open."],
  assumptions: [],
};

const edgeFunctions: AgentOutputs["edge-functions"] = {
  summary: "trade-stats: per-position profit and loss for the signed-in user.",
  artifacts: {
    functions: [{
      function_name: "trade-stats",
      description: "Returns realised P&L and trade counts per position for the caller.",
      verify_jwt: true,
      env_vars: ["SUPABASE_URL", "SUPABASE_ANON_KEY", "MARKET_DATA_API_KEY"],
      files: [{
        path: "index.ts",
        content: `import { createClient } from "npm:@supabase/supabase-js@2";

Deno.serve(async (req) => {
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    global: { headers: { Authorization: req.headers.get("Authorization") ?? "" } },
  });
  const { data, error } = await supabase.from("trades").select("position_id, quantity, price, fee");
  if (error) return Response.json({ error: error.message }, { status: 400 });
  const stats = new Map<string, { trades: number; volume: number; fees: number }>();
  for (const t of data) {
    const s = stats.get(t.position_id) ?? { trades: 0, volume: 0, fees: 0 };
    s.trades++;
    s.volume += Number(t.quantity) * Number(t.price);
    s.fees += Number(t.fee);
    stats.set(t.position_id, s);
  }
  return Response.json(Object.fromEntries(stats));
});
`,
      }],
    }],
    env_vars: [{
      name: "MARKET_DATA_API_KEY",
      description: "Key of the market data provider used for unrealised P&L.",
      secret: true,
      example: null,
    }],
  },
  notes: ["Unrealised P&L needs live prices; add it once the provider is chosen."],
  assumptions: ["Statistics are computed on request; no caching yet."],
};

const apiData: AgentOutputs["api-data"] = {
  summary: "The journal's API: PostgREST tables plus the trade-stats function.",
  artifacts: {
    endpoints: [
      {
        method: "GET",
        path: "/rest/v1/positions",
        kind: "postgrest",
        description: "The caller's positions, newest first.",
        auth: "Signed-in users; RLS returns only their own rows.",
        request: null,
        response: '{"type":"array","items":{"type":"object"}}',
        errors: [{ status: 401, code: "PGRST301", when: "no or invalid token" }],
      },
      {
        method: "GET",
        path: "/functions/v1/trade-stats",
        kind: "edge_function",
        description: "Per-position statistics of the caller.",
        auth: "Signed-in users (verify_jwt).",
        request: null,
        response: '{"type":"object"}',
        errors: [],
      },
    ],
    migrations: [],
    files: [],
  },
  notes: [],
  assumptions: [],
};

const deployment: AgentOutputs["deployment"] = {
  summary: "A GitHub Actions workflow that pushes migrations and deploys functions.",
  artifacts: {
    files: [{
      path: ".github/workflows/deploy.yml",
      description: "Deploys migrations and functions on every push to main.",
      content: `name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      SUPABASE_ACCESS_TOKEN: \${{ secrets.SUPABASE_ACCESS_TOKEN }}
      SUPABASE_DB_PASSWORD: \${{ secrets.SUPABASE_DB_PASSWORD }}
    steps:
      - uses: actions/checkout@v4
      - uses: supabase/setup-cli@v1
      - run: supabase link --project-ref \${{ vars.SUPABASE_PROJECT_REF }}
      - run: supabase db push
      - run: supabase functions deploy trade-stats
`,
    }],
    env_vars: [
      {
        name: "SUPABASE_ACCESS_TOKEN",
        description: "Personal access token the CLI deploys with (CI secret).",
        secret: true,
        example: null,
      },
      {
        name: "SUPABASE_DB_PASSWORD",
        description: "The database password, for `supabase db push` in CI.",
        secret: true,
        example: null,
      },
    ],
    steps: ["Add SUPABASE_ACCESS_TOKEN and SUPABASE_DB_PASSWORD as repository secrets."],
  },
  notes: [],
  assumptions: [],
};

/** One task of the run: plan fields and the agent's accepted output. */
export interface TradeJournalTask {
  key: string;
  agent: keyof AgentOutputs;
  title: string;
  depends_on: string[];
  output: AgentOutputs[keyof AgentOutputs];
}

/** The run's tasks in plan order. */
export const TRADE_JOURNAL_TASKS: TradeJournalTask[] = [
  {
    key: "T1",
    agent: "db-architect",
    title: "Design the journal schema",
    depends_on: [],
    output: dbArchitect,
  },
  {
    key: "T2",
    agent: "query-optimizer",
    title: "Index the journal queries",
    depends_on: ["T1"],
    output: queryOptimizer,
  },
  {
    key: "T3",
    agent: "edge-functions",
    title: "Write the trade-stats function",
    depends_on: ["T1"],
    output: edgeFunctions,
  },
  {
    key: "T4",
    agent: "api-data",
    title: "Document the journal API",
    depends_on: ["T1", "T3"],
    output: apiData,
  },
  {
    key: "T5",
    agent: "deployment",
    title: "Deploy workflow",
    depends_on: ["T3"],
    output: deployment,
  },
];

/** Each task's shadow validation report, as the agent worker stored it. */
export function tradeJournalValidation(key: string) {
  return {
    ok: true,
    errors: 0,
    warnings: key === "T2" ? 1 : 0,
    findings: key === "T2"
      ? [{
        severity: "warning",
        rule: "index_on_empty_table",
        message: "planned on synthetic rows",
        line: 2,
      }]
      : [],
    durationMs: 120,
  };
}

/** The finished run as the delivery phase reads it: run, succeeded tasks and their artifacts. */
export function tradeJournalRun(
  options: { runId?: string; createdAt?: string } = {},
): AssemblyInput {
  const tasks: DeliveryTask[] = TRADE_JOURNAL_TASKS.map((t, i) => ({
    id: `00000000-0000-4000-8000-0000000000${String(i + 1).padStart(2, "0")}`,
    key: t.key,
    agent: t.agent,
    title: t.title,
    depends_on: t.depends_on,
    status: "succeeded",
    output: t.output,
    validation: tradeJournalValidation(t.key),
  }));
  const artifacts: DeliveryArtifact[] = TRADE_JOURNAL_TASKS.flatMap((t, i) =>
    artifactsOf(t.agent, t.output as never).map((a, n) => ({
      task_id: tasks[i].id,
      kind: a.kind,
      path: a.path,
      content: a.content,
      meta: { ...a.meta, validation: { ok: true, errors: 0 } },
      ordinal: n + 1,
    }))
  );
  return {
    run: {
      id: options.runId ?? "00000000-0000-4000-8000-00000000a001",
      request: TRADE_JOURNAL_REQUEST,
      created_at: options.createdAt ?? "2026-11-25T14:30:00.250Z",
      understanding: TRADE_JOURNAL_UNDERSTANDING,
    },
    tasks,
    artifacts,
  };
}
