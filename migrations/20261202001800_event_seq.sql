-- Events without a run-row update per event (issue 17). `append_event` used to allocate the next
-- seq with `update runs set last_seq = last_seq + 1, updated_at = now()`: a new version of the run's
-- row (and its WAL) for every event, nine or so per task.
--
-- Now the run's row is locked `for no key update` (a row lock, no new row version; a no-op when the
-- transaction already holds it, as every task and run transition does through lock_task /
-- transition_run) and the seq is `max(seq) + 1` from the `(run_id, seq)` primary key. The lock is
-- held to commit, so the run's event writers still run one at a time: seqs stay gapless, unique and
-- in commit order. `runs.last_seq` / `runs.updated_at` stay exact for every reader, written once per
-- transaction instead of once per event: a deferred constraint trigger on run_events brings them up
-- to date at commit, from the transaction's last event only.
--
-- lock_task takes the run's row `for no key update` instead of `for update`. It must stay an
-- exclusive lock taken before the task's: every task transition appends an event, and gapless seqs
-- in commit order need the run's writers serialised to commit; a shared lock upgraded at the append
-- would deadlock two task transitions of one run against each other. `for no key update` still
-- conflicts with transition_run's `for update` (one lock order, no lost cancellation) but no longer
-- with the key-share locks that inserts referencing the run take (task_attempts, artifacts,
-- recovery_decisions of the run, by other sessions).

create or replace function backend_team.append_event(p_run_id uuid, p_type text, p_body jsonb)
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
  select r.owner_id into v_owner from backend_team.runs r where r.id = p_run_id for no key update;
  if v_owner is null then
    raise exception 'run % not found', p_run_id using errcode = 'BT404';
  end if;
  -- A new statement: in read committed it sees every event committed before the lock was granted.
  select coalesce(max(e.seq), 0) + 1 into v_seq from backend_team.run_events e where e.run_id = p_run_id;
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
  'Appends the run''s next event (gapless seq under the run''s row lock, no run-row update) and broadcasts it on run:<id>, in the same transaction.';

-- At commit, once per transaction and run: the last event brings runs.last_seq and updated_at up
-- to date; the transaction's earlier events see a later one and do nothing.
create or replace function backend_team.sync_run_last_seq()
returns trigger
language plpgsql
-- Deferred, it fires at commit as whoever is the session's role then (an API user after
-- submit_run, a security definer function): it writes runs on the product's behalf.
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from backend_team.run_events e
              where e.run_id = new.run_id and e.seq > new.seq) then
    return null;
  end if;
  update backend_team.runs set last_seq = new.seq, updated_at = now()
   where id = new.run_id and last_seq < new.seq;
  return null;
end;
$$;
comment on function backend_team.sync_run_last_seq() is
  'Deferred trigger of run_events: sets runs.last_seq and updated_at from a transaction''s last event of the run, once per commit.';

revoke execute on function backend_team.sync_run_last_seq() from public, anon, authenticated;

drop trigger if exists sync_run_last_seq on backend_team.run_events;
create constraint trigger sync_run_last_seq
  after insert on backend_team.run_events
  deferrable initially deferred
  for each row execute function backend_team.sync_run_last_seq();
comment on trigger sync_run_last_seq on backend_team.run_events is
  'Keeps runs.last_seq / updated_at exact with one run-row update per transaction, not per event.';

create or replace function backend_team.lock_task(p_task_id uuid)
returns backend_team.tasks
language plpgsql
set search_path = ''
as $$
declare
  v_task backend_team.tasks;
begin
  perform 1 from backend_team.runs r
   where r.id = (select t.run_id from backend_team.tasks t where t.id = p_task_id)
     for no key update;
  select * into v_task from backend_team.tasks where id = p_task_id for update;
  return v_task;
end;
$$;
comment on function backend_team.lock_task(uuid) is
  'Locks a task''s run (for no key update: the run''s event writers one at a time), then the task (the one lock order), and returns the task (all nulls if missing).';

-- Functions that return the run's row after appending events return it with last_seq exact,
-- though the column itself is written at commit. Otherwise as in 20261125000200_state_machine.sql
-- and 20261202000100_request_limits.sql.
create or replace function backend_team.transition_run(p_run_id uuid, p_to text, p_patch jsonb default '{}'::jsonb)
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
  -- runs.last_seq catches up at commit (sync_run_last_seq); the row returned is exact now.
  v_run.last_seq := greatest(v_run.last_seq,
    (select coalesce(max(e.seq), 0) from backend_team.run_events e where e.run_id = p_run_id));
  return v_run;
end;
$$;
comment on function backend_team.transition_run(uuid, text, jsonb) is
  'Moves a run to a new status (patching complexity, strategy, understanding, plan, clarification, prompt_version, error, result), logs and broadcasts run.status.';

create or replace function backend_team.submit_run(p_request text, p_context jsonb default '{}'::jsonb,
  p_options jsonb default '{}'::jsonb)
returns backend_team.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid := auth.uid();
  v_run backend_team.runs;
  v_cap integer;
  v_in_flight integer;
begin
  if v_owner is null then
    raise exception 'a signed-in user is required' using errcode = 'BT401';
  end if;
  -- Under the user's row lock, so runs submitted at once (from any process) are counted in turn.
  insert into backend_team.request_limits (owner_id) values (v_owner)
  on conflict (owner_id) do nothing;
  select max_runs_in_flight into v_cap
    from backend_team.request_limits where owner_id = v_owner for update;
  select count(*) into v_in_flight from backend_team.runs
   where owner_id = v_owner and status not in ('completed', 'failed', 'cancelled');
  if v_in_flight >= v_cap then
    raise exception 'too many runs in flight: % of %', v_in_flight, v_cap
      using errcode = 'BTR29',
            detail = jsonb_build_object('limit', v_cap, 'in_flight', v_in_flight)::text;
  end if;
  insert into backend_team.runs (owner_id, request, context, options, token_budget)
  values (v_owner, p_request, coalesce(p_context, '{}'::jsonb), coalesce(p_options, '{}'::jsonb),
          coalesce((p_options ->> 'token_budget')::bigint, 200000))
  returning * into v_run;
  perform backend_team.append_event(v_run.id, 'run.status',
    jsonb_build_object('status', 'received', 'from', null, 'error', null));
  select * into v_run from backend_team.runs where id = v_run.id;
  -- runs.last_seq catches up at commit (sync_run_last_seq); the row returned is exact now.
  v_run.last_seq := greatest(v_run.last_seq,
    (select coalesce(max(e.seq), 0) from backend_team.run_events e where e.run_id = v_run.id));
  return v_run;
end;
$$;
comment on function backend_team.submit_run(text, jsonb, jsonb) is
  'Creates a run for the calling user in status received, unless they already have max_runs_in_flight runs in flight (BTR29).';
