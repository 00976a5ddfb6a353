-- Plans are contracts (Phase 6, scope 5): a plan checkpoint runs its validator suites on the run's
-- accumulated output when the task it follows has passed its own validation, before that task is
-- accepted and its dependents start; a consuming task's output is checked against the contracts it
-- consumes. Both run in the task worker (shared/checkpoints); their verdicts are stored with the
-- attempt (`validation.checkpoints`, `validation.contracts`) and announced here, in the transaction
-- that accepts the attempt or applies recovery's decision, as `checkpoint.passed` /
-- `checkpoint.failed` / `contract.passed` / `contract.failed` events on the run's channel.
--
-- A checkpoint failure attributed to an earlier task (the finding's file or table is that task's)
-- is recovered there: `recover_checkpoint` sends the earlier task back to work with the findings
-- (its accepted attempt marked invalid, its artifacts withdrawn, as `recover_integration` does at
-- delivery) and the gated task back to pending behind it, so it runs again on the corrected output.
-- Only when nothing else has built on the earlier task yet; otherwise the gated task carries the fix.

create or replace function backend_team.announce_gate_results(p_task_id uuid, p_attempt integer,
  p_events jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_event jsonb;
  v_count integer := 0;
begin
  -- A late or duplicate worker announces nothing: the attempt must still be the current one.
  if v_task.id is null or jsonb_typeof(p_events) is distinct from 'array' then
    return 0;
  end if;
  for v_event in select * from jsonb_array_elements(p_events) limit 60
  loop
    continue when v_event ->> 'type' not in
      ('checkpoint.passed', 'checkpoint.failed', 'contract.passed', 'contract.failed')
      or jsonb_typeof(v_event -> 'body') is distinct from 'object';
    perform backend_team.append_event(v_task.run_id, v_event ->> 'type',
      (v_event -> 'body') || jsonb_build_object('task_id', v_task.id, 'task', v_task.key,
                                                'attempt', v_task.attempt));
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function backend_team.announce_gate_results(uuid, integer, jsonb) is
  'Announces the checkpoint and contract verdicts of a task''s current attempt on the run''s channel (checkpoint.passed/failed, contract.passed/failed); nothing when the attempt is no longer current.';

create or replace function backend_team.recover_checkpoint(p_task_id uuid, p_attempt integer,
  p_result jsonb, p_cause text, p_findings jsonb, p_decision jsonb)
returns table (applied boolean, outcome text, wake text[])
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks := backend_team.current_attempt(p_task_id, p_attempt);
  v_cause backend_team.tasks;
  v_msg bigint;
  v_error jsonb;
begin
  if v_task.id is null then
    return query select false, null::text, '{}'::text[];
    return;
  end if;
  select * into v_cause from backend_team.tasks
   where run_id = v_task.run_id and key = p_cause and status = 'succeeded' for update;
  -- Only an accepted direct dependency that nothing else has built on yet is sent back.
  if not found or not (p_cause = any(v_task.depends_on)) or exists (
       select 1 from backend_team.tasks d
        where d.run_id = v_task.run_id and d.id <> v_task.id and p_cause = any(d.depends_on)
          and d.status not in ('pending', 'cancelled')) then
    return query select false, 'not_applicable'::text, '{}'::text[];
    return;
  end if;
  v_error := jsonb_build_object('code', 'checkpoint_failed',
    'message', left(coalesce(p_result -> 'error' ->> 'message', 'a checkpoint failed'), 1000));
  if v_task.msg_id is not null then
    perform pgmq.archive(backend_team.queue_of(v_task.agent), v_task.msg_id);
  end if;
  if v_task.status = 'running' then
    perform backend_team.transition_task(p_task_id, 'validating', '{}'::jsonb);
  end if;
  -- The gated task's output stood on the earlier one: withdrawn, it runs again after it.
  perform backend_team.record_attempt(v_task, 'invalid', p_result);
  perform backend_team.transition_task(p_task_id, 'pending', jsonb_build_object(
    'validation', p_result -> 'validation', 'error', v_error));
  -- The earlier task's accepted output was proven wrong: its retry learns from the findings.
  update backend_team.task_attempts
     set status = 'invalid',
         validation = jsonb_build_object('ok', false, 'stage', 'checkpoint',
           'errors', jsonb_array_length(coalesce(p_findings, '[]'::jsonb)), 'warnings', 0,
           'findings', coalesce(p_findings, '[]'::jsonb), 'task_validation', validation)
   where task_id = v_cause.id and attempt = v_cause.attempt;
  delete from backend_team.artifacts where task_id = v_cause.id;
  v_msg := pgmq.send(backend_team.queue_of(v_cause.agent),
    jsonb_build_object('task_id', v_cause.id, 'run_id', v_cause.run_id, 'retry_of', v_cause.attempt));
  perform backend_team.transition_task(v_cause.id, 'queued', jsonb_build_object('msg_id', v_msg,
    'error', jsonb_build_object('code', 'checkpoint_failed',
      'message', format('a checkpoint after %s failed because of this output', v_task.key))));
  update backend_team.tasks t
     set remaining_deps = (select count(*) from backend_team.tasks d
                            where d.run_id = t.run_id and d.key = any(t.depends_on)
                              and not backend_team.task_is_done(d.status, d.error)),
         updated_at = now()
   where t.run_id = v_task.run_id and t.status = 'pending';
  perform backend_team.record_recovery_decision(v_cause, p_decision, v_cause.key);
  return query select true, 'retrying_cause'::text, array[v_cause.agent];
end;
$$;
comment on function backend_team.recover_checkpoint(uuid, integer, jsonb, text, jsonb, jsonb) is
  'After a checkpoint failed because of an earlier task''s accepted output: that task is queued again with the findings and the gated task waits behind it (pending); not applicable (applied false) when other tasks already built on it.';

revoke execute on function backend_team.recover_checkpoint(uuid, integer, jsonb, text, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function backend_team.recover_checkpoint(uuid, integer, jsonb, text, jsonb, jsonb)
  to service_role;
revoke execute on function backend_team.announce_gate_results(uuid, integer, jsonb)
  from public, anon, authenticated;
grant execute on function backend_team.announce_gate_results(uuid, integer, jsonb) to service_role;
