-- Recovery at delivery (Phase 6, "integration failures are attributed"): when the merged result
-- fails integration validation, shared/recovery attributes the failure to the task(s) whose output
-- causes it (the failing statement's origin file, the failing pgTAP test's subject table) and
-- `recover_integration` redoes those tasks with the failure as context instead of failing the run:
-- the run goes back to executing, each attributed task is queued again (its accepted attempt is
-- marked invalid with the integration findings, its artifacts withdrawn), and completed tasks are
-- not redone. When recovery is exhausted (or the budget cannot pay for it), the tasks escalate and
-- the run waits in awaiting_clarification with typed questions: nothing a person could save is lost.

create or replace function backend_team.run_transition_allowed(from_status text, to_status text)
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
    -- delivering -> executing: an integration failure sends the tasks that caused it back to work.
    when 'delivering' then to_status in ('completed', 'executing', 'awaiting_clarification', 'failed', 'cancelled')
    else false
  end
$$;

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
    -- succeeded -> queued / escalated: the merged result failed at delivery because of this output.
    when 'succeeded' then to_status in ('queued', 'escalated')
    else false
  end
$$;

create function backend_team.recover_integration(p_run_id uuid, p_causes jsonb, p_decisions jsonb,
  p_clarification jsonb default null)
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_cause jsonb;
  v_task backend_team.tasks;
  v_msg bigint;
  v_findings jsonb;
begin
  perform 1 from backend_team.runs where id = p_run_id and status = 'delivering' for update;
  if not found then
    return;
  end if;
  if p_clarification is null then
    perform backend_team.transition_run(p_run_id, 'executing', '{}'::jsonb);
  else
    perform backend_team.transition_run(p_run_id, 'awaiting_clarification',
      jsonb_build_object('clarification', p_clarification));
  end if;
  for v_cause in select * from jsonb_array_elements(p_causes)
  loop
    select * into v_task from backend_team.tasks
     where run_id = p_run_id and key = v_cause ->> 'task' and status = 'succeeded' for update;
    continue when not found;
    v_findings := coalesce((select jsonb_agg(jsonb_build_object('rule', 'integration_failed',
                    'level', 'error', 'message', f ->> 'message', 'file', f ->> 'file'))
                    from jsonb_array_elements(v_cause -> 'findings') f), '[]'::jsonb);
    -- The accepted output was proven wrong together with the others: its retry learns from this.
    update backend_team.task_attempts
       set status = 'invalid',
           validation = jsonb_build_object('ok', false, 'stage', 'integration',
             'errors', jsonb_array_length(v_findings), 'warnings', 0, 'findings', v_findings,
             'task_validation', validation)
     where task_id = v_task.id and attempt = v_task.attempt;
    delete from backend_team.artifacts where task_id = v_task.id;
    perform backend_team.record_recovery_decision(v_task, p_decisions -> (v_cause ->> 'task'),
      case when p_clarification is null then v_task.key end);
    if p_clarification is null then
      v_msg := pgmq.send(backend_team.queue_of(v_task.agent),
        jsonb_build_object('task_id', v_task.id, 'run_id', p_run_id, 'retry_of', v_task.attempt));
      perform backend_team.transition_task(v_task.id, 'queued', jsonb_build_object('msg_id', v_msg,
        'error', jsonb_build_object('code', 'integration_failed',
          'message', 'the merged result failed integration validation because of this output')));
      return next v_task.agent;
    else
      perform backend_team.transition_task(v_task.id, 'escalated', jsonb_build_object(
        'error', jsonb_build_object('code', 'integration_failed',
          'message', 'the merged result still fails integration validation because of this output')));
    end if;
  end loop;
end;
$$;
comment on function backend_team.recover_integration(uuid, jsonb, jsonb, jsonb) is
  'After the merged result failed integration validation: queues the tasks it was attributed to again with the findings (run back to executing), or escalates them with typed questions (run to awaiting_clarification).';

revoke execute on function backend_team.recover_integration(uuid, jsonb, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function backend_team.recover_integration(uuid, jsonb, jsonb, jsonb) to service_role;
