-- Product schema: runs, their tasks, attempts, artifacts and the ordered event log, in the
-- dedicated schema `backend_team` (not exposed through PostgREST: apps use the orchestrator API,
-- people use the dashboard). Owners may read their own rows; nothing but the state machine's
-- functions (next migration) and the service role writes. Every row carries `owner_id` so each
-- policy is a plain equality on an indexed column, checked once per statement.

create schema if not exists backend_team;
comment on schema backend_team is 'Backend Team: runs, tasks, attempts, artifacts and run events.';
grant usage on schema backend_team to authenticated, service_role;

-- Runs ------------------------------------------------------------------------------------------
create table backend_team.runs (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  status text not null default 'received' check (status in (
    'received', 'understanding', 'awaiting_clarification', 'planning', 'executing',
    'delivering', 'completed', 'failed', 'cancelled')),
  request text not null check (char_length(request) between 1 and 20000),
  context jsonb not null default '{}'::jsonb check (jsonb_typeof(context) = 'object'),
  options jsonb not null default '{}'::jsonb check (jsonb_typeof(options) = 'object'),
  complexity text check (complexity in ('simple', 'moderate', 'complex', 'ambiguous')),
  strategy text check (strategy in ('sequential', 'parallel', 'hybrid')),
  understanding jsonb,
  plan jsonb,
  clarification jsonb,
  token_budget bigint not null default 200000 check (token_budget > 0),
  prompt_tokens bigint not null default 0 check (prompt_tokens >= 0),
  completion_tokens bigint not null default 0 check (completion_tokens >= 0),
  prompt_version text,
  error jsonb,
  result jsonb,
  last_seq bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
comment on table backend_team.runs is
  'One backend request and its life cycle (received → … → completed | failed | cancelled).';
comment on column backend_team.runs.owner_id is 'The user who submitted the run (auth.users.id).';
comment on column backend_team.runs.status is 'Where the run is; changed only by backend_team.transition_run.';
comment on column backend_team.runs.request is 'What the user asked for, in plain language.';
comment on column backend_team.runs.context is 'The user''s project context: schema_sql, conventions, stack.';
comment on column backend_team.runs.options is 'Limits the user set: token_budget, max_parallel.';
comment on column backend_team.runs.complexity is 'Understanding phase verdict: simple, moderate, complex or ambiguous.';
comment on column backend_team.runs.strategy is 'How the plan schedules tasks: sequential, parallel or hybrid.';
comment on column backend_team.runs.understanding is 'Structured result of the understanding phase.';
comment on column backend_team.runs.plan is 'The validated plan (a DAG of agent tasks).';
comment on column backend_team.runs.clarification is 'Questions the run waits on, the answers once given, and why.';
comment on column backend_team.runs.token_budget is 'Most LLM tokens (prompt + completion) the run may use.';
comment on column backend_team.runs.prompt_tokens is 'LLM prompt tokens used so far.';
comment on column backend_team.runs.completion_tokens is 'LLM completion tokens used so far.';
comment on column backend_team.runs.prompt_version is 'Content hash of the orchestrator prompt that planned the run.';
comment on column backend_team.runs.error is 'Why the run failed: { code, message }.';
comment on column backend_team.runs.result is 'Summary of the delivered result once completed.';
comment on column backend_team.runs.last_seq is 'Sequence number of the run''s latest event.';
comment on column backend_team.runs.completed_at is 'When the run reached completed, failed or cancelled.';
create index runs_owner_created_idx on backend_team.runs (owner_id, created_at desc, id desc);

-- Tasks -----------------------------------------------------------------------------------------
create table backend_team.tasks (
  id uuid primary key default gen_random_uuid(),
  run_id uuid not null references backend_team.runs (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  key text not null check (key ~ '^T[0-9]{1,3}$'),
  agent text not null check (agent in (
    'db-architect', 'query-optimizer', 'edge-functions', 'websocket', 'api-data',
    'deployment', 'debugger', 'monitor', 'security')),
  title text not null default '',
  input jsonb not null default '{}'::jsonb,
  expected_output jsonb,
  depends_on text[] not null default '{}',
  remaining_deps integer not null default 0 check (remaining_deps >= 0),
  status text not null default 'pending' check (status in (
    'pending', 'queued', 'running', 'validating', 'succeeded', 'retrying', 'failed',
    'escalated', 'cancelled')),
  attempt integer not null default 0 check (attempt >= 0),
  output jsonb,
  validation jsonb,
  error jsonb,
  msg_id bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  unique (run_id, key)
);
comment on table backend_team.tasks is 'One atomic task of a run''s plan, executed by one agent.';
comment on column backend_team.tasks.key is 'The task''s id in the plan, e.g. T1.';
comment on column backend_team.tasks.agent is 'The specialist agent that executes the task.';
comment on column backend_team.tasks.input is 'What the task must do and with which tables (from the plan).';
comment on column backend_team.tasks.expected_output is 'What the task must deliver (from the plan).';
comment on column backend_team.tasks.depends_on is 'Keys of the tasks that must succeed first.';
comment on column backend_team.tasks.remaining_deps is 'How many dependencies have not succeeded yet; 0 means ready.';
comment on column backend_team.tasks.status is 'Where the task is; changed only by backend_team.transition_task.';
comment on column backend_team.tasks.attempt is 'Number of the current (latest) attempt; completion must name it.';
comment on column backend_team.tasks.output is 'The accepted agent output.';
comment on column backend_team.tasks.validation is 'The latest validation report (shadow database findings).';
comment on column backend_team.tasks.error is 'Why the task failed or was escalated: { code, message }.';
comment on column backend_team.tasks.msg_id is 'The agent queue message currently carrying the task.';
create index tasks_run_idx on backend_team.tasks (run_id);
create index tasks_owner_idx on backend_team.tasks (owner_id);

-- Attempts --------------------------------------------------------------------------------------
create table backend_team.task_attempts (
  id uuid primary key default gen_random_uuid(),
  task_id uuid not null references backend_team.tasks (id) on delete cascade,
  run_id uuid not null references backend_team.runs (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  attempt integer not null check (attempt > 0),
  status text not null default 'running' check (status in (
    'running', 'succeeded', 'invalid', 'failed', 'abandoned', 'cancelled')),
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  context_tokens bigint,
  context_tokens_uncompressed bigint,
  duration_ms bigint,
  llm_ms bigint,
  output jsonb,
  validation jsonb,
  error jsonb,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (task_id, attempt)
);
comment on table backend_team.task_attempts is 'One try at a task: tokens, duration, validation report, error.';
comment on column backend_team.task_attempts.attempt is 'Attempt number within the task, from 1.';
comment on column backend_team.task_attempts.status is 'running, succeeded, invalid (failed validation), failed, abandoned (lease lost) or cancelled.';
comment on column backend_team.task_attempts.context_tokens is 'Estimated tokens of the context package sent to the agent.';
comment on column backend_team.task_attempts.context_tokens_uncompressed is 'Estimated tokens the same package would have had uncompressed (full schema and dependency outputs).';
comment on column backend_team.task_attempts.duration_ms is 'Wall time of the attempt.';
comment on column backend_team.task_attempts.llm_ms is 'Time spent inside LLM calls.';
comment on column backend_team.task_attempts.output is 'What the agent answered (parsed).';
comment on column backend_team.task_attempts.validation is 'Validation report of this attempt''s output.';
create index task_attempts_run_idx on backend_team.task_attempts (run_id);
create index task_attempts_owner_idx on backend_team.task_attempts (owner_id);

-- Artifacts -------------------------------------------------------------------------------------
create table backend_team.artifacts (
  id uuid primary key default gen_random_uuid(),
  run_id uuid not null references backend_team.runs (id) on delete cascade,
  task_id uuid references backend_team.tasks (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  kind text not null check (kind in (
    'migration', 'policy', 'index', 'query', 'edge_function', 'api_doc', 'deploy_config',
    'diagnosis', 'test', 'doc', 'types', 'other')),
  path text not null check (char_length(path) between 1 and 500),
  content text not null,
  meta jsonb not null default '{}'::jsonb,
  ordinal integer not null default 0,
  created_at timestamptz not null default now()
);
comment on table backend_team.artifacts is 'Files a run produced: migrations, policies, functions, docs, tests.';
comment on column backend_team.artifacts.kind is 'What the file is (migration, policy, index, edge_function, …).';
comment on column backend_team.artifacts.path is 'Where the file goes in the delivered Supabase project.';
comment on column backend_team.artifacts.meta is 'Structured facts: down migration, query an index serves, validation evidence.';
comment on column backend_team.artifacts.ordinal is 'Order in the deliverable (migrations apply in this order).';
create index artifacts_run_idx on backend_team.artifacts (run_id, ordinal);
create index artifacts_task_idx on backend_team.artifacts (task_id);
create index artifacts_owner_idx on backend_team.artifacts (owner_id);
-- A redelivered task must not store its files twice. (Several rows of one task may share a path:
-- sections of one document, e.g. docs/policies.md, joined at assembly in ordinal order.)
create unique index artifacts_task_ordinal_key on backend_team.artifacts (task_id, ordinal)
  where task_id is not null;

-- Events ----------------------------------------------------------------------------------------
create table backend_team.run_events (
  run_id uuid not null references backend_team.runs (id) on delete cascade,
  seq bigint not null check (seq > 0),
  owner_id uuid not null references auth.users (id) on delete cascade,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  primary key (run_id, seq)
);
comment on table backend_team.run_events is
  'A run''s progress log: one row per state change, seq 1, 2, 3… without gaps; also broadcast on run:<id>.';
comment on column backend_team.run_events.seq is 'Position in the run''s log, from 1, without gaps.';
comment on column backend_team.run_events.type is 'Event name: run.status, task.status, task.attempt, validation.report, artifact.created, run.completed.';
comment on column backend_team.run_events.payload is 'The payload broadcast on the run''s Realtime channel.';
create index run_events_owner_idx on backend_team.run_events (owner_id);

-- Row level security: owners read their own rows; only the service role writes ------------------
alter table backend_team.runs enable row level security;
alter table backend_team.tasks enable row level security;
alter table backend_team.task_attempts enable row level security;
alter table backend_team.artifacts enable row level security;
alter table backend_team.run_events enable row level security;

create policy "owners read their runs" on backend_team.runs
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "owners read their tasks" on backend_team.tasks
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "owners read their attempts" on backend_team.task_attempts
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "owners read their artifacts" on backend_team.artifacts
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "owners read their run events" on backend_team.run_events
  for select to authenticated using (owner_id = (select auth.uid()));

revoke all on all tables in schema backend_team from public, anon, authenticated;
grant select on all tables in schema backend_team to authenticated;
grant all on all tables in schema backend_team to service_role;
