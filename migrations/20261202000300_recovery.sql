-- Recovery (Phase 6): what happens to a failure is decided by the pure module shared/recovery (its
-- class and strategy: retry, reroute to a specialist as a new task in the plan, or escalate with
-- typed questions) and applied here, in one transaction per decision, by the state machine:
-- `recover_attempt` after a failed validation, `fail_attempt` after a failed LLM call, and
-- `resume_escalated_tasks` when the user answered (retry, raise the budget, another model for the
-- agent, skip the task and deliver the rest, cancel). Each decision is a row of
-- `recovery_decisions` and a `recovery.decision` event on the run's channel. Nothing a person could
-- save is lost: a task out of retries or out of redeliveries escalates; the run waits for an
-- answer instead of failing.

-- Decisions -------------------------------------------------------------------------------------
create table backend_team.recovery_decisions (
  id uuid primary key default gen_random_uuid(),
  run_id uuid not null references backend_team.runs (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  task_id uuid references backend_team.tasks (id) on delete cascade,
  class text not null check (class in (
    'schema', 'query', 'security', 'function_build', 'deployment', 'integration', 'model',
    'budget', 'infrastructure')),
  strategy text not null check (strategy in ('retry', 'reroute', 'decompose', 'rollback', 'escalate')),
  from_task text,
  to_task text,
  to_agent text,
  reason text not null check (char_length(reason) <= 4000),
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table backend_team.recovery_decisions is
  'What recovery decided about each failure: its class, the strategy, from which task to which, and why.';
comment on column backend_team.recovery_decisions.class is
  'Failure class: schema, query, security, function_build, deployment, integration, model, budget or infrastructure.';
comment on column backend_team.recovery_decisions.strategy is
  'What was done: retry (same agent), reroute (a new task for a specialist), decompose, rollback or escalate (ask the user).';
comment on column backend_team.recovery_decisions.from_task is 'Key of the failing task, e.g. T1.';
comment on column backend_team.recovery_decisions.to_task is
  'Key of the task that carries the recovery (the new task of a reroute, the task itself on retry); null on escalation.';
comment on column backend_team.recovery_decisions.to_agent is 'The agent a reroute went to.';
comment on column backend_team.recovery_decisions.reason is 'Why, in a sentence (safe to show the run''s owner).';
comment on column backend_team.recovery_decisions.detail is 'The decision''s facts: causes, estimated cost, mode of a reroute.';
create index recovery_decisions_run_idx on backend_team.recovery_decisions (run_id, created_at);
create index recovery_decisions_task_idx on backend_team.recovery_decisions (task_id);
create index recovery_decisions_owner_idx on backend_team.recovery_decisions (owner_id);

alter table backend_team.recovery_decisions enable row level security;
create policy "owners read their recovery decisions" on backend_team.recovery_decisions
  for select to authenticated using (owner_id = (select auth.uid()));
revoke all on backend_team.recovery_decisions from public, anon, authenticated;
grant select on backend_team.recovery_decisions to authenticated;
grant all on backend_team.recovery_decisions to service_role;

-- Task edges recovery needs ---------------------------------------------------------------------
create or replace function backend_team.task_transition_allowed(from_status text, to_status text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select case from_status
    when 'pending' then to_status in ('queued', 'cancelled', 'failed')
    when 'queued' then to_status in ('running', 'cancelled', 'failed')
    -- running -> running: a redelivered message starts the next attempt after a lost lease.
    -- running -> escalated: the model stayed unavailable; the user decides.
    when 'running' then to_status in ('running', 'validating', 'succeeded', 'retrying', 'failed', 'escalated', 'cancelled')
    -- validating -> running: the worker died while validating and the message came back.
    -- validating -> pending: the task waits for a diagnosis (a reroute to the debugger).
    when 'validating' then to_status in ('running', 'pending', 'succeeded', 'retrying', 'failed', 'escalated', 'cancelled')
    when 'retrying' then to_status in ('running', 'queued', 'failed', 'escalated', 'cancelled')
    when 'escalated' then to_status in ('queued', 'failed', 'cancelled')
    else false
  end
$$;

-- Whether a task no longer holds up delivery: succeeded, or skipped at the user's word.
create function backend_team.task_is_done(p_status text, p_error jsonb)
returns boolean
language sql immutable
set search_path = ''
as $$ select p_status = 'succeeded' or (p_status = 'cancelled' and p_error ->> 'code' = 'skipped') $$;
comment on function backend_team.task_is_done(text, jsonb) is
  'Whether a task no longer holds up delivery: succeeded, or skipped at the user''s word.';

create function backend_team.record_recovery_decision(p_task backend_team.tasks, p_decision jsonb,
  p_to_task text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
begin
  insert into backend_team.recovery_decisions (run_id, owner_id, task_id, class, strategy,
                                               from_task, to_task, to_agent, reason, detail)
  values (p_task.run_id, p_task.owner_id, p_task.id, p_decision ->> 'class',
          p_decision ->> 'strategy', p_task.key, p_to_task, p_decision ->> 'toAgent',
          left(coalesce(p_decision ->> 'reason', ''), 4000),
          jsonb_build_object('mode', p_decision -> 'mode', 'cost', p_decision -> 'cost',
                             'escalation', p_decision -> 'escalation'))
  returning id into v_id;
  perform backend_team.append_event(p_task.run_id, 'recovery.decision', jsonb_build_object(
    'decision_id', v_id, 'class', p_decision ->> 'class', 'strategy', p_decision ->> 'strategy',
    'from_task', p_task.key, 'to_task', p_to_task, 'to_agent', p_decision ->> 'toAgent',
    'reason', left(coalesce(p_decision ->> 'reason', ''), 4000)));
end;
$$;
comment on function backend_team.record_recovery_decision(backend_team.tasks, jsonb, text) is
  'Stores a recovery decision and announces it as recovery.decision on the run''s channel.';

-- Escalation: the task waits, the run asks its user (once; a second escalation waits with it).
create function backend_team.escalate_task(p_task backend_team.tasks, p_clarification jsonb,
  p_patch jsonb default '{}'::jsonb)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform backend_team.transition_task(p_task.id, 'escalated', coalesce(p_patch, '{}'::jsonb));
  if (select status from backend_team.runs where id = p_task.run_id) = 'executing' then
    perform backend_team.transition_run(p_task.run_id, 'awaiting_clarification',
      jsonb_build_object('clarification', p_clarification));
  end if;
end;
$$;
comment on function backend_team.escalate_task(backend_team.tasks, jsonb, jsonb) is
  'Escalates a task to the user: the task waits, the run goes to awaiting_clarification with typed questions.';

-- The failing task's output is kept (a handoff): artifacts stored, task succeeded, dependents released.
create function backend_team.accept_output(p_task backend_team.tasks, p_result jsonb, p_error jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_artifact record;
begin
  for v_artifact in
    insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content, meta, ordinal)
    select p_task.run_id, p_task.id, p_task.owner_id, a ->> 'kind', a ->> 'path', a ->> 'content',
           coalesce(a -> 'meta', '{}'::jsonb), coalesce((a ->> 'ordinal')::integer, n::integer)
      from jsonb_array_elements(coalesce(p_result -> 'artifacts', '[]'::jsonb)) with ordinality as e(a, n)
    on conflict (task_id, ordinal) where task_id is not null
      do update set content = excluded.content, meta = excluded.meta, kind = excluded.kind,
                    path = excluded.path
    returning id, kind, path
  loop
    perform backend_team.append_event(p_task.run_id, 'artifact.created', jsonb_build_object(
      'artifact_id', v_artifact.id, 'task_id', p_task.id, 'kind', v_artifact.kind, 'path', v_artifact.path));
  end loop;
  perform backend_team.transition_task(p_task.id, 'succeeded', jsonb_build_object(
    'output', p_result -> 'output', 'validation', p_result -> 'validation', 'error', p_error));
  update backend_team.tasks
     set remaining_deps = remaining_deps - 1, updated_at = now()
   where run_id = p_task.run_id and status = 'pending' and p_task.key = any(depends_on);
end;
$$;
comment on function backend_team.accept_output(backend_team.tasks, jsonb, jsonb) is
  'Keeps a task''s output as it is (a handoff to a specialist): stores its artifacts, succeeds the task, releases dependents.';

-- After validation failed: apply the decision recovery made ---------------------------------------
create function backend_team.recover_attempt(p_task_id uuid, p_attempt integer, p_result jsonb,
  p_decision jsonb, p_amendment jsonb default null, p_clarification jsonb default null)
returns table (applied boolean, outcome text, wake text[])
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_strategy text := p_decision ->> 'strategy';
  v_mode text := p_decision ->> 'mode';
  v_error jsonb;
  v_msg bigint;
  v_new jsonb;
  v_new_id uuid;
  v_rewire jsonb;
  v_wake text[];
begin
  if v_task.id is null then
    return query select false, null::text, '{}'::text[];
    return;
  end if;
  v_error := coalesce(p_result -> 'error', jsonb_build_object(
    'code', 'validation_failed', 'message', 'the output did not pass validation'));
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  if v_task.status = 'running' then
    perform backend_team.transition_task(p_task_id, 'validating', '{}'::jsonb);
  end if;

  if v_strategy = 'reroute' and p_amendment is not null then
    v_new := p_amendment -> 'task';
    perform backend_team.record_attempt(v_task, 'invalid', p_result);
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, input, expected_output,
                                    depends_on, remaining_deps)
    values (v_task.run_id, v_task.owner_id, v_new ->> 'id', v_new ->> 'agent', v_new ->> 'title',
            jsonb_build_object('text', v_new ->> 'input', 'tables', coalesce(v_new -> 'tables', '[]'::jsonb),
                               'recovery_of', v_task.key),
            v_new -> 'output',
            array(select jsonb_array_elements_text(v_new -> 'depends_on')),
            (select count(*) from backend_team.tasks d
              where d.run_id = v_task.run_id
                and d.key in (select jsonb_array_elements_text(v_new -> 'depends_on'))
                and not backend_team.task_is_done(d.status, d.error)))
    returning id into v_new_id;
    perform backend_team.append_event(v_task.run_id, 'task.status', jsonb_build_object(
      'task_id', v_new_id, 'key', v_new ->> 'id', 'agent', v_new ->> 'agent',
      'status', 'pending', 'from', null, 'attempt', 0, 'error', null));
    for v_rewire in select * from jsonb_array_elements(coalesce(p_amendment -> 'rewired', '[]'::jsonb))
    loop
      update backend_team.tasks
         set depends_on = array(select jsonb_array_elements_text(v_rewire -> 'depends_on')),
             updated_at = now()
       where run_id = v_task.run_id and key = v_rewire ->> 'id';
    end loop;
    update backend_team.runs
       set plan = p_amendment -> 'plan', strategy = p_amendment -> 'plan' ->> 'strategy', updated_at = now()
     where id = v_task.run_id;
    if v_mode = 'handoff' then
      -- The specialist fixes the output on top of it: keep it, hand the findings over.
      perform backend_team.accept_output(v_task, p_result, jsonb_build_object(
        'code', 'handed_off',
        'message', format('validation found %s problems; %s (%s) fixes them',
                          p_decision ->> 'class', v_new ->> 'id', v_new ->> 'agent')));
    else
      -- The task waits for the diagnosis, then runs again with it as a dependency output.
      perform backend_team.transition_task(p_task_id, 'pending', jsonb_build_object(
        'validation', p_result -> 'validation', 'error', v_error));
    end if;
    -- Dependencies counted again for every task the amendment touched.
    update backend_team.tasks t
       set remaining_deps = (select count(*) from backend_team.tasks d
                              where d.run_id = t.run_id and d.key = any(t.depends_on)
                                and not backend_team.task_is_done(d.status, d.error)),
           updated_at = now()
     where t.run_id = v_task.run_id and t.status = 'pending';
    perform backend_team.record_recovery_decision(v_task, p_decision, v_new ->> 'id');
    v_wake := array(select distinct x from backend_team.enqueue_ready_tasks(v_task.run_id) as x);
    return query select true, 'rerouted', v_wake;
    return;
  end if;

  perform backend_team.record_attempt(v_task, 'invalid', p_result);
  if v_strategy = 'retry' then
    v_msg := pgmq.send(backend_team.queue_of(v_task.agent),
      jsonb_build_object('task_id', v_task.id, 'run_id', v_task.run_id, 'retry_of', v_task.attempt));
    perform backend_team.transition_task(p_task_id, 'retrying', jsonb_build_object(
      'validation', p_result -> 'validation', 'error', v_error, 'msg_id', v_msg));
    perform backend_team.record_recovery_decision(v_task, p_decision, v_task.key);
    return query select true, 'retrying', array[v_task.agent];
    return;
  end if;
  -- escalate (and anything this version cannot apply): ask the user.
  perform backend_team.record_recovery_decision(v_task, p_decision || jsonb_build_object(
    'strategy', 'escalate'), null);
  perform backend_team.escalate_task(v_task, p_clarification, jsonb_build_object(
    'validation', p_result -> 'validation', 'error', v_error));
  return query select true, 'escalated', '{}'::text[];
end;
$$;
comment on function backend_team.recover_attempt(uuid, integer, jsonb, jsonb, jsonb, jsonb) is
  'Applies a recovery decision to the current attempt after its output failed validation: retry the agent, reroute (a new task in the amended plan, dependents re-wired) or escalate to the user.';

-- After an LLM or transport failure: redeliver while deliveries remain, then escalate ------------
create or replace function backend_team.fail_attempt(p_task_id uuid, p_attempt integer, p_result jsonb,
  p_read_ct integer, p_max_deliveries integer default 5, p_retry_delay_s integer default 1)
returns table (applied boolean, outcome text)
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_error jsonb;
  v_recovery jsonb := p_result -> 'recovery';
begin
  if v_task.id is null then
    return query select false, null::text;
    return;
  end if;
  perform backend_team.record_attempt(v_task, 'failed', p_result);
  v_error := coalesce(p_result -> 'error', jsonb_build_object('code', 'internal', 'message', 'attempt failed'));
  if p_read_ct < p_max_deliveries and coalesce((p_result ->> 'retryable')::boolean, true) then
    perform backend_team.transition_task(p_task_id, 'retrying', jsonb_build_object('error', v_error));
    -- Backoff through the visibility timeout: the same message comes back after the delay.
    perform pgmq.set_vt(backend_team.queue_of(v_task.agent), v_task.msg_id, greatest(p_retry_delay_s, 0));
    return query select true, 'retrying';
    return;
  end if;
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  if v_recovery is not null and v_recovery ? 'clarification' then
    perform backend_team.record_recovery_decision(v_task, v_recovery -> 'decision', null);
    perform backend_team.escalate_task(v_task, v_recovery -> 'clarification',
      jsonb_build_object('error', v_error));
    return query select true, 'escalated';
    return;
  end if;
  perform backend_team.transition_task(p_task_id, 'failed', jsonb_build_object('error', v_error));
  perform backend_team.fail_run(v_task.run_id, 'task_failed',
    format('task %s (%s) failed: %s', v_task.key, v_task.agent, v_error ->> 'message'));
  return query select true, 'failed';
end;
$$;
comment on function backend_team.fail_attempt(uuid, integer, jsonb, integer, integer, integer) is
  'Records a failed attempt (LLM or transport error): retried with backoff while deliveries remain, then escalated to the user when recovery says so (else the task and run fail).';

-- Accepting an output: as before, but skipped tasks do not hold up delivery. --------------------
create or replace function backend_team.complete_attempt(p_task_id uuid, p_attempt integer, p_result jsonb)
returns table (applied boolean, wake text[])
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_wake text[];
begin
  if v_task.id is null then
    return query select false, '{}'::text[];
    return;
  end if;
  perform backend_team.record_attempt(v_task, 'succeeded', p_result);
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  perform backend_team.accept_output(v_task, p_result, null);
  if not exists (select 1 from backend_team.tasks
                  where run_id = v_task.run_id and not backend_team.task_is_done(status, error)) then
    perform backend_team.transition_run(v_task.run_id, 'delivering', '{}'::jsonb);
    v_wake := array['orchestrator'];
  else
    v_wake := array(select distinct x from backend_team.enqueue_ready_tasks(v_task.run_id) as x);
  end if;
  return query select true, v_wake;
end;
$$;

-- After the user answered: apply the answer, then go on --------------------------------------------
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
  v_model text;
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
    if v_budget is not null and v_budget > v_run.prompt_tokens + v_run.completion_tokens then
      update backend_team.runs set token_budget = v_budget, updated_at = now() where id = p_run_id;
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
    -- The escalated tasks and everything that needs them are skipped; the rest is delivered.
    for v_task in
      with recursive skipped(key) as (
        select key from backend_team.tasks where run_id = p_run_id and status = 'escalated'
        union
        select t.key from backend_team.tasks t join skipped s on s.key = any(t.depends_on)
         where t.run_id = p_run_id
      )
      select t.* from backend_team.tasks t
       where t.run_id = p_run_id and t.key in (select key from skipped)
         and t.status not in ('succeeded', 'failed', 'cancelled')
       order by length(t.key), t.key
    loop
      perform backend_team.transition_task(v_task.id, 'cancelled', jsonb_build_object('error',
        jsonb_build_object('code', 'skipped', 'message', 'skipped at the user''s request')));
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
    return next v_task.agent;
  end loop;
  return query select * from backend_team.enqueue_ready_tasks(p_run_id);
end;
$$;
comment on function backend_team.resume_escalated_tasks(uuid) is
  'After the user answered an escalation, applies the answer (retry, raise_budget, other_model, skip, cancel) and queues the escalated tasks again; completed tasks are not redone.';

-- Functions execute for PUBLIC by default: the new ones are the service side's only.
revoke execute on function backend_team.task_is_done(text, jsonb) from public, anon, authenticated;
revoke execute on function backend_team.record_recovery_decision(backend_team.tasks, jsonb, text)
  from public, anon, authenticated;
revoke execute on function backend_team.escalate_task(backend_team.tasks, jsonb, jsonb)
  from public, anon, authenticated;
revoke execute on function backend_team.accept_output(backend_team.tasks, jsonb, jsonb)
  from public, anon, authenticated;
revoke execute on function backend_team.recover_attempt(uuid, integer, jsonb, jsonb, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function backend_team.task_is_done(text, jsonb) to service_role;
grant execute on function backend_team.record_recovery_decision(backend_team.tasks, jsonb, text) to service_role;
grant execute on function backend_team.escalate_task(backend_team.tasks, jsonb, jsonb) to service_role;
grant execute on function backend_team.accept_output(backend_team.tasks, jsonb, jsonb) to service_role;
grant execute on function backend_team.recover_attempt(uuid, integer, jsonb, jsonb, jsonb, jsonb) to service_role;
