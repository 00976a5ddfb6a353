-- No run-row update per event or per LLM answer (issue 17).
--
-- 1. `runs.last_seq` is derived, not stored. The deferred trigger `sync_run_last_seq`
--    (20261202001800_event_seq.sql) wrote the run's row once per transaction that appended an
--    event; it is gone. A run's latest seq is `max(seq)` over the `(run_id, seq)` primary key of
--    run_events (an index-only backward scan), read where it is shown: `backend_team.run_view`.
--    The column itself stays, no longer written, only because transition_run and submit_run still
--    assign it in the row they return (exact there: they compute it from the events); it goes
--    with them. `runs.updated_at` is now written only by real changes of the run's row.
-- 2. Token and cost accumulation moves to `backend_team.run_usage`, one row per run. An UPDATE of
--    the run's row takes its FOR NO KEY UPDATE lock, so every LLM answer contended with every task
--    transition of the run (lock_task holds that lock to commit). The usage row has a lock of its
--    own: it serialises the run's recorders — two answers racing cannot both slip under the
--    budget — and nothing else. Over budget still fails the run (budget_exceeded, via fail_run).
--    Lock order: usage row, then (only when failing the run) the run's row; nothing takes them the
--    other way round (resume_escalated_tasks reads the usage row without locking it).

-- Usage -----------------------------------------------------------------------------------------
create table if not exists backend_team.run_usage (
  run_id uuid primary key references backend_team.runs (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  prompt_tokens bigint not null default 0 check (prompt_tokens >= 0),
  completion_tokens bigint not null default 0 check (completion_tokens >= 0),
  cost_usd numeric(14, 6) default 0 check (cost_usd >= 0)
);
comment on table backend_team.run_usage is
  'What a run''s LLM answers used so far, one row per run (created by its first answer; none: nothing used). Apart from the run''s row so that charging an answer never locks the run.';
comment on column backend_team.run_usage.run_id is 'The run charged.';
comment on column backend_team.run_usage.owner_id is 'The run''s owner (auth.users.id).';
comment on column backend_team.run_usage.prompt_tokens is 'LLM prompt tokens used so far.';
comment on column backend_team.run_usage.completion_tokens is 'LLM completion tokens used so far.';
comment on column backend_team.run_usage.cost_usd is
  'US dollars the run''s LLM answers cost so far (price table at the time of each call); null when an answer came from a model without a price.';
create index if not exists run_usage_owner_idx on backend_team.run_usage (owner_id);

alter table backend_team.run_usage enable row level security;
drop policy if exists "owners read their run usage" on backend_team.run_usage;
create policy "owners read their run usage" on backend_team.run_usage
  for select to authenticated using (owner_id = (select auth.uid()));
revoke all on backend_team.run_usage from public, anon, authenticated;
grant select on backend_team.run_usage to authenticated;
grant all on backend_team.run_usage to service_role;

-- What runs used so far moves over, then leaves the run's row.
do $$
begin
  if exists (select 1 from information_schema.columns
              where table_schema = 'backend_team' and table_name = 'runs'
                and column_name = 'prompt_tokens') then
    insert into backend_team.run_usage (run_id, owner_id, prompt_tokens, completion_tokens, cost_usd)
    select r.id, r.owner_id, r.prompt_tokens, r.completion_tokens, r.cost_usd
      from backend_team.runs r
     where r.prompt_tokens <> 0 or r.completion_tokens <> 0 or r.cost_usd is distinct from 0
    on conflict (run_id) do nothing;
  end if;
end;
$$;
alter table backend_team.runs
  drop column if exists prompt_tokens,
  drop column if exists completion_tokens,
  drop column if exists cost_usd;

-- The event seq ---------------------------------------------------------------------------------
drop trigger if exists sync_run_last_seq on backend_team.run_events;
drop function if exists backend_team.sync_run_last_seq();
comment on column backend_team.runs.last_seq is
  'Not maintained (since 20261202002000): a run''s latest seq is max(seq) of its run_events, shown by backend_team.run_view. Kept while transition_run and submit_run assign it in the row they return.';
comment on column backend_team.runs.updated_at is
  'When the run''s row last changed (status, plan, clarification, budget, options); appending events and charging LLM answers do not write it.';

-- The run as it is read ---------------------------------------------------------------------------
-- As the caller (security_invoker): the policies of runs, run_usage and run_events apply.
create or replace view backend_team.run_view with (security_invoker = true) as
select r.id, r.owner_id, r.status, r.request, r.context, r.options, r.complexity, r.strategy,
       r.understanding, r.plan, r.clarification, r.token_budget,
       coalesce(u.prompt_tokens, 0) as prompt_tokens,
       coalesce(u.completion_tokens, 0) as completion_tokens,
       -- No usage row: nothing spent. A row whose cost is null: unknown (a model without a price).
       case when u.run_id is null then 0::numeric(14, 6) else u.cost_usd end as cost_usd,
       r.cost_budget_usd, r.prompt_version, r.error, r.result,
       coalesce((select max(e.seq) from backend_team.run_events e where e.run_id = r.id), 0)
         as last_seq,
       r.created_at, r.updated_at, r.completed_at
  from backend_team.runs r
  left join backend_team.run_usage u on u.run_id = r.id;
comment on view backend_team.run_view is
  'A run as it is read: its row, what its LLM answers used (run_usage) and its latest event seq (max(seq) of run_events), under the caller''s row level security.';
revoke all on backend_team.run_view from public, anon, authenticated;
grant select on backend_team.run_view to authenticated;
grant select on backend_team.run_view to service_role;

-- Charging an answer ----------------------------------------------------------------------------
create or replace function backend_team.record_usage(p_run_id uuid, p_prompt_tokens bigint,
  p_completion_tokens bigint, p_cost_usd numeric)
returns table (over_budget boolean, used bigint, token_budget bigint, spent_usd numeric,
  budget_usd numeric)
language plpgsql
set search_path = ''
as $$
declare
  v_owner uuid;
  v_usage backend_team.run_usage;
  v_run record;
  v_over_tokens boolean;
begin
  if p_prompt_tokens < 0 or p_completion_tokens < 0 then
    raise exception 'token counts must not be negative' using errcode = 'BT400';
  end if;
  if p_cost_usd < 0 then
    raise exception 'a cost must not be negative' using errcode = 'BT400';
  end if;
  -- A plain read: no lock on the run's row.
  select r.owner_id into v_owner from backend_team.runs r where r.id = p_run_id;
  if v_owner is null then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  -- The usage row's lock, held to commit, serialises the run's recorders: each sees the totals
  -- of every answer charged before it. null + x is null: once one answer's cost is unknown, so is
  -- the run's.
  insert into backend_team.run_usage as u (run_id, owner_id, prompt_tokens, completion_tokens, cost_usd)
  values (p_run_id, v_owner, p_prompt_tokens, p_completion_tokens, p_cost_usd)
  on conflict (run_id) do update set
    prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = u.completion_tokens + excluded.completion_tokens,
    cost_usd = u.cost_usd + excluded.cost_usd
  returning u.* into v_usage;
  -- A new statement, after the lock: the budgets and status as last committed.
  select r.status, r.token_budget, r.cost_budget_usd into v_run
    from backend_team.runs r where r.id = p_run_id;
  used := v_usage.prompt_tokens + v_usage.completion_tokens;
  token_budget := v_run.token_budget;
  spent_usd := v_usage.cost_usd;
  budget_usd := v_run.cost_budget_usd;
  v_over_tokens := used > v_run.token_budget;
  over_budget := v_over_tokens or (v_run.cost_budget_usd is not null
    and (v_usage.cost_usd is null or v_usage.cost_usd > v_run.cost_budget_usd));
  -- Only the answer that takes the run over fails it; later ones find it finished.
  if over_budget and not backend_team.is_terminal_run_status(v_run.status) then
    perform backend_team.fail_run(p_run_id, 'budget_exceeded', case
      when v_over_tokens then format('the run used %s tokens, over its budget of %s',
        used, v_run.token_budget)
      when v_usage.cost_usd is null then format(
        'the run''s cost is unknown (a model without a price answered), so its budget of $%s '
        'cannot be kept; price the model in BT_LLM_PRICES', v_run.cost_budget_usd)
      else format('the run cost $%s, over its budget of $%s', v_usage.cost_usd, v_run.cost_budget_usd)
    end);
  end if;
  return next;
end;
$$;
comment on function backend_team.record_usage(uuid, bigint, bigint, numeric) is
  'Adds an LLM answer''s tokens and cost (null: the model has no price) to the run''s usage row (its lock serialises the run''s answers, the run''s row is not written); the answer that takes the run over its token or money budget fails it with code budget_exceeded.';

create or replace function backend_team.record_usage(p_run_id uuid, p_prompt_tokens bigint,
  p_completion_tokens bigint)
returns table (over_budget boolean, used bigint, token_budget bigint)
language sql
set search_path = ''
as $$
  select u.over_budget, u.used, u.token_budget
    from backend_team.record_usage(p_run_id, p_prompt_tokens, p_completion_tokens, 0::numeric) u
$$;
comment on function backend_team.record_usage(uuid, bigint, bigint) is
  'Adds LLM token usage (no cost) to a run, as record_usage(run, prompt, completion, 0); a run over its budget is failed with code budget_exceeded.';

-- Raising the budget reads what was used from the usage row ----------------------------------
-- Otherwise as in 20261202001400_recovery_split.sql.
create or replace function backend_team.resume_escalated_tasks(p_run_id uuid)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_run backend_team.runs;
  v_task backend_team.tasks;
  v_msg bigint;
  v_answers jsonb;
  v_action text;
  v_budget bigint;
  v_budget_usd numeric;
  v_model text;
  v_queued integer := 0;
  v_used bigint;
  v_spent numeric;
begin
  select * into v_run from backend_team.runs where id = p_run_id and status = 'executing' for update;
  if not found then
    return;
  end if;
  v_answers := coalesce(v_run.clarification -> 'answers', '{}'::jsonb);
  v_action := case when v_run.clarification ->> 'kind' = 'recovery'
                   then coalesce(v_answers ->> 'action', 'retry') else 'retry' end;
  if v_action = 'cancel' then
    perform backend_team.transition_run(p_run_id, 'cancelled', '{}'::jsonb);
    return;
  end if;
  if v_action = 'raise_budget' then
    v_budget := case when (v_answers ->> 'token_budget') ~ '^\s*[0-9]{1,9}\s*$'
                     then trim(v_answers ->> 'token_budget')::bigint end;
    -- What the run has used, from its usage row (none yet: nothing used; an unknown cost counts 0).
    select u.prompt_tokens + u.completion_tokens, u.cost_usd into v_used, v_spent
      from backend_team.run_usage u where u.run_id = p_run_id;
    v_used := coalesce(v_used, 0);
    v_spent := coalesce(v_spent, 0);
    if v_budget is not null and v_budget > v_used then
      update backend_team.runs set token_budget = v_budget, updated_at = now() where id = p_run_id;
    end if;
    v_budget_usd := case when (v_answers ->> 'cost_budget_usd') ~ '^\s*[0-9]{1,6}(\.[0-9]{1,6})?\s*$'
                         then trim(v_answers ->> 'cost_budget_usd')::numeric end;
    if v_budget_usd is not null and v_budget_usd > v_spent
       and v_budget_usd <= 100000 then
      update backend_team.runs
         set options = options || jsonb_build_object('cost_budget_usd', v_budget_usd), updated_at = now()
       where id = p_run_id;
    end if;
  elsif v_action = 'other_model' then
    v_model := trim(v_answers ->> 'model');
    if v_model ~ '^[A-Za-z0-9._:/-]{1,100}$' and v_run.clarification ? 'agent' then
      update backend_team.runs
         set options = options || jsonb_build_object('agent_models',
               coalesce(options -> 'agent_models', '{}'::jsonb)
                 || jsonb_build_object(v_run.clarification ->> 'agent', v_model)),
             updated_at = now()
       where id = p_run_id;
    end if;
  elsif v_action = 'skip' then
    -- The escalated tasks (and the ones the question named), everything that needs them, even
    -- what was already accepted, are skipped and their files withdrawn; the rest is delivered. A
    -- skipped fix takes the output it was to fix with it: that output failed validation and was
    -- only kept (handed off) for the fix to build on.
    for v_task in
      with recursive named(key) as (
        select key from backend_team.tasks
         where run_id = p_run_id
           and (status = 'escalated'
                or key in (select jsonb_array_elements_text(
                             coalesce(v_run.clarification -> 'task_keys', '[]'::jsonb))))
      ), skipped(key) as (
        select key from named
        union
        select src.key from backend_team.tasks fix
          join backend_team.tasks src on src.run_id = fix.run_id and src.key = fix.input ->> 'recovery_of'
         where fix.run_id = p_run_id and fix.key in (select key from named)
           and src.error ->> 'code' = 'handed_off'
        union
        select t.key from backend_team.tasks t join skipped s on s.key = any(t.depends_on)
         where t.run_id = p_run_id
      )
      select t.* from backend_team.tasks t
       where t.run_id = p_run_id and t.key in (select key from skipped)
         and t.status not in ('failed', 'cancelled')
       order by length(t.key), t.key
    loop
      delete from backend_team.artifacts where task_id = v_task.id;
      perform backend_team.transition_task(v_task.id, 'cancelled', jsonb_build_object('error',
        jsonb_build_object('code', 'skipped', 'message', case when v_task.status = 'succeeded'
          then 'skipped at the user''s request with the tasks it belongs with (it builds on one, or one was to fix it): its accepted files are withdrawn'
          else 'skipped at the user''s request' end)));
    end loop;
    if not exists (select 1 from backend_team.tasks
                    where run_id = p_run_id and not backend_team.task_is_done(status, error)) then
      perform backend_team.transition_run(p_run_id, 'delivering', '{}'::jsonb);
      return;
    end if;
    return query select * from backend_team.enqueue_ready_tasks(p_run_id);
    return;
  end if;
  for v_task in
    select * from backend_team.tasks where run_id = p_run_id and status = 'escalated'
     order by length(key), key for update
  loop
    v_msg := pgmq.send(backend_team.queue_of(v_task.agent),
      jsonb_build_object('task_id', v_task.id, 'run_id', p_run_id, 'resumed', true));
    perform backend_team.transition_task(v_task.id, 'queued', jsonb_build_object('msg_id', v_msg));
    v_queued := v_queued + 1;
    return next v_task.agent;
  end loop;
  -- Nothing was escalated (an integration failure blamed tasks that cannot be redone) and nothing
  -- is left to do: deliver again rather than wait forever; a failure asks again.
  if v_queued = 0 and not exists (select 1 from backend_team.tasks
                                   where run_id = p_run_id and not backend_team.task_is_done(status, error)) then
    perform backend_team.transition_run(p_run_id, 'delivering', '{}'::jsonb);
    return;
  end if;
  return query select * from backend_team.enqueue_ready_tasks(p_run_id);
end;
$$;
comment on function backend_team.resume_escalated_tasks(uuid) is
  'After the user answered an escalation, applies the answer (retry, raise_budget, other_model, skip, cancel) and queues the escalated tasks again, or delivers when nothing is left to do; completed tasks are not redone.';
revoke execute on function backend_team.record_usage(uuid, bigint, bigint, numeric)
  from public, anon, authenticated;
revoke execute on function backend_team.record_usage(uuid, bigint, bigint)
  from public, anon, authenticated;
grant execute on function backend_team.record_usage(uuid, bigint, bigint, numeric) to service_role;
grant execute on function backend_team.record_usage(uuid, bigint, bigint) to service_role;
