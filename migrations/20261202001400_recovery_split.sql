-- Recovery, continued (Phase 6.2 "decompose further", and nothing a person could save is lost):
--
-- * Decompose: after a task's retries, recovery may decide to have the planner split it. The task
--   waits in `retrying` without a queue message while the orchestrator worker asks the planner
--   (a `{ run_id, split }` message on bt_orchestrator); `apply_split` then stores the amended plan
--   (validated by shared/recovery `amendPlan` like the planner's): the new tasks are inserted, the
--   failing task's dependents are re-wired onto them, and the failing task is superseded (cancelled
--   with error code `superseded`, which does not hold up delivery). A split that cannot be made
--   escalates the task (`escalate_split`).
-- * Skip: a skipped task's files are withdrawn, and so are the files of every task that depends on
--   it, even ones already accepted (their output was built on something no longer delivered), and
--   of the output a skipped fix was to fix (handed off after failing validation); the run delivers
--   the rest. A skipped or superseded task's files are never delivered.
-- * An answered escalation always makes progress: when nothing is left to queue or wait for, the
--   run goes back to delivering instead of sitting in executing.
-- * A raised money budget (`cost_budget_usd`) is applied like a raised token budget.

-- Done tasks: succeeded, skipped at the user's word, or superseded by a split. -------------------
create or replace function backend_team.task_is_done(p_status text, p_error jsonb)
returns boolean
language sql immutable
set search_path = ''
as $$
  select p_status = 'succeeded'
      or (p_status = 'cancelled' and p_error ->> 'code' in ('skipped', 'superseded'))
$$;
comment on function backend_team.task_is_done(text, jsonb) is
  'Whether a task no longer holds up delivery: succeeded, skipped at the user''s word, or superseded by a split.';

create or replace function backend_team.task_transition_allowed(from_status text, to_status text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select case from_status
    when 'pending' then to_status in ('queued', 'cancelled', 'failed')
    when 'queued' then to_status in ('running', 'cancelled', 'failed')
    when 'running' then to_status in ('running', 'validating', 'succeeded', 'retrying', 'failed', 'escalated', 'cancelled')
    when 'validating' then to_status in ('running', 'pending', 'succeeded', 'retrying', 'failed', 'escalated', 'cancelled')
    when 'retrying' then to_status in ('running', 'queued', 'failed', 'escalated', 'cancelled')
    when 'escalated' then to_status in ('queued', 'failed', 'cancelled')
    -- succeeded -> cancelled: skipped at the user's word (it depends on a skipped task), its
    -- accepted files withdrawn.
    when 'succeeded' then to_status in ('queued', 'escalated', 'cancelled')
    else false
  end
$$;

-- After validation failed: as in 20261202000300_recovery.sql, plus `decompose`. ------------------
create or replace function backend_team.recover_attempt(p_task_id uuid, p_attempt integer, p_result jsonb,
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

  if v_strategy = 'decompose' then
    -- The task waits (no queue message) while the orchestrator worker asks the planner to split it.
    perform backend_team.record_attempt(v_task, 'invalid', p_result);
    perform backend_team.transition_task(p_task_id, 'retrying', jsonb_build_object(
      'validation', p_result -> 'validation', 'error', v_error, 'msg_id', null));
    perform backend_team.record_recovery_decision(v_task, p_decision, null);
    perform pgmq.send('bt_orchestrator', jsonb_build_object(
      'run_id', v_task.run_id, 'split', v_task.key, 'task_id', v_task.id));
    return query select true, 'decomposing', array['orchestrator'];
    return;
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
      perform backend_team.accept_output(v_task, p_result, jsonb_build_object(
        'code', 'handed_off',
        'message', format('validation found %s problems; %s (%s) fixes them',
                          p_decision ->> 'class', v_new ->> 'id', v_new ->> 'agent')));
    else
      perform backend_team.transition_task(p_task_id, 'pending', jsonb_build_object(
        'validation', p_result -> 'validation', 'error', v_error));
    end if;
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
  perform backend_team.record_recovery_decision(v_task, p_decision || jsonb_build_object(
    'strategy', 'escalate'), null);
  perform backend_team.escalate_task(v_task, p_clarification, jsonb_build_object(
    'validation', p_result -> 'validation', 'error', v_error));
  return query select true, 'escalated', '{}'::text[];
end;
$$;
comment on function backend_team.recover_attempt(uuid, integer, jsonb, jsonb, jsonb, jsonb) is
  'Applies a recovery decision to the current attempt after its output failed validation: retry the agent, reroute (a new task in the amended plan, dependents re-wired), decompose (the planner splits the task) or escalate to the user.';

-- Whether a task waits for the planner to split it. ---------------------------------------------
create function backend_team.awaiting_split(p_task backend_team.tasks)
returns boolean
language sql stable
set search_path = ''
as $$
  select p_task.status = 'retrying' and p_task.msg_id is null
     and (select d.strategy from backend_team.recovery_decisions d
           where d.task_id = p_task.id order by d.created_at desc, d.id limit 1) = 'decompose'
$$;
comment on function backend_team.awaiting_split(backend_team.tasks) is
  'Whether the task waits (in retrying, without a queue message) for the planner to split it.';

-- The planner split the task: store the amended plan and go on. ----------------------------------
create function backend_team.apply_split(p_task_id uuid, p_amendment jsonb, p_decision jsonb)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.lock_task(p_task_id);
  v_status text;
  v_new jsonb;
  v_new_id uuid;
  v_rewire jsonb;
  v_keys text;
begin
  select status into v_status from backend_team.runs where id = v_task.run_id;
  -- A duplicate message, or a run that ended meanwhile: nothing to do.
  if v_task.id is null or not backend_team.awaiting_split(v_task)
     or backend_team.is_terminal_run_status(v_status) then
    return;
  end if;
  select string_agg(t ->> 'id', ', ' order by n) into v_keys
    from jsonb_array_elements(p_amendment -> 'added') with ordinality as e(t, n);
  for v_new in select * from jsonb_array_elements(p_amendment -> 'added')
  loop
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, input, expected_output,
                                    depends_on, remaining_deps)
    values (v_task.run_id, v_task.owner_id, v_new ->> 'id', v_new ->> 'agent', v_new ->> 'title',
            jsonb_build_object('text', v_new ->> 'input', 'tables', coalesce(v_new -> 'tables', '[]'::jsonb),
                               'split_of', v_task.key),
            v_new -> 'output',
            array(select jsonb_array_elements_text(v_new -> 'depends_on')), 0)
    returning id into v_new_id;
    perform backend_team.append_event(v_task.run_id, 'task.status', jsonb_build_object(
      'task_id', v_new_id, 'key', v_new ->> 'id', 'agent', v_new ->> 'agent',
      'status', 'pending', 'from', null, 'attempt', 0, 'error', null));
  end loop;
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
  perform backend_team.transition_task(v_task.id, 'cancelled', jsonb_build_object('error',
    jsonb_build_object('code', 'superseded', 'message', format('split into %s', v_keys))));
  update backend_team.tasks t
     set remaining_deps = (select count(*) from backend_team.tasks d
                            where d.run_id = t.run_id and d.key = any(t.depends_on)
                              and not backend_team.task_is_done(d.status, d.error)),
         updated_at = now()
   where t.run_id = v_task.run_id and t.status = 'pending';
  perform backend_team.record_recovery_decision(v_task, p_decision, v_keys);
  return query select distinct x from backend_team.enqueue_ready_tasks(v_task.run_id) as x;
end;
$$;
comment on function backend_team.apply_split(uuid, jsonb, jsonb) is
  'Stores a split of a failing task: the new tasks of the amended plan, its dependents re-wired onto them, the task superseded; queues what is ready.';

-- The split could not be made: the task escalates (the run asks its user). ----------------------
create function backend_team.escalate_split(p_task_id uuid, p_decision jsonb, p_clarification jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.lock_task(p_task_id);
begin
  if v_task.id is null or not backend_team.awaiting_split(v_task) then
    return false;
  end if;
  perform backend_team.record_recovery_decision(v_task, p_decision, null);
  perform backend_team.escalate_task(v_task, p_clarification, '{}'::jsonb);
  return true;
end;
$$;
comment on function backend_team.escalate_split(uuid, jsonb, jsonb) is
  'A split the planner could not make: records the decision and escalates the task to the user.';

-- After the user answered: apply the answer, then go on (always: progress or a question). --------
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
    v_budget_usd := case when (v_answers ->> 'cost_budget_usd') ~ '^\s*[0-9]{1,6}(\.[0-9]{1,6})?\s*$'
                         then trim(v_answers ->> 'cost_budget_usd')::numeric end;
    if v_budget_usd is not null and v_budget_usd > coalesce(v_run.cost_usd, 0)
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

revoke execute on function backend_team.awaiting_split(backend_team.tasks) from public, anon, authenticated;
revoke execute on function backend_team.apply_split(uuid, jsonb, jsonb) from public, anon, authenticated;
revoke execute on function backend_team.escalate_split(uuid, jsonb, jsonb) from public, anon, authenticated;
grant execute on function backend_team.awaiting_split(backend_team.tasks) to service_role;
grant execute on function backend_team.apply_split(uuid, jsonb, jsonb) to service_role;
grant execute on function backend_team.escalate_split(uuid, jsonb, jsonb) to service_role;
