-- Plans are contracts (Phase 6, scope 5): a plan checkpoint runs its validator suites on the run's
-- accumulated output when the task it follows has passed its own validation, before that task is
-- accepted and its dependents start; a consuming task's output is checked against the contracts it
-- consumes. Both run in the task worker (shared/checkpoints); their verdicts are stored with the
-- attempt (`validation.checkpoints`, `validation.contracts`) and announced here, in the transaction
-- that accepts the attempt or applies recovery's decision, as `checkpoint.passed` /
-- `checkpoint.failed` / `contract.passed` / `contract.failed` events on the run's channel.

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

revoke execute on function backend_team.announce_gate_results(uuid, integer, jsonb)
  from public, anon, authenticated;
grant execute on function backend_team.announce_gate_results(uuid, integer, jsonb) to service_role;
