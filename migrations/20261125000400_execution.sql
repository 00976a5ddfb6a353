-- Execution on queues: one pgmq queue per agent plus `bt_orchestrator` for run-level work
-- (understand, plan, resume after answers, deliver). Enqueueing happens in the transaction that
-- makes a task ready; every completion is conditional on the attempt it belongs to, so a
-- redelivered message or a late worker changes nothing (at-least-once delivery, exactly-once
-- effect). The worker's TypeScript only calls these functions and wakes the agents they name.

do $$
begin
  -- On Supabase pgmq is an extension; the local stack provides a compatible schema instead.
  if to_regprocedure('pgmq.create(text)') is null then
    create extension if not exists pgmq;
  end if;
end
$$;

select pgmq.create(q)
  from unnest(array[
    'bt_orchestrator', 'bt_db_architect', 'bt_query_optimizer', 'bt_edge_functions',
    'bt_websocket', 'bt_api_data', 'bt_deployment', 'bt_debugger', 'bt_monitor', 'bt_security'
  ]) as q;

create function backend_team.queue_of(p_agent text)
returns text
language sql immutable
set search_path = ''
as $$ select 'bt_' || replace(p_agent, '-', '_') $$;
comment on function backend_team.queue_of(text) is
  'The pgmq queue of an agent (bt_<agent>), or bt_orchestrator for run-level work.';

-- Run-level work ---------------------------------------------------------------------------------
create function backend_team.request_run_work(p_run_id uuid)
returns bigint
language sql
set search_path = ''
as $$
  select pgmq.send('bt_orchestrator', jsonb_build_object('run_id', p_run_id))
$$;
comment on function backend_team.request_run_work(uuid) is
  'Queues the run for the orchestrator worker (understand, plan, resume or deliver, by status).';

-- A new run and an answered run are queued for the orchestrator in the same transaction.
create function backend_team.queue_run_on_status()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status in ('received', 'delivering')
     or (old.status = 'awaiting_clarification'
         and new.status in ('understanding', 'planning', 'executing', 'delivering')) then
    perform backend_team.request_run_work(new.id);
  end if;
  return null;
end;
$$;
comment on function backend_team.queue_run_on_status() is
  'Trigger: queues orchestrator work when a run is received, answered or ready to deliver.';

create trigger queue_new_run after insert on backend_team.runs
  for each row execute function backend_team.queue_run_on_status();
create trigger queue_run_work after update of status on backend_team.runs
  for each row when (old.status is distinct from new.status)
  execute function backend_team.queue_run_on_status();

-- Plans become tasks ----------------------------------------------------------------------------
create function backend_team.enqueue_ready_tasks(p_run_id uuid)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_run backend_team.runs;
  v_slots integer;
  v_task backend_team.tasks;
  v_msg bigint;
begin
  select * into v_run from backend_team.runs where id = p_run_id for update;
  if not found or v_run.status <> 'executing' then
    return;
  end if;
  select coalesce((v_run.options ->> 'max_parallel')::integer, 4) - count(*)
    into v_slots
    from backend_team.tasks
   where run_id = p_run_id and status in ('queued', 'running', 'validating', 'retrying');
  if v_slots <= 0 then
    return;
  end if;
  for v_task in
    select * from backend_team.tasks
     where run_id = p_run_id and status = 'pending' and remaining_deps = 0
     order by length(key), key
     limit v_slots
  loop
    v_msg := pgmq.send(backend_team.queue_of(v_task.agent),
      jsonb_build_object('task_id', v_task.id, 'run_id', p_run_id));
    perform backend_team.transition_task(v_task.id, 'queued', jsonb_build_object('msg_id', v_msg));
    return next v_task.agent;
  end loop;
end;
$$;
comment on function backend_team.enqueue_ready_tasks(uuid) is
  'Queues the run''s pending tasks whose dependencies are done, up to max_parallel in flight; returns their agents.';

create function backend_team.persist_plan(p_run_id uuid, p_plan jsonb, p_patch jsonb default '{}'::jsonb)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_run backend_team.runs;
  v_task record;
begin
  select * into v_run from backend_team.runs where id = p_run_id for update;
  if not found then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  -- Planning twice (a redelivered message after a crash) must not create tasks twice.
  if v_run.status <> 'planning' then
    return;
  end if;
  for v_task in
    insert into backend_team.tasks (run_id, owner_id, key, agent, title, input, expected_output,
                                    depends_on, remaining_deps)
    select p_run_id, v_run.owner_id, t ->> 'id', t ->> 'agent', coalesce(t ->> 'title', ''),
           jsonb_build_object('text', t ->> 'input', 'tables', coalesce(t -> 'tables', '[]'::jsonb)),
           t -> 'output',
           array(select jsonb_array_elements_text(coalesce(t -> 'depends_on', '[]'::jsonb))),
           jsonb_array_length(coalesce(t -> 'depends_on', '[]'::jsonb))
      from jsonb_array_elements(p_plan -> 'tasks') with ordinality as e(t, n)
     order by n
    returning id, key, agent
  loop
    perform backend_team.append_event(p_run_id, 'task.status', jsonb_build_object(
      'task_id', v_task.id, 'key', v_task.key, 'agent', v_task.agent,
      'status', 'pending', 'from', null, 'attempt', 0, 'error', null));
  end loop;
  perform backend_team.transition_run(p_run_id, 'executing',
    coalesce(p_patch, '{}'::jsonb) || jsonb_build_object('plan', p_plan, 'strategy', p_plan ->> 'strategy'));
  return query select * from backend_team.enqueue_ready_tasks(p_run_id);
end;
$$;
comment on function backend_team.persist_plan(uuid, jsonb, jsonb) is
  'Stores a validated plan as task rows, moves the run to executing and queues the ready tasks, in one transaction.';

-- Attempts ----------------------------------------------------------------------------------------
create function backend_team.start_attempt(p_task_id uuid, p_msg_id bigint, p_read_ct integer,
  p_max_deliveries integer default 5)
returns table (applied boolean, attempt integer, reason text)
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
  v_run_status text;
begin
  v_task := backend_team.lock_task(p_task_id);
  if v_task.id is null then
    return query select false, 0, 'no such task';
    return;
  end if;
  if v_task.msg_id is distinct from p_msg_id then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), p_msg_id);
    return query select false, v_task.attempt, 'stale message';
    return;
  end if;
  if v_task.status not in ('queued', 'running', 'validating', 'retrying') then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), p_msg_id);
    return query select false, v_task.attempt, 'task is ' || v_task.status;
    return;
  end if;
  -- Independent branches keep working while the run waits for an answer about another task.
  select status into v_run_status from backend_team.runs where id = v_task.run_id;
  if v_run_status not in ('executing', 'awaiting_clarification') then
    return query select false, v_task.attempt, 'run is ' || v_run_status;
    return;
  end if;
  -- The previous attempt lost its lease (its worker died): it can never complete now.
  update backend_team.task_attempts a set status = 'abandoned', finished_at = now()
   where a.task_id = p_task_id and a.status = 'running';
  if p_read_ct > p_max_deliveries then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), p_msg_id);
    perform backend_team.transition_task(p_task_id, 'failed', jsonb_build_object('error',
      jsonb_build_object('code', 'dead_lettered',
        'message', format('the task''s message was delivered %s times without completing', p_read_ct - 1))));
    perform backend_team.fail_run(v_task.run_id, 'task_failed',
      format('task %s (%s) was delivered %s times without completing', v_task.key, v_task.agent, p_read_ct - 1));
    return query select false, v_task.attempt, 'dead-lettered';
    return;
  end if;
  v_task := backend_team.transition_task(p_task_id, 'running', '{}'::jsonb);
  insert into backend_team.task_attempts (task_id, run_id, owner_id, attempt)
  values (p_task_id, v_task.run_id, v_task.owner_id, v_task.attempt);
  return query select true, v_task.attempt, null::text;
end;
$$;
comment on function backend_team.start_attempt(uuid, bigint, integer, integer) is
  'Starts the next attempt of a task for a delivered message; a stale, duplicate or over-delivered message is archived instead.';

-- Shared bookkeeping of a finished attempt: stats on the attempt row and a task.attempt event.
create function backend_team.record_attempt(p_task backend_team.tasks, p_status text, p_result jsonb)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update backend_team.task_attempts set
    status = p_status,
    prompt_tokens = coalesce((p_result ->> 'prompt_tokens')::bigint, 0),
    completion_tokens = coalesce((p_result ->> 'completion_tokens')::bigint, 0),
    context_tokens = (p_result ->> 'context_tokens')::bigint,
    context_tokens_uncompressed = (p_result ->> 'context_tokens_uncompressed')::bigint,
    duration_ms = (p_result ->> 'duration_ms')::bigint,
    llm_ms = (p_result ->> 'llm_ms')::bigint,
    output = p_result -> 'output',
    validation = p_result -> 'validation',
    error = p_result -> 'error',
    finished_at = now()
  where task_id = p_task.id and attempt = p_task.attempt;
  perform backend_team.append_event(p_task.run_id, 'task.attempt', jsonb_build_object(
    'task_id', p_task.id, 'key', p_task.key, 'attempt', p_task.attempt, 'status', p_status,
    'prompt_tokens', coalesce((p_result ->> 'prompt_tokens')::bigint, 0),
    'completion_tokens', coalesce((p_result ->> 'completion_tokens')::bigint, 0),
    'duration_ms', (p_result ->> 'duration_ms')::bigint));
  if p_result ? 'validation' and jsonb_typeof(p_result -> 'validation') = 'object' then
    perform backend_team.append_event(p_task.run_id, 'validation.report', jsonb_build_object(
      'task_id', p_task.id,
      'ok', coalesce((p_result -> 'validation' ->> 'ok')::boolean, true),
      'errors', coalesce((p_result -> 'validation' ->> 'errors')::integer, 0),
      'warnings', coalesce((p_result -> 'validation' ->> 'warnings')::integer, 0)));
  end if;
end;
$$;
comment on function backend_team.record_attempt(backend_team.tasks, text, jsonb) is
  'Stores a finished attempt''s tokens, duration, output and validation, and logs task.attempt (and validation.report).';

-- Locks the task and returns it when (task, attempt) is still the current, unfinished attempt.
create function backend_team.current_attempt(p_task_id uuid, p_attempt integer)
returns backend_team.tasks
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
begin
  v_task := backend_team.lock_task(p_task_id);
  if v_task.id is null or v_task.attempt <> p_attempt or v_task.status not in ('running', 'validating') then
    return null;
  end if;
  return v_task;
end;
$$;
comment on function backend_team.current_attempt(uuid, integer) is
  'The task, locked, if the given attempt is still its current unfinished one; null otherwise.';

create function backend_team.begin_validation(p_task_id uuid, p_attempt integer)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
begin
  if v_task.id is null or v_task.status <> 'running' then
    return false;
  end if;
  perform backend_team.transition_task(p_task_id, 'validating', '{}'::jsonb);
  return true;
end;
$$;
comment on function backend_team.begin_validation(uuid, integer) is
  'Marks the current attempt''s output as being validated; false if the attempt is no longer current.';

create function backend_team.complete_attempt(p_task_id uuid, p_attempt integer, p_result jsonb)
returns table (applied boolean, wake text[])
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_artifact record;
  v_wake text[];
begin
  if v_task.id is null then
    return query select false, '{}'::text[];
    return;
  end if;
  perform backend_team.record_attempt(v_task, 'succeeded', p_result);
  for v_artifact in
    insert into backend_team.artifacts (run_id, task_id, owner_id, kind, path, content, meta, ordinal)
    select v_task.run_id, v_task.id, v_task.owner_id, a ->> 'kind', a ->> 'path', a ->> 'content',
           coalesce(a -> 'meta', '{}'::jsonb), coalesce((a ->> 'ordinal')::integer, n::integer)
      from jsonb_array_elements(coalesce(p_result -> 'artifacts', '[]'::jsonb)) with ordinality as e(a, n)
    on conflict (task_id, ordinal) where task_id is not null
      do update set content = excluded.content, meta = excluded.meta, kind = excluded.kind,
                    path = excluded.path
    returning id, kind, path
  loop
    perform backend_team.append_event(v_task.run_id, 'artifact.created', jsonb_build_object(
      'artifact_id', v_artifact.id, 'task_id', v_task.id, 'kind', v_artifact.kind, 'path', v_artifact.path));
  end loop;
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  perform backend_team.transition_task(p_task_id, 'succeeded', jsonb_build_object(
    'output', p_result -> 'output', 'validation', p_result -> 'validation'));
  -- Release every dependent whose last dependency this was, in one statement.
  update backend_team.tasks
     set remaining_deps = remaining_deps - 1, updated_at = now()
   where run_id = v_task.run_id and status = 'pending' and v_task.key = any(depends_on);
  if not exists (select 1 from backend_team.tasks
                  where run_id = v_task.run_id and status <> 'succeeded') then
    perform backend_team.transition_run(v_task.run_id, 'delivering', '{}'::jsonb);
    v_wake := array['orchestrator'];
  else
    v_wake := array(select distinct x from backend_team.enqueue_ready_tasks(v_task.run_id) as x);
  end if;
  return query select true, v_wake;
end;
$$;
comment on function backend_team.complete_attempt(uuid, integer, jsonb) is
  'Accepts the current attempt''s output: stores attempt stats and artifacts, archives the message, succeeds the task, releases dependents; a stale attempt is a no-op.';

create function backend_team.reject_attempt(p_task_id uuid, p_attempt integer, p_result jsonb,
  p_max_retries integer default 2)
returns table (applied boolean, outcome text, wake text[])
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_msg bigint;
  v_error jsonb;
  v_invalid integer;
begin
  if v_task.id is null then
    return query select false, null::text, '{}'::text[];
    return;
  end if;
  perform backend_team.record_attempt(v_task, 'invalid', p_result);
  v_error := coalesce(p_result -> 'error', jsonb_build_object(
    'code', 'validation_failed', 'message', 'the output did not pass validation'));
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  if v_task.status = 'running' then
    perform backend_team.transition_task(p_task_id, 'validating', '{}'::jsonb);
  end if;
  -- Retries count the invalid attempts since the task was last escalated (answers reset them).
  select count(*) into v_invalid from backend_team.task_attempts a
   where a.task_id = p_task_id and a.status = 'invalid'
     and a.started_at > coalesce(v_task.finished_at, '-infinity'::timestamptz);
  if v_invalid <= p_max_retries then
    v_msg := pgmq.send(backend_team.queue_of(v_task.agent),
      jsonb_build_object('task_id', v_task.id, 'run_id', v_task.run_id, 'retry_of', v_task.attempt));
    perform backend_team.transition_task(p_task_id, 'retrying', jsonb_build_object(
      'validation', p_result -> 'validation', 'error', v_error, 'msg_id', v_msg));
    return query select true, 'retrying', array[v_task.agent];
    return;
  end if;
  perform backend_team.transition_task(p_task_id, 'escalated', jsonb_build_object(
    'validation', p_result -> 'validation', 'error', v_error));
  perform backend_team.transition_run(v_task.run_id, 'awaiting_clarification', jsonb_build_object(
    'clarification', jsonb_build_object(
      'reason', format('Task %s (%s) still fails validation after %s attempts.',
                       v_task.key, v_task.agent, v_task.attempt),
      'resume_to', 'executing',
      'task_key', v_task.key,
      'findings', coalesce(p_result -> 'validation' -> 'findings', '[]'::jsonb),
      'questions', jsonb_build_array(jsonb_build_object(
        'id', 'guidance',
        'text', format('Task %s (%s) could not produce output that passes validation. '
                       'How should it proceed? (e.g. relax a requirement, or describe the fix)',
                       v_task.key, v_task.agent),
        'kind', 'text', 'choices', null, 'required', true)),
      'answers', null)));
  return query select true, 'escalated', '{}'::text[];
end;
$$;
comment on function backend_team.reject_attempt(uuid, integer, jsonb, integer) is
  'Rejects the current attempt''s output after validation: retries the agent with the findings (at most p_max_retries times), then escalates to the user.';

create function backend_team.fail_attempt(p_task_id uuid, p_attempt integer, p_result jsonb,
  p_read_ct integer, p_max_deliveries integer default 5, p_retry_delay_s integer default 1)
returns table (applied boolean, outcome text)
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_error jsonb;
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
  perform backend_team.transition_task(p_task_id, 'failed', jsonb_build_object('error', v_error));
  perform backend_team.fail_run(v_task.run_id, 'task_failed',
    format('task %s (%s) failed: %s', v_task.key, v_task.agent, v_error ->> 'message'));
  return query select true, 'failed';
end;
$$;
comment on function backend_team.fail_attempt(uuid, integer, jsonb, integer, integer, integer) is
  'Records a failed attempt (LLM or transport error): retried with backoff while deliveries remain, else the task and run fail.';

create function backend_team.resume_escalated_tasks(p_run_id uuid)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
  v_msg bigint;
begin
  perform 1 from backend_team.runs where id = p_run_id and status = 'executing' for update;
  if not found then
    return;
  end if;
  for v_task in
    select * from backend_team.tasks where run_id = p_run_id and status = 'escalated' for update
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
  'After the user answered an escalation, queues the escalated tasks again (with the answers in their context).';

-- Queues with work nobody holds: what the safety-net schedule wakes.
create function backend_team.queues_with_visible_messages()
returns setof text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_queue text;
  v_found boolean;
begin
  for v_queue in
    select unnest(array[
      'bt_orchestrator', 'bt_db_architect', 'bt_query_optimizer', 'bt_edge_functions',
      'bt_websocket', 'bt_api_data', 'bt_deployment', 'bt_debugger', 'bt_monitor', 'bt_security'])
  loop
    execute format('select exists (select 1 from pgmq.%I where vt <= clock_timestamp())', 'q_' || v_queue)
      into v_found;
    if v_found then
      return next v_queue;
    end if;
  end loop;
end;
$$;
comment on function backend_team.queues_with_visible_messages() is
  'Queues holding messages that are visible now (not leased): the safety net wakes their workers.';

revoke execute on all functions in schema backend_team from public, anon, authenticated;
grant execute on function backend_team.submit_run(text, jsonb, jsonb) to authenticated;
grant execute on function backend_team.cancel_run(uuid) to authenticated;
grant execute on function backend_team.answer_clarification(uuid, jsonb) to authenticated;
grant execute on function backend_team.run_id_of_topic(text) to authenticated;
grant execute on function backend_team.owns_run_topic(text) to authenticated;
grant execute on all functions in schema backend_team to service_role;
