-- The run and task state machines: the only way a status changes. Each transition checks that it
-- is legal (SQLSTATE BT409 otherwise, detail {"from","to"}), appends a `run_events` row with the
-- run's next `seq`, and broadcasts the same payload on the private Realtime topic `run:<id>` — all
-- in the caller's transaction, so progress is never out of step with state and a rolled-back
-- change is never announced. Custom SQLSTATEs: BT400 bad argument, BT401 no user, BT404 not found
-- (also for another user's run), BT409 illegal transition.

-- Legal moves -----------------------------------------------------------------------------------
create function backend_team.run_transition_allowed(from_status text, to_status text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select case from_status
    when 'received' then to_status in ('understanding', 'failed', 'cancelled')
    when 'understanding' then to_status in ('awaiting_clarification', 'planning', 'failed', 'cancelled')
    when 'awaiting_clarification' then to_status in ('understanding', 'planning', 'executing', 'delivering', 'failed', 'cancelled')
    when 'planning' then to_status in ('executing', 'awaiting_clarification', 'failed', 'cancelled')
    when 'executing' then to_status in ('delivering', 'awaiting_clarification', 'failed', 'cancelled')
    when 'delivering' then to_status in ('completed', 'awaiting_clarification', 'failed', 'cancelled')
    else false
  end
$$;
comment on function backend_team.run_transition_allowed(text, text) is
  'Whether a run may move from one status to another (the run state machine''s edges).';

create function backend_team.task_transition_allowed(from_status text, to_status text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select case from_status
    when 'pending' then to_status in ('queued', 'cancelled', 'failed')
    when 'queued' then to_status in ('running', 'cancelled', 'failed')
    -- running -> running: a redelivered message starts the next attempt after a lost lease.
    when 'running' then to_status in ('running', 'validating', 'succeeded', 'retrying', 'failed', 'cancelled')
    -- validating -> running: the worker died while validating and the message came back.
    when 'validating' then to_status in ('running', 'succeeded', 'retrying', 'failed', 'escalated', 'cancelled')
    when 'retrying' then to_status in ('running', 'queued', 'failed', 'cancelled')
    when 'escalated' then to_status in ('queued', 'failed', 'cancelled')
    else false
  end
$$;
comment on function backend_team.task_transition_allowed(text, text) is
  'Whether a task may move from one status to another (the task state machine''s edges).';

create function backend_team.is_terminal_run_status(status text)
returns boolean
language sql immutable
set search_path = ''
as $$ select status in ('completed', 'failed', 'cancelled') $$;
comment on function backend_team.is_terminal_run_status(text) is
  'Whether a run in this status can no longer change.';

-- The event log ---------------------------------------------------------------------------------
create function backend_team.append_event(p_run_id uuid, p_type text, p_body jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_seq bigint;
  v_owner uuid;
  v_payload jsonb;
begin
  -- The row lock serialises writers of one run, so seq is gapless and in commit order.
  update backend_team.runs
     set last_seq = last_seq + 1, updated_at = now()
   where id = p_run_id
  returning last_seq, owner_id into v_seq, v_owner;
  if v_seq is null then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  v_payload := coalesce(p_body, '{}'::jsonb) || jsonb_build_object(
    'type', p_type, 'run_id', p_run_id, 'seq', v_seq,
    'at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  insert into backend_team.run_events (run_id, seq, owner_id, type, payload)
  values (p_run_id, v_seq, v_owner, p_type, v_payload);
  perform realtime.send(v_payload, p_type, 'run:' || p_run_id::text, true);
  return v_seq;
end;
$$;
comment on function backend_team.append_event(uuid, text, jsonb) is
  'Appends the run''s next event (gapless seq) and broadcasts it on run:<id>, in the same transaction.';

-- Runs ------------------------------------------------------------------------------------------
create function backend_team.transition_run(p_run_id uuid, p_to text, p_patch jsonb default '{}'::jsonb)
returns backend_team.runs
language plpgsql
set search_path = ''
as $$
declare
  v_run backend_team.runs;
  v_from text;
  v_patch jsonb := coalesce(p_patch, '{}'::jsonb);
  v_task record;
begin
  select * into v_run from backend_team.runs where id = p_run_id for update;
  if not found then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  v_from := v_run.status;
  if not backend_team.run_transition_allowed(v_from, p_to) then
    raise exception 'illegal run transition: % -> %', v_from, p_to
      using errcode = 'BT409', detail = jsonb_build_object('from', v_from, 'to', p_to)::text;
  end if;
  update backend_team.runs set
    status = p_to,
    complexity = case when v_patch ? 'complexity' then v_patch ->> 'complexity' else complexity end,
    strategy = case when v_patch ? 'strategy' then v_patch ->> 'strategy' else strategy end,
    understanding = case when v_patch ? 'understanding' then v_patch -> 'understanding' else understanding end,
    plan = case when v_patch ? 'plan' then v_patch -> 'plan' else plan end,
    clarification = case when v_patch ? 'clarification' then v_patch -> 'clarification' else clarification end,
    prompt_version = case when v_patch ? 'prompt_version' then v_patch ->> 'prompt_version' else prompt_version end,
    error = case when v_patch ? 'error' then v_patch -> 'error' else error end,
    result = case when v_patch ? 'result' then v_patch -> 'result' else result end,
    completed_at = case when backend_team.is_terminal_run_status(p_to) then now() else completed_at end,
    updated_at = now()
  where id = p_run_id;
  perform backend_team.append_event(p_run_id, 'run.status', jsonb_build_object(
    'status', p_to, 'from', v_from,
    'error', case when v_patch ? 'error' then v_patch -> 'error' else null end));
  -- A run that ends stops its unfinished tasks; a worker still busy with one finds it cancelled
  -- and its late completion changes nothing.
  if p_to in ('failed', 'cancelled') then
    for v_task in
      select id from backend_team.tasks
       where run_id = p_run_id
         and status not in ('succeeded', 'failed', 'cancelled')
       order by created_at, length(key), key
    loop
      perform backend_team.transition_task(v_task.id, 'cancelled', '{}'::jsonb);
    end loop;
  end if;
  if p_to = 'completed' then
    perform backend_team.append_event(p_run_id, 'run.completed', jsonb_build_object('status', 'completed'));
  end if;
  select * into v_run from backend_team.runs where id = p_run_id;
  return v_run;
end;
$$;
comment on function backend_team.transition_run(uuid, text, jsonb) is
  'Moves a run to a new status (patching complexity, strategy, understanding, plan, clarification, prompt_version, error, result), logs and broadcasts run.status.';

create function backend_team.fail_run(p_run_id uuid, p_code text, p_message text)
returns backend_team.runs
language sql
set search_path = ''
as $$
  select backend_team.transition_run(p_run_id, 'failed',
    jsonb_build_object('error', jsonb_build_object('code', p_code, 'message', p_message)))
$$;
comment on function backend_team.fail_run(uuid, text, text) is
  'Fails a run with an error code and message.';

-- Tasks -----------------------------------------------------------------------------------------
-- Every writer locks a run's row before any of its task rows (transition_run cancels tasks while
-- holding the run), so task and run updates racing each other cannot deadlock.
create function backend_team.lock_task(p_task_id uuid)
returns backend_team.tasks
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
begin
  perform 1 from backend_team.runs r
   where r.id = (select t.run_id from backend_team.tasks t where t.id = p_task_id)
     for update;
  select * into v_task from backend_team.tasks where id = p_task_id for update;
  return v_task;
end;
$$;
comment on function backend_team.lock_task(uuid) is
  'Locks a task''s run, then the task (the one lock order), and returns the task (all nulls if missing).';

create function backend_team.transition_task(p_task_id uuid, p_to text, p_patch jsonb default '{}'::jsonb)
returns backend_team.tasks
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
  v_from text;
  v_patch jsonb := coalesce(p_patch, '{}'::jsonb);
begin
  v_task := backend_team.lock_task(p_task_id);
  if v_task.id is null then
    raise exception 'task % not found', p_task_id using errcode = 'BT404';
  end if;
  v_from := v_task.status;
  if not backend_team.task_transition_allowed(v_from, p_to) then
    raise exception 'illegal task transition: % -> %', v_from, p_to
      using errcode = 'BT409', detail = jsonb_build_object('from', v_from, 'to', p_to)::text;
  end if;
  update backend_team.tasks set
    status = p_to,
    attempt = case when p_to = 'running' then attempt + 1 else attempt end,
    output = case when v_patch ? 'output' then v_patch -> 'output' else output end,
    validation = case when v_patch ? 'validation' then v_patch -> 'validation' else validation end,
    error = case when v_patch ? 'error' then v_patch -> 'error'
                 when p_to = 'running' then null else error end,
    msg_id = case when v_patch ? 'msg_id' then (v_patch ->> 'msg_id')::bigint else msg_id end,
    started_at = case when p_to = 'running' and started_at is null then now() else started_at end,
    finished_at = case when p_to in ('succeeded', 'failed', 'cancelled', 'escalated') then now() else finished_at end,
    updated_at = now()
  where id = p_task_id
  returning * into v_task;
  -- Cancelled work leaves its queue at once (backend_team.queue_of is in the execution migration),
  -- and an attempt still running is over: whatever it finishes with is discarded.
  if p_to = 'cancelled' then
    if v_task.msg_id is not null then
      perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
    end if;
    update backend_team.task_attempts set status = 'cancelled', finished_at = now()
     where task_id = p_task_id and status = 'running';
  end if;
  perform backend_team.append_event(v_task.run_id, 'task.status', jsonb_build_object(
    'task_id', v_task.id, 'key', v_task.key, 'agent', v_task.agent,
    'status', p_to, 'from', v_from, 'attempt', v_task.attempt,
    'error', case when v_patch ? 'error' then v_patch -> 'error' else null end));
  return v_task;
end;
$$;
comment on function backend_team.transition_task(uuid, text, jsonb) is
  'Moves a task to a new status (running starts the next attempt), logs and broadcasts task.status.';

-- Token usage -----------------------------------------------------------------------------------
create function backend_team.record_usage(p_run_id uuid, p_prompt_tokens bigint, p_completion_tokens bigint)
returns table (over_budget boolean, used bigint, token_budget bigint)
language plpgsql
set search_path = ''
as $$
declare
  v_run backend_team.runs;
begin
  if p_prompt_tokens < 0 or p_completion_tokens < 0 then
    raise exception 'token counts must not be negative' using errcode = 'BT400';
  end if;
  update backend_team.runs r set
    prompt_tokens = r.prompt_tokens + p_prompt_tokens,
    completion_tokens = r.completion_tokens + p_completion_tokens,
    updated_at = now()
  where r.id = p_run_id
  returning * into v_run;
  if not found then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  over_budget := v_run.prompt_tokens + v_run.completion_tokens > v_run.token_budget;
  used := v_run.prompt_tokens + v_run.completion_tokens;
  token_budget := v_run.token_budget;
  if over_budget and not backend_team.is_terminal_run_status(v_run.status) then
    perform backend_team.fail_run(p_run_id, 'budget_exceeded',
      format('the run used %s tokens, over its budget of %s', used, v_run.token_budget));
  end if;
  return next;
end;
$$;
comment on function backend_team.record_usage(uuid, bigint, bigint) is
  'Adds LLM token usage to a run; a run over its budget is failed with code budget_exceeded.';

-- What users may do (security definer: they cannot write tables themselves) --------------------
-- The caller acts for `p_owner` when the request's claims are that user's; a call without user
-- claims comes from the service side (service role or a direct database connection).
create function backend_team.caller_may_act_for(p_owner uuid)
returns boolean
language sql stable
set search_path = ''
as $$
  -- `role` keeps the session's role inside security definer functions: an API role without a
  -- user's claims acts for no one.
  select case
    when auth.uid() is not null then auth.uid() = p_owner
    else current_setting('role') not in ('anon', 'authenticated')
         and coalesce(auth.role(), 'service_role') = 'service_role'
  end
$$;
comment on function backend_team.caller_may_act_for(uuid) is
  'Whether the current request''s claims belong to the owner (or to the service side).';

create function backend_team.submit_run(p_request text, p_context jsonb default '{}'::jsonb,
  p_options jsonb default '{}'::jsonb)
returns backend_team.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid := auth.uid();
  v_run backend_team.runs;
begin
  if v_owner is null then
    raise exception 'a signed-in user is required' using errcode = 'BT401';
  end if;
  insert into backend_team.runs (owner_id, request, context, options, token_budget)
  values (v_owner, p_request, coalesce(p_context, '{}'::jsonb), coalesce(p_options, '{}'::jsonb),
          coalesce((p_options ->> 'token_budget')::bigint, 200000))
  returning * into v_run;
  perform backend_team.append_event(v_run.id, 'run.status',
    jsonb_build_object('status', 'received', 'from', null, 'error', null));
  select * into v_run from backend_team.runs where id = v_run.id;
  return v_run;
end;
$$;
comment on function backend_team.submit_run(text, jsonb, jsonb) is
  'Creates a run for the calling user in status received.';

create function backend_team.cancel_run(p_run_id uuid)
returns backend_team.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid;
begin
  select owner_id into v_owner from backend_team.runs where id = p_run_id;
  if v_owner is null or not backend_team.caller_may_act_for(v_owner) then
    raise exception 'run not found' using errcode = 'BT404';
  end if;
  return backend_team.transition_run(p_run_id, 'cancelled', '{}'::jsonb);
end;
$$;
comment on function backend_team.cancel_run(uuid) is
  'Cancels the caller''s run and its unfinished tasks.';

create function backend_team.answer_clarification(p_run_id uuid, p_answers jsonb)
returns backend_team.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run backend_team.runs;
  v_resume text;
begin
  select * into v_run from backend_team.runs where id = p_run_id for update;
  if not found or not backend_team.caller_may_act_for(v_run.owner_id) then
    raise exception 'run not found' using errcode = 'BT404';
  end if;
  if v_run.status <> 'awaiting_clarification' then
    raise exception 'run is %, not awaiting clarification', v_run.status
      using errcode = 'BT409',
            detail = jsonb_build_object('from', v_run.status, 'to', 'answered')::text;
  end if;
  if jsonb_typeof(p_answers) is distinct from 'object' then
    raise exception 'answers must be an object' using errcode = 'BT400';
  end if;
  -- Where the run goes on from: the phase that asked (understanding by default).
  v_resume := coalesce(v_run.clarification ->> 'resume_to', 'understanding');
  return backend_team.transition_run(p_run_id, v_resume, jsonb_build_object(
    'clarification', coalesce(v_run.clarification, '{}'::jsonb)
      || jsonb_build_object('answers', p_answers, 'answered_at', now())));
end;
$$;
comment on function backend_team.answer_clarification(uuid, jsonb) is
  'Stores the caller''s answers to the run''s questions and resumes the phase that asked.';

-- Functions execute for PUBLIC by default in Postgres; only what users need is granted back.
revoke execute on all functions in schema backend_team from public, anon, authenticated;
grant execute on function backend_team.submit_run(text, jsonb, jsonb) to authenticated;
grant execute on function backend_team.cancel_run(uuid) to authenticated;
grant execute on function backend_team.answer_clarification(uuid, jsonb) to authenticated;
grant execute on all functions in schema backend_team to service_role;
