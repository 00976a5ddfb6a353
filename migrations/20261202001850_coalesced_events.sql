-- Fewer events per task (issue 17): what a finished attempt used to log as events of its own
-- (`task.attempt`, `validation.report`, one `artifact.created` per file) rides on the `task.status`
-- event the same transaction logs anyway (succeeded, retrying, failed, pending, escalated):
-- `usage` {attempt, status, prompt_tokens, completion_tokens, cost_usd, duration_ms}, `validation`
-- {ok, errors, warnings} and `artifacts` [{artifact_id, kind, path}]. Nothing a client saw is gone;
-- a docs-only task logs 5 events instead of 8. Events stored before keep their types (clients
-- still read them). Delivery's run-level artifacts keep `artifact.created` (task_id null).
--
-- The extras wait in a transaction-local setting, keyed by task, until transition_task takes them;
-- every caller of record_attempt / accept_output transitions the same task in its transaction.

create or replace function backend_team.add_task_event_extras(p_task_id uuid, p_extras jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_all jsonb := coalesce(nullif(current_setting('backend_team.task_event_extras', true), '')::jsonb,
                          '{}'::jsonb);
begin
  v_all := jsonb_set(v_all, array[p_task_id::text],
    coalesce(v_all -> p_task_id::text, '{}'::jsonb) || coalesce(p_extras, '{}'::jsonb));
  perform set_config('backend_team.task_event_extras', v_all::text, true);
end;
$$;
comment on function backend_team.add_task_event_extras(uuid, jsonb) is
  'Holds fields for the task''s next task.status event in this transaction (usage, validation, artifacts).';

create or replace function backend_team.take_task_event_extras(p_task_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_all jsonb := nullif(current_setting('backend_team.task_event_extras', true), '')::jsonb;
  v_mine jsonb := v_all -> p_task_id::text;
begin
  if v_mine is null then
    return '{}'::jsonb;
  end if;
  perform set_config('backend_team.task_event_extras', (v_all - p_task_id::text)::text, true);
  return v_mine;
end;
$$;
comment on function backend_team.take_task_event_extras(uuid) is
  'The fields held for the task''s task.status event (and forgets them); {} when none.';

revoke execute on function backend_team.add_task_event_extras(uuid, jsonb) from public, anon, authenticated;
revoke execute on function backend_team.take_task_event_extras(uuid) from public, anon, authenticated;
grant execute on function backend_team.add_task_event_extras(uuid, jsonb) to service_role;
grant execute on function backend_team.take_task_event_extras(uuid) to service_role;

create or replace function backend_team.record_attempt(p_task backend_team.tasks, p_status text,
  p_result jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_prompt bigint := coalesce((p_result ->> 'prompt_tokens')::bigint, 0);
  v_completion bigint := coalesce((p_result ->> 'completion_tokens')::bigint, 0);
  v_cost numeric := case
    when p_result ? 'cost_usd' then (p_result ->> 'cost_usd')::numeric(14, 6)
    when coalesce((p_result ->> 'prompt_tokens')::bigint, 0)
       + coalesce((p_result ->> 'completion_tokens')::bigint, 0) = 0 then 0
  end;
begin
  update backend_team.task_attempts set
    status = p_status,
    prompt_tokens = v_prompt,
    completion_tokens = v_completion,
    cost_usd = v_cost,
    context_tokens = (p_result ->> 'context_tokens')::bigint,
    context_tokens_uncompressed = (p_result ->> 'context_tokens_uncompressed')::bigint,
    duration_ms = (p_result ->> 'duration_ms')::bigint,
    llm_ms = (p_result ->> 'llm_ms')::bigint,
    output = p_result -> 'output',
    validation = p_result -> 'validation',
    error = p_result -> 'error',
    finished_at = now()
  where task_id = p_task.id and attempt = p_task.attempt;
  -- Carried by the task.status event the same transaction logs next (transition_task).
  perform backend_team.add_task_event_extras(p_task.id, jsonb_build_object(
    'usage', jsonb_build_object(
      'attempt', p_task.attempt, 'status', p_status,
      'prompt_tokens', v_prompt, 'completion_tokens', v_completion, 'cost_usd', v_cost,
      'duration_ms', (p_result ->> 'duration_ms')::bigint))
    || case when p_result ? 'validation' and jsonb_typeof(p_result -> 'validation') = 'object' then
         jsonb_build_object('validation', jsonb_build_object(
           'ok', coalesce((p_result -> 'validation' ->> 'ok')::boolean, true),
           'errors', coalesce((p_result -> 'validation' ->> 'errors')::integer, 0),
           'warnings', coalesce((p_result -> 'validation' ->> 'warnings')::integer, 0)))
       else '{}'::jsonb end);
end;
$$;
comment on function backend_team.record_attempt(backend_team.tasks, text, jsonb) is
  'Stores a finished attempt''s tokens, cost, duration, output and validation; the task.status event of the same transaction carries them (usage, validation).';

create or replace function backend_team.accept_output(p_task backend_team.tasks, p_result jsonb, p_error jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_artifact record;
  v_artifacts jsonb := '[]'::jsonb;
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
    v_artifacts := v_artifacts || jsonb_build_array(jsonb_build_object(
      'artifact_id', v_artifact.id, 'kind', v_artifact.kind, 'path', v_artifact.path));
  end loop;
  -- The task.status succeeded event below lists them (no artifact.created per file).
  perform backend_team.add_task_event_extras(p_task.id, jsonb_build_object('artifacts', v_artifacts));
  perform backend_team.transition_task(p_task.id, 'succeeded', jsonb_build_object(
    'output', p_result -> 'output', 'validation', p_result -> 'validation', 'error', p_error));
  update backend_team.tasks
     set remaining_deps = remaining_deps - 1, updated_at = now()
   where run_id = p_task.run_id and status = 'pending' and p_task.key = any(depends_on);
end;
$$;
comment on function backend_team.accept_output(backend_team.tasks, jsonb, jsonb) is
  'Keeps a task''s output as it is (a handoff to a specialist): stores its artifacts, succeeds the task, releases dependents.';

create or replace function backend_team.transition_task(p_task_id uuid, p_to text, p_patch jsonb default '{}'::jsonb)
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
    'error', case when v_patch ? 'error' then v_patch -> 'error' else null end)
    || backend_team.take_task_event_extras(v_task.id));
  return v_task;
end;
$$;
comment on function backend_team.transition_task(uuid, text, jsonb) is
  'Moves a task to a new status (running starts the next attempt), logs and broadcasts task.status (with the finished attempt''s usage, validation and artifacts when the transaction recorded them).';
